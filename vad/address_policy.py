"""Where the service may connect: one outbound address policy for cameras and webhooks.

A camera or webhook URL is typed by an admin, but the connection is made from inside the
deployment, next to PostgreSQL, Redis, Kafka, the API and, in a cloud, the instance metadata
service. So the check is made on the address actually connected to, after name resolution
(`localhost`, `2130706433`, `[::ffff:169.254.169.254]` all resolve to what they are), and the
socket is connected to exactly the address that was checked (no second lookup that a DNS
rebinding could answer differently).

Link-local and metadata addresses are denied always; loopback and private ranges per setting
(cameras live on private LANs, webhook receivers usually do not); an operator allowlist opens
loopback or private networks (never link-local or metadata); the service's own ports on this
machine are denied to cameras whatever the allowlist says.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pydantic import Field

from vad.section import Section


class SecurityConfig(Section):
    """Secrets at rest, the outbound address policy and per-request limits (docs/operations.md,
    "Security")."""

    key_file: Path | None = Field(
        None,
        description=(
            "Fernet key that encrypts camera credentials and webhook secrets in the database; "
            "created (mode 0600) on first start. Unset = <data_dir>/secret.key. Back it up: "
            "without it stored camera passwords and webhook secrets cannot be read."
        ),
    )
    allowlist: list[str] = Field(
        default_factory=list,
        description=(
            "Networks (CIDR) cameras and webhooks may reach even where their policy denies "
            'loopback or private addresses, e.g. ["127.0.0.1/32"] for a local RTSP relay. '
            "Link-local and cloud metadata addresses stay denied."
        ),
    )
    camera_allow_private: bool = Field(True, description="Cameras may be on private LANs.")
    camera_allow_loopback: bool = Field(
        False, description="Cameras may be on this machine (the service's own ports never)."
    )
    webhook_allow_private: bool = Field(False, description="Webhooks may POST to private LANs.")
    webhook_allow_loopback: bool = Field(False, description="Webhooks may POST to this machine.")
    media_dir: Path | None = Field(
        None,
        description="File cameras must be video files under this folder; unset = no file cameras.",
    )
    max_body_bytes: int = Field(1_000_000, ge=1024, description="Largest API request body.")
    max_clip_seconds: float = Field(
        300.0, gt=0, description="Longest clip export (incident plus padding), in seconds."
    )
    clip_concurrency: int = Field(2, ge=1, description="Clip exports encoded at once per API.")
    search_per_minute: int = Field(
        30, ge=1, description="GET /search requests per minute per token (429 beyond)."
    )
    auth_failures_per_minute: int = Field(
        20, ge=1, description="Failed token checks per minute per client address (429 beyond)."
    )
    token_ttl_days: float | None = Field(
        None, gt=0, description="New tokens expire after this many days; unset = never."
    )


class PolicySettings(Protocol):
    """What the policies read from the one settings object: the security section and this
    service's own listeners (structural, so the pure core names no application settings)."""

    security: SecurityConfig
    api_port: int
    embedded_kafka_port: int
    embedded_redis_port: int
    database_url: str | None
    celery_broker: str | None
    kafka_bootstrap: str | None


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud metadata endpoints outside 169.254.0.0/16 (AWS IPv6, Alibaba, Oracle's legacy one).
METADATA = tuple(
    ipaddress.ip_network(n) for n in ("fd00:ec2::254/128", "100.100.100.200/32", "192.0.0.192/32")
)
# Private ranges beyond `is_private`'s loopback/link-local: carrier-grade NAT is a LAN too.
SHARED = ipaddress.ip_network("100.64.0.0/10")


class AddressDenied(Exception):
    """The policy refuses the destination. The message names the rule, for the admin log."""


@dataclass(frozen=True)
class AddressPolicy:
    """What one kind of outbound connection may reach (see the module docstring)."""

    allow_private: bool
    allow_loopback: bool
    allowlist: tuple[IPNetwork, ...] = ()
    denied_local_ports: frozenset[int] = field(default_factory=frozenset)
    name: str = "outbound"

    @classmethod
    def build(
        cls,
        *,
        allow_private: bool,
        allow_loopback: bool,
        allowlist: Iterable[str] = (),
        denied_local_ports: Iterable[int] = (),
        name: str = "outbound",
    ) -> AddressPolicy:
        networks = tuple(ipaddress.ip_network(item.strip(), strict=False) for item in allowlist)
        return cls(allow_private, allow_loopback, networks, frozenset(denied_local_ports), name)

    # --- the decision -----------------------------------------------------------------------

    def check_ip(self, ip: IPAddress | str, port: int | None = None) -> None:
        """Raise AddressDenied unless `ip` (already resolved) may be connected to."""
        address = _unmap(ipaddress.ip_address(ip) if isinstance(ip, str) else ip)
        if address.is_loopback or _is_this_host(address):
            if port is not None and port in self.denied_local_ports:
                raise AddressDenied(f"port {port} on this machine is one of the service's own")
            if not (self.allow_loopback or self._allowlisted(address)):
                raise AddressDenied(f"{address} is loopback ({self.name} policy)")
            return
        if _always_denied(address):
            raise AddressDenied(f"{address} is link-local, metadata or not routable")
        if _is_private(address) and not (self.allow_private or self._allowlisted(address)):
            raise AddressDenied(f"{address} is a private address ({self.name} policy)")

    def _allowlisted(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self.allowlist)

    # --- resolving and connecting ------------------------------------------------------------

    def resolve(self, host: str, port: int) -> list[tuple]:
        """getaddrinfo results for (host, port), every one checked: one denied address denies
        the host (a name that also points at the metadata service is not a camera)."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise OSError(f"host not found: {host}") from error
        for info in infos:
            self.check_ip(info[4][0], port)
        return infos

    def check_host(self, host: str, port: int) -> None:
        self.resolve(host, port)

    def create_connection(
        self,
        address: tuple[str, int],
        timeout: float | None = None,
        source_address: tuple[str, int] | None = None,
        **_: object,
    ) -> socket.socket:
        """`socket.create_connection`, connecting only to addresses this policy checked."""
        host, port = address
        last: OSError | None = None
        for family, kind, proto, _name, sockaddr in self.resolve(host, port):
            sock = socket.socket(family, kind, proto)
            try:
                if timeout is not None:
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as error:
                sock.close()
                last = error
        raise last or OSError(f"cannot connect to {host}:{port}")


def _unmap(address: IPAddress) -> IPAddress:
    """IPv4-mapped and -compatible IPv6 addresses are the IPv4 address they carry."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        packed = address.packed
        if packed[:12] == bytes(12) and int(address) > 1:  # ::a.b.c.d (deprecated compat)
            return ipaddress.IPv4Address(packed[12:])
    return address


def _always_denied(address: IPAddress) -> bool:
    return (
        address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or any(address.version == net.version and address in net for net in METADATA)
    )


def _is_this_host(address: IPAddress) -> bool:
    """0.0.0.0 and :: reach this machine's listening sockets when connected to."""
    return address.is_unspecified


def _is_private(address: IPAddress) -> bool:
    return address.is_private or (address.version == 4 and address in SHARED)


def camera_policy(settings: PolicySettings) -> AddressPolicy:
    """Cameras: private LANs allowed by default, this machine only by allowlist, and never the
    service's own ports (API, embedded Kafka, Redis)."""
    security = settings.security
    return AddressPolicy.build(
        allow_private=security.camera_allow_private,
        allow_loopback=security.camera_allow_loopback,
        allowlist=security.allowlist,
        denied_local_ports=service_ports(settings),
        name="camera",
    )


def webhook_policy(settings: PolicySettings) -> AddressPolicy:
    """Webhooks: public receivers only by default; private or local ones by allowlist."""
    security = settings.security
    return AddressPolicy.build(
        allow_private=security.webhook_allow_private,
        allow_loopback=security.webhook_allow_loopback,
        allowlist=security.allowlist,
        denied_local_ports=service_ports(settings),
        name="webhook",
    )


def service_ports(settings: PolicySettings) -> set[int]:
    """Ports of this service's own listeners on this machine."""
    return {
        settings.api_port,
        settings.embedded_kafka_port,
        settings.embedded_redis_port,
        *_url_ports(settings.database_url, settings.celery_broker, settings.kafka_bootstrap),
    }


def _url_ports(*urls: str | None) -> set[int]:
    ports = set()
    for url in urls:
        for part in (url or "").split(","):
            _, _, tail = part.rpartition(":")
            digits = tail.split("/", 1)[0].split("?", 1)[0]
            if digits.isdigit():
                ports.add(int(digits))
    return ports
