"""What can go wrong talking to an ONVIF device, in words an administrator can act on.

Messages name the host and port, never the credentials.
"""

from __future__ import annotations


class OnvifError(Exception):
    """Base class; ``str()`` is safe to show to a user."""


class DeviceUnreachable(OnvifError):
    """No answer in time, connection refused, no route."""


class AuthenticationFailed(OnvifError):
    """The device rejected the username or password."""


class NotOnvifDevice(OnvifError):
    """Something answered, but not with SOAP: a web server, a printer, another service."""


class MalformedAnswer(OnvifError):
    """The device speaks SOAP but its answer cannot be used."""


class DeviceFault(OnvifError):
    """The device understood and refused (a SOAP fault other than authentication)."""


class NotSupported(OnvifError):
    """The device does not offer what was asked (no PTZ service, no such move)."""
