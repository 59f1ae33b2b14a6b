"""Provider options from keywords and from WASMLET_WASCC_* variables."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from wasmlet_wascc.settings import WasccSettings


def test_defaults() -> None:
    settings = WasccSettings()
    assert settings.allowed_issuers == []
    assert settings.port_range == (30000, 32767)
    assert settings.call_timeout_seconds == 1.0
    assert (settings.max_traps, settings.trap_window_seconds) == (5, 10.0)
    assert settings.memory_limit_bytes == 64 << 20
    assert not settings.allow_local_modules


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASMLET_WASCC_ALLOWED_ISSUERS", "AAA, BBB")
    monkeypatch.setenv("WASMLET_WASCC_PORT_RANGE", "31000-31010")
    monkeypatch.setenv("WASMLET_WASCC_MEMORY_LIMIT", "32Mi")
    monkeypatch.setenv("WASMLET_WASCC_ALLOW_LOCAL_MODULES", "true")
    settings = WasccSettings()
    assert settings.allowed_issuers == ["AAA", "BBB"]
    assert settings.port_range == (31000, 31010)
    assert settings.memory_limit_bytes == 32 << 20
    assert settings.allow_local_modules
    assert WasccSettings(port_range=(2000, 2001)).port_range == (2000, 2001)


@pytest.mark.parametrize(
    "options",
    [{"port_range": "9-8"}, {"port_range": "x"}, {"memory_limit": "lots"}, {"max_traps": 0}],
)
def test_invalid(options: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        WasccSettings(**options)  # type: ignore[arg-type]
