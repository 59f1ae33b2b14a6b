"""A pod's network grant: what its components may reach, read from its annotations.

Network is off unless granted (as in Krustlet, whose
``alpha.wasi.krustlet.dev/allowed-domains`` listed what a module could
reach).  Two annotations grant it, per pod:

* ``wasi.wasmlet.dev/allowed-outbound``: comma-separated ``host:port``
  destinations (``127.0.0.1:8080, api.example:443``).  A pod with one gets
  outgoing ``wasi:http`` linked, and its host may open TCP connections to
  those ports -- the kernel enforces that (a Landlock connect rule per port,
  :mod:`wasmlet_wasi.sandbox`); every other port is refused.  A host name
  among them grants ``wasi:sockets/ip-name-lookup`` too.
* ``wasi.wasmlet.dev/listen``: ``"true"`` lets the pod bind its
  containers' ``containerPort``/``hostPort`` (Landlock bind rules on exactly
  those ports).  Under wasmtime-py 50 no component can create a TCP or UDP
  socket, granted or not: wasmtime 48+ needs ``allow_tcp``/``allow_udp``,
  which its C API does not export (docs/wasi.md); the provider says so in a
  ``ListenUnavailable`` warning event.

The granularity the kernel gives is the port: Landlock has no address
rules, and wasmtime's C API (wasmtime-py 50) offers neither a per-address
socket check nor an outgoing-request hook, so the host part of a
destination is documentation, not enforcement (docs/wasi.md).  Without a
grant, a component that imports ``wasi:http`` is refused at start (reason
``NetworkDenied``) and every TCP bind and connect fails in the kernel.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Sequence
from typing import Any

from kubelet_core import ContainerStartError, KubeObject

ALLOWED_OUTBOUND = "wasi.wasmlet.dev/allowed-outbound"
LISTEN = "wasi.wasmlet.dev/listen"


@dataclasses.dataclass(frozen=True)
class Destination:
    host: str
    port: int


@dataclasses.dataclass(frozen=True)
class NetworkGrant:
    """What one container's host may do on the network (nothing, by default)."""

    outbound: Sequence[Destination] = ()
    bind_ports: Sequence[int] = ()

    @property
    def http(self) -> bool:
        return bool(self.outbound)

    @property
    def name_lookup(self) -> bool:
        return any(not _is_address(dest.host) for dest in self.outbound)

    def request(self) -> dict[str, Any]:
        """The grant as the spawn request carries it to the module host."""
        return {
            "http": self.http,
            "name_lookup": self.name_lookup,
            "connect_ports": sorted({dest.port for dest in self.outbound}),
            "bind_ports": sorted(set(self.bind_ports)),
        }


def grant_for(pod: KubeObject, container: KubeObject) -> NetworkGrant:
    """The grant of ``container`` in ``pod``; ContainerStartError for a malformed annotation."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    outbound = [parse_destination(item) for item in _items(annotations.get(ALLOWED_OUTBOUND))]
    bind: list[int] = []
    if str(annotations.get(LISTEN, "")).strip().lower() == "true":
        for port in container.get("ports") or []:
            for key in ("containerPort", "hostPort"):
                if isinstance(port.get(key), int) and port.get("protocol", "TCP") == "TCP":
                    bind.append(int(port[key]))
    return NetworkGrant(tuple(outbound), tuple(bind))


def parse_destination(item: str) -> Destination:
    host, sep, port = item.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ContainerStartError(
            f"annotation {ALLOWED_OUTBOUND}: {item!r} is not host:port",
            reason="CreateContainerConfigError",
        )
    return Destination(host.strip("[]"), int(port))


def _items(value: Any) -> list[str]:
    return [item.strip() for item in str(value or "").split(",") if item.strip()]


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
