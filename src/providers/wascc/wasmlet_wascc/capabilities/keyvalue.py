"""``wascc:keyvalue``: a key-value store for actors, in memory per node by default.

Operations and messages are wascc-codec 0.6's: ``Get``, ``Set`` (with
``expires`` seconds), ``Del``, ``KeyExists``, ``Add`` (atomic integer add),
the lists ``Push``, ``Range``, ``Clear``, ``ListItemDelete``, and the sets
``SetAdd``, ``SetRemove``, ``SetQuery``, ``SetUnion``, ``SetIntersection``.
``Exists``, ``ListAdd``, ``ListRange``, ``ListClear`` and ``ListDelItem`` are
accepted as aliases.

Keys are scoped by the pod's Kubernetes namespace: actors of one namespace
share a store (replicas of a counter count together), other namespaces never
see it.  The storage is a :class:`KeyValueBackend` made per namespace by a
factory, so a persistent or remote store can replace the in-memory one.
Calls arrive on guest worker threads, so backends must be thread safe.
"""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Callable
from typing import Any

from wasmlet_wascc.capabilities.base import ActorBinding, Capability, CapabilityError
from wasmlet_wascc.codec import CodecError, field_int, field_str, pack, unpack_map


class KeyValueBackend(abc.ABC):
    """Storage for one scope (namespace).  Methods are called from many threads."""

    @abc.abstractmethod
    def get(self, key: str) -> str | None: ...

    @abc.abstractmethod
    def put(self, key: str, value: str, expires_seconds: int = 0) -> None: ...

    @abc.abstractmethod
    def delete(self, key: str) -> bool: ...

    @abc.abstractmethod
    def exists(self, key: str) -> bool: ...

    @abc.abstractmethod
    def add(self, key: str, amount: int) -> int: ...

    @abc.abstractmethod
    def list_push(self, key: str, value: str) -> int: ...

    @abc.abstractmethod
    def list_range(self, key: str, start: int, stop: int) -> list[str]: ...

    @abc.abstractmethod
    def list_delete_item(self, key: str, value: str) -> int: ...

    @abc.abstractmethod
    def set_add(self, key: str, value: str) -> int: ...

    @abc.abstractmethod
    def set_remove(self, key: str, value: str) -> int: ...

    @abc.abstractmethod
    def set_members(self, key: str) -> set[str]: ...


class WrongType(CapabilityError):
    pass


class InMemoryKeyValue(KeyValueBackend):
    """Strings, lists and sets in a dict, behind one lock (Redis-like semantics)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._data: dict[str, str | list[str] | set[str]] = {}
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def _live(self, key: str) -> str | list[str] | set[str] | None:
        deadline = self._expiry.get(key)
        if deadline is not None and self._clock() >= deadline:
            self._data.pop(key, None)
            self._expiry.pop(key, None)
        return self._data.get(key)

    def _typed(self, key: str, kind: type[Any]) -> Any:
        value = self._live(key)
        if value is not None and not isinstance(value, kind):
            raise WrongType(f"key {key!r} holds a {_kind(value)}, not a {kind.__name__}")
        return value

    def get(self, key: str) -> str | None:
        with self._lock:
            value: str | None = self._typed(key, str)
            return value

    def put(self, key: str, value: str, expires_seconds: int = 0) -> None:
        with self._lock:
            self._data[key] = value
            if expires_seconds > 0:
                self._expiry[key] = self._clock() + expires_seconds
            else:
                self._expiry.pop(key, None)

    def delete(self, key: str) -> bool:
        with self._lock:
            self._expiry.pop(key, None)
            return self._data.pop(key, None) is not None

    def exists(self, key: str) -> bool:
        with self._lock:
            return self._live(key) is not None

    def add(self, key: str, amount: int) -> int:
        with self._lock:
            current = self._typed(key, str)
            try:
                value = int(current or 0) + amount
            except ValueError:
                raise WrongType(f"key {key!r} does not hold an integer") from None
            self._data[key] = str(value)
            return value

    def list_push(self, key: str, value: str) -> int:
        with self._lock:
            items: list[str] = self._typed(key, list) or []
            items.append(value)
            self._data[key] = items
            return len(items)

    def list_range(self, key: str, start: int, stop: int) -> list[str]:
        with self._lock:
            items: list[str] = self._typed(key, list) or []
            # Redis LRANGE: inclusive stop, negative indexes count from the end
            length = len(items)
            begin = start + length if start < 0 else start
            end = stop + length if stop < 0 else stop
            return list(items[max(begin, 0) : end + 1])

    def list_delete_item(self, key: str, value: str) -> int:
        with self._lock:
            items: list[str] = self._typed(key, list) or []
            kept = [item for item in items if item != value]
            self._data[key] = kept
            return len(kept)

    def set_add(self, key: str, value: str) -> int:
        with self._lock:
            members: set[str] = self._typed(key, set) or set()
            members.add(value)
            self._data[key] = members
            return len(members)

    def set_remove(self, key: str, value: str) -> int:
        with self._lock:
            members: set[str] = self._typed(key, set) or set()
            members.discard(value)
            self._data[key] = members
            return len(members)

    def set_members(self, key: str) -> set[str]:
        with self._lock:
            members: set[str] = self._typed(key, set) or set()
            return set(members)


def _kind(value: object) -> str:
    if isinstance(value, str):
        return "string"
    return type(value).__name__


BackendFactory = Callable[[str], KeyValueBackend]

_ALIASES = {
    "Exists": "KeyExists",
    "ListAdd": "Push",
    "ListRange": "Range",
    "ListClear": "Clear",
    "ListDelItem": "ListItemDelete",
}


class KeyValueCapability(Capability):
    capability_id = "wascc:keyvalue"

    def __init__(self, backend_factory: BackendFactory = lambda scope: InMemoryKeyValue()) -> None:
        self._factory = backend_factory
        self._backends: dict[str, KeyValueBackend] = {}
        self._lock = threading.Lock()

    def backend(self, scope: str) -> KeyValueBackend:
        with self._lock:
            backend = self._backends.get(scope)
            if backend is None:
                backend = self._backends[scope] = self._factory(scope)
            return backend

    def invoke(self, binding: ActorBinding, operation: str, payload: bytes) -> bytes:
        operation = _ALIASES.get(operation, operation)
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            raise CapabilityError(f"wascc:keyvalue has no operation {operation!r}")
        try:
            request = unpack_map(payload)
            result: dict[str, Any] = handler(self.backend(binding.namespace), request)
        except CodecError as error:
            raise CapabilityError(f"wascc:keyvalue {operation}: bad request: {error}") from None
        return pack(result)

    @staticmethod
    def _op_Get(store: KeyValueBackend, request: dict[str, Any]) -> dict[str, Any]:
        value = store.get(field_str(request, "key"))
        return {"value": value or "", "exists": value is not None}

    @staticmethod
    def _op_Set(store: KeyValueBackend, request: dict[str, Any]) -> dict[str, Any]:
        value = field_str(request, "value")
        store.put(field_str(request, "key"), value, field_int(request, "expires", 0))
        return {"value": value}

    @staticmethod
    def _op_Del(store: KeyValueBackend, request: dict[str, Any]) -> dict[str, Any]:
        key = field_str(request, "key")
        store.delete(key)
        return {"key": key}

    @staticmethod
    def _op_KeyExists(store: KeyValueBackend, request: dict[str, Any]) -> dict[str, Any]:
        return {"value": "", "exists": store.exists(field_str(request, "key"))}

    @staticmethod
    def _op_Add(store: KeyValueBackend, request: dict[str, Any]) -> dict[str, Any]:
        return {"value": store.add(field_str(request, "key"), field_int(request, "value"))}

    @staticmethod
    def _op_Push(store: KeyValueBackend, request: dict[str, Any]) -> dict[str, Any]:
        count = store.list_push(field_str(request, "key"), field_str(request, "value"))
        return {"newCount": count}

    @staticmethod
    def _op_Range(store: KeyValueBackend, request: dict[str, Any]) -> dict[str, Any]:
        key = field_str(request, "key")
        values = store.list_range(key, field_int(request, "start"), field_int(request, "stop", -1))
        return {"values": values}

    @staticmethod
    def _op_Clear(store: KeyValueBackend, request: dict[str, Any]) -> dict[str, Any]:
        key = field_str(request, "key")
        store.delete(key)
        return {"key": key}

    @staticmethod
    def _op_ListItemDelete(store: KeyValueBackend, request: dict[str, Any]) -> dict[str, Any]:
        count = store.list_delete_item(field_str(request, "key"), field_str(request, "value"))
        return {"newCount": count}

    @staticmethod
    def _op_SetAdd(store: KeyValueBackend, request: dict[str, Any]) -> dict[str, Any]:
        return {"newCount": store.set_add(field_str(request, "key"), field_str(request, "value"))}

    @staticmethod
    def _op_SetRemove(store: KeyValueBackend, request: dict[str, Any]) -> dict[str, Any]:
        key, value = field_str(request, "key"), field_str(request, "value")
        return {"newCount": store.set_remove(key, value)}

    @staticmethod
    def _op_SetQuery(store: KeyValueBackend, request: dict[str, Any]) -> dict[str, Any]:
        return {"values": sorted(store.set_members(field_str(request, "key")))}

    @staticmethod
    def _op_SetUnion(store: KeyValueBackend, request: dict[str, Any]) -> dict[str, Any]:
        result: set[str] = set()
        for key in _keys(request):
            result |= store.set_members(key)
        return {"values": sorted(result)}

    @staticmethod
    def _op_SetIntersection(store: KeyValueBackend, request: dict[str, Any]) -> dict[str, Any]:
        keys = _keys(request)
        if not keys:
            return {"values": []}
        result: set[str] = store.set_members(keys[0])
        for key in keys[1:]:
            result = result & store.set_members(key)
        return {"values": sorted(result)}


def _keys(request: dict[str, Any]) -> list[str]:
    keys = request.get("keys") or []
    if not isinstance(keys, list):
        raise CodecError("field 'keys' must be a list")
    return [str(key) for key in keys]
