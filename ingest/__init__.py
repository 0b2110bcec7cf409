"""Getting video in: RTSP readers, their supervisor, ONVIF and the camera simulator.

Nothing here knows about HTTP or the database.
"""
