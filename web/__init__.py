"""What people see: the console's pages, scripts and styles (``static/``), as data.

No Python logic lives here; :mod:`camera_center.console` serves these files.
"""
