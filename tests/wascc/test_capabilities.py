"""The built-in capabilities' operations, called the way guests call them (MessagePack)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest

from kubelet_core._containers.logs import decode_log
from wasmlet_wascc.capabilities import (
    ActorBinding,
    CapabilityError,
    InMemoryKeyValue,
    KeyValueCapability,
    LoggingCapability,
)
from wasmlet_wascc.logfile import ContainerLog


def binding(tmp_path: Path, namespace: str = "default") -> ActorBinding:
    async def call_actor(operation: str, payload: bytes) -> bytes:
        raise AssertionError("not called")

    return ActorBinding(
        capability_id="test",
        actor_key="M...",
        actor_name="test",
        pod={"metadata": {"name": "p", "namespace": namespace}},
        container={"name": "c"},
        config={},
        log=ContainerLog(tmp_path / f"{namespace}.log"),
        call_actor=call_actor,
        record_event=lambda *args: None,
    )


def kv(cap: KeyValueCapability, bound: ActorBinding, op: str, **request: Any) -> Any:
    return msgpack.unpackb(cap.invoke(bound, op, msgpack.packb(request)))


def test_keyvalue_operations(tmp_path: Path) -> None:
    cap = KeyValueCapability()
    b = binding(tmp_path)
    assert kv(cap, b, "Get", key="k") == {"value": "", "exists": False}
    assert kv(cap, b, "Set", key="k", value="v", expires=0) == {"value": "v"}
    assert kv(cap, b, "Get", key="k") == {"value": "v", "exists": True}
    assert kv(cap, b, "KeyExists", key="k")["exists"] is True
    assert kv(cap, b, "Exists", key="nope")["exists"] is False
    assert kv(cap, b, "Del", key="k") == {"key": "k"}
    assert kv(cap, b, "Get", key="k")["exists"] is False
    assert kv(cap, b, "Add", key="n", value=5) == {"value": 5}
    assert kv(cap, b, "Add", key="n", value=-7) == {"value": -2}
    for item in ("a", "b", "c", "b"):
        kv(cap, b, "Push", key="l", value=item)
    assert kv(cap, b, "Range", key="l", start=0, stop=-1) == {"values": ["a", "b", "c", "b"]}
    assert kv(cap, b, "ListRange", key="l", start=1, stop=2) == {"values": ["b", "c"]}
    assert kv(cap, b, "ListItemDelete", key="l", value="b") == {"newCount": 2}
    assert kv(cap, b, "Clear", key="l") == {"key": "l"}
    assert kv(cap, b, "Range", key="l", start=0, stop=-1) == {"values": []}
    assert kv(cap, b, "SetAdd", key="s1", value="x") == {"newCount": 1}
    kv(cap, b, "SetAdd", key="s1", value="y")
    kv(cap, b, "SetAdd", key="s2", value="y")
    kv(cap, b, "SetAdd", key="s2", value="z")
    assert kv(cap, b, "SetQuery", key="s1") == {"values": ["x", "y"]}
    assert kv(cap, b, "SetUnion", keys=["s1", "s2"]) == {"values": ["x", "y", "z"]}
    assert kv(cap, b, "SetIntersection", keys=["s1", "s2"]) == {"values": ["y"]}
    assert kv(cap, b, "SetRemove", key="s1", value="x") == {"newCount": 1}


def test_keyvalue_errors_and_scoping(tmp_path: Path) -> None:
    cap = KeyValueCapability()
    b = binding(tmp_path)
    kv(cap, b, "Set", key="text", value="hello", expires=0)
    with pytest.raises(CapabilityError, match="not hold an integer"):
        kv(cap, b, "Add", key="text", value=1)
    with pytest.raises(CapabilityError, match="holds a string, not a list"):
        kv(cap, b, "Push", key="text", value="x")
    with pytest.raises(CapabilityError, match="no operation 'Frobnicate'"):
        kv(cap, b, "Frobnicate", key="x")
    with pytest.raises(CapabilityError, match="bad request"):
        cap.invoke(b, "Get", b"\xc1")
    other = binding(tmp_path, namespace="other")
    assert kv(cap, other, "Get", key="text")["exists"] is False


def test_keyvalue_expiry(tmp_path: Path) -> None:
    now = [1000.0]
    cap = KeyValueCapability(lambda scope: InMemoryKeyValue(clock=lambda: now[0]))
    b = binding(tmp_path)
    kv(cap, b, "Set", key="k", value="v", expires=10)
    now[0] += 9.9
    assert kv(cap, b, "Get", key="k")["exists"] is True
    now[0] += 0.2
    assert kv(cap, b, "Get", key="k")["exists"] is False


def test_logging_writes_lines(tmp_path: Path) -> None:
    cap = LoggingCapability()
    b = binding(tmp_path)
    cap.invoke(b, "WriteLog", msgpack.packb({"level": 2, "body": "careful"}))
    cap.invoke(b, "WriteLog", msgpack.packb({"level": 4, "body": "details"}))
    cap.invoke(b, "WriteLog", msgpack.packb({"level": 0, "body": "off"}))
    with pytest.raises(CapabilityError):
        cap.invoke(b, "Write", b"")
    assert (
        decode_log((tmp_path / "default.log").read_bytes()).decode()
        == "WARN careful\nDEBUG details\n"
    )
