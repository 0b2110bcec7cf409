"""The camera simulator: pre-encoded scenes served over RTSP (a real RTSP/RTP server that
FFmpeg-based clients read), with scripted incidents and injectable faults, for the demo,
the tests and the benchmarks."""
