"""WS-Discovery: find ONVIF devices with a SOAP Probe over UDP.

Multicast reaches the local segment only (routers do not forward it), so unicast
probes to a list or range of addresses cover cameras behind a router. Answers are
parsed tolerantly: real devices omit the ``ProbeMatches`` wrapper, put spaces in
scope values, or mix SOAP versions, and one odd answer must not hide the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from lxml import etree

MULTICAST_GROUP = "239.255.255.250"
WS_DISCOVERY_PORT = 3702
MAX_TARGETS = 1024  # a /22: enough for a site, small enough to stay polite

_PROBE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
    ' xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
    ' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"'
    ' xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
    "<s:Header>"
    "<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>"
    "<a:MessageID>{message_id}</a:MessageID>"
    "<a:ReplyTo><a:Address>"
    "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
    "</a:Address></a:ReplyTo>"
    "<a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>"
    "</s:Header>"
    "<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body>"
    "</s:Envelope>"
)

_PARSER = etree.XMLParser(recover=True, resolve_entities=False, no_network=True,
                          huge_tree=False, remove_comments=True)


class TargetError(ValueError):
    """A unicast target that is not an IPv4 address, range or network."""


@dataclass(frozen=True)
class ProbeMatch:
    """One device's answer to a Probe."""

    address: str  # where the answer came from
    endpoint: str | None
    xaddrs: list[str]
    scopes: list[str]
    types: list[str]
    name: str | None = None
    location: str | None = None
    hardware: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def device_url(self) -> str | None:
        """The XAddr to use: one on the answering address if offered, else the first."""
        for url in self.xaddrs:
            if urlsplit(url).hostname == self.address:
                return url
        return self.xaddrs[0] if self.xaddrs else None


def build_probe(message_id: str) -> bytes:
    return _PROBE.format(message_id=message_id).encode("utf-8")


def _local(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _child_text(parent: etree._Element, name: str) -> str:
    for el in parent.iter():
        if _local(el) == name:
            return " ".join("".join(el.itertext()).split())
    return ""


def _split_scopes(text: str) -> list[str]:
    """Scopes are space-separated URIs; a word without a scheme continues the one before
    (devices put raw spaces in names such as ``onvif://www.onvif.org/name/Gate Cam``)."""
    scopes: list[str] = []
    for word in text.split():
        if "://" in word or not scopes:
            scopes.append(word)
        else:
            scopes[-1] += " " + word
    return scopes


def decode_scopes(scopes: Iterable[str]) -> dict[str, str]:
    """name / location / hardware (and other onvif:// scope kinds) in readable form."""
    found: dict[str, list[str]] = {}
    for scope in scopes:
        prefix = "onvif://www.onvif.org/"
        if not scope.lower().startswith(prefix):
            continue
        parts = [unquote(p).replace("_", " ").strip() for p in scope[len(prefix):].split("/")]
        parts = [p for p in parts if p]
        if len(parts) >= 2:
            found.setdefault(parts[0].lower(), []).append("/".join(parts[1:]))
    return {kind: ", ".join(dict.fromkeys(values)) for kind, values in found.items()}


def parse_probe_matches(data: bytes, address: str,
                        relates_to: str | None = None) -> list[ProbeMatch]:
    """The ProbeMatch entries in one datagram; an unparsable datagram gives none.

    With *relates_to*, an answer that names a different probe is dropped (another
    client's conversation); an answer that names none is kept.
    """
    try:
        root = etree.fromstring(data, parser=_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return []
    if root is None:
        return []
    if relates_to is not None:
        answered = _child_text(root, "RelatesTo")
        if answered and answered != relates_to:
            return []
    matches = []
    for el in root.iter():
        if _local(el) != "ProbeMatch":  # with or without the ProbeMatches wrapper
            continue
        scopes = _split_scopes(_child_text(el, "Scopes"))
        decoded = decode_scopes(scopes)
        xaddrs = [u for u in _child_text(el, "XAddrs").split()
                  if u.lower().startswith(("http://", "https://"))]
        endpoint = None
        for ref in el.iter():
            if _local(ref) == "EndpointReference":
                endpoint = _child_text(ref, "Address") or None
                break
        matches.append(ProbeMatch(
            address=address, endpoint=endpoint, xaddrs=xaddrs, scopes=scopes,
            types=_child_text(el, "Types").split(),
            name=decoded.pop("name", None), location=decoded.pop("location", None),
            hardware=decoded.pop("hardware", None), extra=decoded))
    return matches


def expand_targets(specs: Sequence[str], limit: int = MAX_TARGETS) -> list[str]:
    """IPv4 addresses from ``10.0.0.5``, ``10.0.0.0/28``, ``10.0.0.5-10.0.0.20`` or
    ``10.0.0.5-20``; raises :class:`TargetError` on anything else or past *limit*."""
    out: dict[str, None] = {}
    for raw in specs:
        spec = raw.strip()
        try:
            if "/" in spec:
                net = ipaddress.IPv4Network(spec, strict=False)
                if len(out) + net.num_addresses - 2 > limit:  # before listing a /8
                    raise TargetError(f"more than {limit} addresses to probe")
                hosts = list(net.hosts()) if net.num_addresses > 2 else list(net)
                out.update((str(h), None) for h in hosts)
                continue
            if "-" in spec:
                first_s, last_s = (p.strip() for p in spec.split("-", 1))
                first = ipaddress.IPv4Address(first_s)
                last = (ipaddress.IPv4Address(f"{first_s.rsplit('.', 1)[0]}.{last_s}")
                        if last_s.isdigit() else ipaddress.IPv4Address(last_s))
                if last < first:
                    raise TargetError(f"range '{spec}' ends before it starts")
                if len(out) + int(last) - int(first) + 1 > limit:
                    raise TargetError(f"more than {limit} addresses to probe")
                out.update((str(ipaddress.IPv4Address(i)), None)
                           for i in range(int(first), int(last) + 1))
                continue
            out[str(ipaddress.IPv4Address(spec))] = None
        except ipaddress.AddressValueError as exc:
            raise TargetError(f"'{spec[:60]}' is not an IPv4 address, range or network") \
                from exc
        except ValueError as exc:
            if isinstance(exc, TargetError):
                raise
            raise TargetError(f"'{spec[:60]}' is not an IPv4 address, range or network") \
                from exc
        if len(out) > limit:
            raise TargetError(f"more than {limit} addresses to probe")
    return list(out)


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, message_id: str, max_devices: int) -> None:
        self.message_id = message_id
        self.max_devices = max_devices
        self.found: dict[str, ProbeMatch] = {}
        self.full = asyncio.Event()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        for match in parse_probe_matches(data[:65536], addr[0], self.message_id):
            key = match.endpoint or match.device_url or match.address
            self.found.setdefault(key, match)
            if len(self.found) >= self.max_devices:
                self.full.set()

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP port unreachable from a probed host without a camera: expected


async def discover(*, multicast: bool = True, targets: Sequence[str] = (),
                   timeout_s: float = 2.0, max_devices: int = 256,
                   interface: str | None = None, port: int = WS_DISCOVERY_PORT) -> list[ProbeMatch]:
    """Probe and collect answers for *timeout_s* (or until *max_devices* answered).

    *targets* are already-expanded IPv4 addresses (see :func:`expand_targets`).
    *interface* is a local IPv4 address: the socket binds to it and multicast leaves
    through it (the default route's interface otherwise), with TTL 1.
    """
    loop = asyncio.get_running_loop()
    message_id = f"urn:uuid:{uuid.uuid4()}"
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setblocking(False)
        sock.bind((interface or "0.0.0.0", 0))  # noqa: S104  (answers come from any host)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        if interface:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                            socket.inet_aton(interface))
    except OSError:
        sock.close()
        raise
    transport, collector = await loop.create_datagram_endpoint(
        lambda: _Collector(message_id, max_devices), sock=sock)
    probe = build_probe(message_id)
    deadline = time.monotonic() + timeout_s
    try:
        destinations = ([MULTICAST_GROUP] if multicast else []) + list(targets)
        for i, host in enumerate(destinations):
            with contextlib.suppress(OSError):  # one unroutable target must not stop the rest
                transport.sendto(probe, (host, port))
            if i % 64 == 63:  # pace large ranges instead of bursting them
                await asyncio.sleep(0.01)
        if multicast:  # UDP may drop the first probe; WS-Discovery repeats it
            await asyncio.sleep(min(0.2, timeout_s / 4))
            with contextlib.suppress(OSError):
                transport.sendto(probe, (MULTICAST_GROUP, port))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(collector.full.wait(),
                                   max(0.0, deadline - time.monotonic()))
    finally:
        transport.close()
    return list(collector.found.values())[:max_devices]
