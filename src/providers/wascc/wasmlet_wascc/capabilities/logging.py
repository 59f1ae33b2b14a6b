"""``wascc:logging``: an actor's ``WriteLog`` lines go to its container's log file.

The message is wascc-codec's ``WriteLogRequest{level, body}`` with levels
1 ERROR, 2 WARN, 3 INFO, 4 DEBUG, 5 TRACE; each becomes one line
``LEVEL body`` in the file ``kubectl logs`` reads.
"""

from __future__ import annotations

from wasmlet_wascc.capabilities.base import ActorBinding, Capability, CapabilityError
from wasmlet_wascc.codec import WRITE_LOG, CodecError, field_int, field_str, unpack_map

LEVELS = {0: "OFF", 1: "ERROR", 2: "WARN", 3: "INFO", 4: "DEBUG", 5: "TRACE"}


class LoggingCapability(Capability):
    capability_id = "wascc:logging"

    def invoke(self, binding: ActorBinding, operation: str, payload: bytes) -> bytes:
        if operation != WRITE_LOG:
            raise CapabilityError(f"wascc:logging has no operation {operation!r}")
        try:
            request = unpack_map(payload)
            level = field_int(request, "level", 3)
            body = field_str(request, "body")
        except CodecError as error:
            raise CapabilityError(f"wascc:logging: bad WriteLog request: {error}") from None
        if level != 0:
            binding.log.write(f"{LEVELS.get(level, 'INFO')} {body}")
        return b""
