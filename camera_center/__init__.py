"""camera-center: the control-center server (settings, storage, registry, auth, API)."""

__version__ = "0.1.0"
