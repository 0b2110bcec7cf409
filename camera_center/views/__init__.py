"""Saved wall views: a user's own layouts, filters and camera lists."""
