"""The actor provider's options: constructor keywords, else ``WASMLET_WASCC_*`` variables.

``wasmlet node --provider wascc`` builds the provider without arguments, so
every option can also come from the environment (lists comma-separated):

``WASMLET_WASCC_ALLOWED_ISSUERS``
    Account keys (``A…``) whose signed actors may run.  Empty (the default)
    accepts any issuer whose signature verifies -- the signature, hash and
    time window are still checked and unsigned actors never run -- and the
    provider logs a warning at start saying so.  Production nodes should list
    their issuers.
``WASMLET_WASCC_CALL_TIMEOUT_SECONDS`` (1.0)
    Deadline of one guest call; a runaway call is interrupted and the caller
    gets an error (HTTP 504).
``WASMLET_WASCC_INSTANCES_PER_ACTOR`` (2)
    Instances of each actor, i.e. calls one actor serves at the same time.
``WASMLET_WASCC_MAX_TRAPS`` (5) / ``WASMLET_WASCC_TRAP_WINDOW_SECONDS`` (10)
    An actor that traps this many times within the window is terminated
    (reason ``Error``) and its pod's restart policy applies.
``WASMLET_WASCC_PORT_RANGE`` (``30000-32767``)
    Ports given to actors whose ``containerPort`` is taken or unset.
``WASMLET_WASCC_MEMORY_LIMIT`` (``64Mi``)
    Linear memory cap per instance unless the container sets
    ``resources.limits.memory``.
``WASMLET_WASCC_CALL_THREADS`` (16)
    Worker threads running guest calls, shared by all actors.
``WASMLET_WASCC_ALLOW_LOCAL_MODULES`` (false)
    Accept ``image: file:///path/actor.wasm`` (for development; like
    Krustlet's ``--x-allow-local-modules``).  The module must still be signed.
``WASMLET_WASCC_INSECURE_REGISTRIES``
    Registries pulled over plain HTTP (host[:port], comma-separated).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kubelet_core.containers import quantity_bytes as parse_bytes


class WasccSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WASMLET_WASCC_", extra="forbid")

    # NoDecode: the env holds comma-separated text, not JSON (the validators split it)
    allowed_issuers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    call_timeout_seconds: float = Field(default=1.0, gt=0)
    instances_per_actor: int = Field(default=2, ge=1, le=64)
    max_traps: int = Field(default=5, ge=1)
    trap_window_seconds: float = Field(default=10.0, gt=0)
    port_range: Annotated[tuple[int, int], NoDecode] = (30000, 32767)
    memory_limit: str = "64Mi"
    call_threads: int = Field(default=16, ge=1)
    allow_local_modules: bool = False
    insecure_registries: Annotated[list[str], NoDecode] = Field(default_factory=list)
    epoch_tick_seconds: float = Field(default=0.01, gt=0)

    @field_validator("allowed_issuers", "insecure_registries", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("port_range", mode="before")
    @classmethod
    def _range(cls, value: Any) -> Any:
        if isinstance(value, str):
            low, sep, high = value.partition("-")
            if not sep:
                raise ValueError("port range must be LOW-HIGH")
            value = (int(low), int(high))
        low, high = value
        if not 0 < int(low) <= int(high) < 65536:
            raise ValueError(f"bad port range {low}-{high}")
        return (int(low), int(high))

    @field_validator("memory_limit")
    @classmethod
    def _memory(cls, value: str) -> str:
        parse_bytes(value)
        return value

    @property
    def memory_limit_bytes(self) -> int:
        return parse_bytes(self.memory_limit)
