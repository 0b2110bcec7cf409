"""Recording on the server side: the segment index, evidence holds, retention, playback
and signed exports. The writing itself happens in ingest (``ingest/recorder.py``)."""
