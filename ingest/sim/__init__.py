"""The camera simulator: pre-encoded scenes served over a real RTSP server (GStreamer),
with scripted incidents and injectable faults, for the demo, the tests and the benchmarks."""
