"""Frames in, detections out: motion, objects, tracking, zones.

Nothing here knows about HTTP or the database.
"""
