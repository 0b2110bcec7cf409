"""Talking to one ONVIF device: the connection, the clock offset, one SOAP call at a time.

Requests are built and signed by onvif-zeep-async (zeep + WS-UsernameToken with the
camera's clock offset, PasswordDigest). Answers are read with a forgiving lxml parser
by local element names, because real devices (ipycam among them) send prefixes they
never declare or fields zeep's strict schema rejects. Every failure ends as one of
the errors in :mod:`ingest.onvif.errors`, never as a raw library exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import zeep.exceptions
from lxml import etree

from ingest.onvif.errors import (
    AuthenticationFailed,
    DeviceFault,
    DeviceUnreachable,
    MalformedAnswer,
    NotOnvifDevice,
    NotSupported,
    OnvifError,
)

_root_handlers, _root_level = list(logging.getLogger().handlers), logging.getLogger().level
from onvif import ONVIFCamera  # noqa: E402  (its import calls logging.basicConfig)
from onvif.definition import SERVICES  # noqa: E402
from onvif.exceptions import ONVIFError, ONVIFTimeoutError  # noqa: E402

# onvif.client runs logging.basicConfig() on import; keep the app's own logging setup.
for _h in list(logging.getLogger().handlers):
    if _h not in _root_handlers:
        logging.getLogger().removeHandler(_h)
logging.getLogger().setLevel(_root_level)

DEFAULT_TIMEOUT_S = 5.0
_PARSER = etree.XMLParser(recover=True, resolve_entities=False, no_network=True,
                          remove_comments=True)
# GetCapabilities category element -> onvif-zeep-async service name
_CATEGORIES = {"Device": "devicemgmt", "Media": "media", "PTZ": "ptz", "Events": "events",
               "Imaging": "imaging", "Analytics": "analytics"}


def local(el: Any) -> str:
    tag = getattr(el, "tag", None)
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def find(el: Any, *path: str) -> Any:
    """The first descendant along *path* (local names, any depth per step), or None."""
    for name in path:
        if el is None:
            return None
        el = next((c for c in el.iter() if c is not el and local(c) == name), None)
    return el


def text(el: Any, *path: str) -> str | None:
    node = find(el, *path) if path else el
    if node is None:
        return None
    value = " ".join("".join(node.itertext()).split())
    return value or None


def number(el: Any, *path: str) -> float | None:
    try:
        value = text(el, *path)
        return float(value) if value is not None else None
    except ValueError:
        return None


def _auth_like(reason: str, codes: list[str]) -> bool:
    words = (reason + " " + " ".join(codes)).lower()
    return "notauthorized" in words or "authori" in words or "authenticat" in words \
        or "failedauthentication" in words


class _Camera(ONVIFCamera):  # type: ignore[misc]  # onvif-zeep-async has no type hints
    """ONVIFCamera whose HTTP sessions answer an HTTP Digest challenge when a device
    asks for one (on top of WS-Security), as many cameras do."""

    async def create_onvif_service(self, name: str, port_type: str | None = None,
                                   read_timeout: int | None = None,
                                   write_timeout: int | None = None) -> Any:
        service = await super().create_onvif_service(name, port_type, read_timeout,
                                                     write_timeout)
        if self.user and self.passwd and not getattr(service, "_cc_digest", False):
            old = service._session
            session = aiohttp.ClientSession(
                connector=old.detach() or service._connector, timeout=old.timeout,
                middlewares=(aiohttp.DigestAuthMiddleware(self.user, self.passwd),))
            service._session = session
            service.transport.session = session
            service._cc_digest = True
        return service


class OnvifDevice:
    """One conversation with a device. Use ``async with``; safe to call from one task."""

    def __init__(self, host: str, port: int, username: str | None, password: str | None,
                 *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.host = host
        self.port = port
        self.username = username or None
        self.password = password or None
        self.timeout_s = timeout_s
        self.clock_offset_s = 0.0
        self.capabilities: Any = None
        self._cam = _Camera(host, port, self.username, self.password, no_cache=True,
                            adjust_time=False)
        self._connected = False

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def device_url(self) -> str:
        return f"http://{self.host}:{self.port}/onvif/device_service"

    async def __aenter__(self) -> OnvifDevice:
        try:
            await self.connect()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        with contextlib.suppress(Exception):  # closing must never hide the real outcome
            await self._cam.close()

    async def connect(self, service_urls: dict[str, str] | None = None) -> None:
        """GetSystemDateAndTime (unauthenticated, as ONVIF allows; with credentials if the
        device insists) for the clock offset, then GetCapabilities for the service URLs
        (skipped when *service_urls* from an earlier inspection are given)."""
        try:
            reply = await self.call("devicemgmt", "GetSystemDateAndTime", _stage="connect",
                                    _authless=True)
        except AuthenticationFailed:
            if not self.username:
                raise
            reply = await self.call("devicemgmt", "GetSystemDateAndTime", _stage="connect")
        self.clock_offset_s = self._offset(reply)
        if abs(self.clock_offset_s) > 1.0:
            # Services capture the offset when created: rebuild with the camera's time.
            self._cam.dt_diff = dt.timedelta(seconds=self.clock_offset_s)
            for key, service in list(self._cam.services.items()):
                await service.close()
                del self._cam.services[key]
        if service_urls:
            self._set_xaddrs(service_urls)
        else:
            caps = await self.call("devicemgmt", "GetCapabilities", Category="All",
                                   _stage="connect")
            self.capabilities = caps
            urls = {}
            for category, service in _CATEGORIES.items():
                url = text(caps, category, "XAddr")
                if url:
                    urls[service] = self._fix_host(url)
            if "media" not in urls:
                raise NotOnvifDevice(f"{self.where} answers ONVIF but offers no media "
                                     "service (not a camera or encoder).")
            self._set_xaddrs(urls)
        self._connected = True

    def service_urls(self) -> dict[str, str]:
        return {name: self._cam.xaddrs[SERVICES[name]["ns"]] for name in SERVICES
                if SERVICES[name]["ns"] in self._cam.xaddrs}

    def _set_xaddrs(self, urls: dict[str, str]) -> None:
        for name, url in urls.items():
            if name in SERVICES:
                self._cam.xaddrs[SERVICES[name]["ns"]] = url

    def _fix_host(self, url: str) -> str:
        """Devices behind NAT or misconfigured advertise 127.0.0.1/0.0.0.0 or a bare path:
        use the address we reached them at."""
        parts = urlsplit(url)
        if parts.hostname in (None, "", "127.0.0.1", "0.0.0.0", "localhost"):  # noqa: S104
            netloc = f"{self.host}:{parts.port}" if parts.port else self.host
            return urlunsplit((parts.scheme or "http", netloc, parts.path, parts.query, ""))
        return url

    @staticmethod
    def _offset(reply: Any) -> float:
        utc = find(reply, "UTCDateTime")
        try:
            year, month, day, hour, minute, second = (
                int(float(text(utc, n) or "")) for n in
                ("Year", "Month", "Day", "Hour", "Minute", "Second"))
            cam = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
        except (ValueError, TypeError):
            return 0.0  # no usable clock: sign with ours and hope it is close
        return (cam - dt.datetime.now(dt.UTC)).total_seconds()

    # -- one SOAP call -----------------------------------------------------------------

    async def call(self, service_name: str, operation: str, *, _stage: str = "call",
                   _authless: bool = False, **params: Any) -> Any:
        """Send *operation* to *service_name* and return the answer's element (the Body's
        first child), or raise an :class:`OnvifError`."""
        try:
            async with asyncio.timeout(self.timeout_s):
                try:
                    service = await self._cam.create_onvif_service(service_name)
                except ONVIFError as exc:
                    if "support service" in str(exc):
                        raise NotSupported(f"{self.where} offers no {service_name} "
                                           "service.") from None
                    raise
                plain = _authless or not self.username  # an open device: no UsernameToken
                client = service.zeep_client_authless if plain else service.zeep_client
                proxy = service.ws_client_authless if plain else service.ws_client
                with client.settings(raw_response=True):
                    reply = await getattr(proxy, operation)(**params)
                status, content = reply.status_code, reply.content or b""
        except OnvifError:
            raise
        except Exception as exc:
            raise self._classify(exc, _stage) from None
        return self._read(status, content, operation, _stage)

    def _read(self, status: int, content: bytes, operation: str, stage: str) -> Any:
        root = None
        if content.strip():
            try:
                root = etree.fromstring(content[:4_000_000], parser=_PARSER)
            except (etree.XMLSyntaxError, ValueError):
                root = None
        envelope = root is not None and local(root) == "Envelope"
        if not envelope:
            if status in (401, 403):
                raise AuthenticationFailed(f"Authentication failed: {self.where} rejected "
                                           "the username or password.")
            if stage == "connect" and b"Envelope" not in content[:4096]:
                raise NotOnvifDevice(f"{self.where} is not an ONVIF device (it answered "
                                     f"HTTP {status} without SOAP).")
            raise MalformedAnswer(f"{self.where} sent a malformed answer to {operation}.")
        fault = find(root, "Fault")
        if fault is not None:
            reason = text(fault, "Reason") or text(fault, "faultstring") or "no reason given"
            codes = [text(v) or "" for v in fault.iter() if local(v) == "Value"]
            if status in (401, 403) or _auth_like(reason, codes):
                raise AuthenticationFailed(f"Authentication failed: {self.where} rejected "
                                           "the username or password.")
            raise DeviceFault(f"{self.where} refused {operation}: {reason[:200]}")
        body = find(root, "Body")
        answer = next((c for c in body.iterchildren() if isinstance(c.tag, str)), None) \
            if body is not None else None
        if status >= 400 or answer is None:
            if status in (401, 403):
                raise AuthenticationFailed(f"Authentication failed: {self.where} rejected "
                                           "the username or password.")
            raise MalformedAnswer(f"{self.where} sent a malformed or empty answer to "
                                  f"{operation} (HTTP {status}).")
        return answer

    def _classify(self, exc: BaseException, stage: str) -> OnvifError:
        cause: BaseException | None = exc
        while isinstance(cause, ONVIFError) and cause.__cause__ is not None \
                and not isinstance(cause, ONVIFTimeoutError):
            cause = cause.__cause__
        if isinstance(cause, TimeoutError | ONVIFTimeoutError | aiohttp.ServerTimeoutError):
            return DeviceUnreachable(f"{self.where} did not answer within "
                                     f"{self.timeout_s:g} s.")
        if isinstance(cause, aiohttp.ClientConnectorError | ConnectionError | OSError):
            err = getattr(cause, "os_error", cause)
            code: int | None = getattr(err, "errno", None)
            why = os.strerror(code) if code else "no connection"
            return DeviceUnreachable(f"Cannot reach {self.where}: {why.lower()}.")
        if isinstance(cause, zeep.exceptions.TransportError):
            if cause.status_code in (401, 403):
                return AuthenticationFailed(f"Authentication failed: {self.where} rejected "
                                            "the username or password.")
            if stage == "connect":
                return NotOnvifDevice(f"{self.where} is not an ONVIF device (HTTP "
                                      f"{cause.status_code}).")
        if isinstance(cause, aiohttp.ClientError) and stage == "connect":
            return NotOnvifDevice(f"{self.where} is not an ONVIF device (it does not speak "
                                  "HTTP as expected).")
        return MalformedAnswer(f"{self.where} sent an answer that cannot be used "
                               f"({type(cause).__name__}).")
