"""Reading and rewriting the custom sections of a wasm module (claims live in one).

wascap stores an actor's signed claims as a JWT in a custom section named
``jwt`` appended to the module, and hashes the module *without* that section.
Only the section framing is parsed here (id, LEB128 size, name); section
bodies are copied byte for byte, so what remains after stripping is exactly
what the compiler wrote (which is why the test actors are linked with
``--compress-relocations``: Rust wascap re-serializes the module before
hashing and must get the same bytes).
"""

from __future__ import annotations

import dataclasses

WASM_MAGIC = b"\0asm"
JWT_SECTION = "jwt"


class InvalidModule(ValueError):
    """The bytes are not a well-formed wasm module (at the section level)."""


def _read_leb128(data: bytes, offset: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if offset >= len(data):
            raise InvalidModule("truncated LEB128 number")
        byte = data[offset]
        offset += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, offset
        shift += 7
        if shift > 35:
            raise InvalidModule("LEB128 number too long")


def _leb128(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


@dataclasses.dataclass(frozen=True)
class Section:
    id: int
    start: int  # offset of the section id byte
    end: int  # offset just past the section
    name: str | None  # custom sections only
    payload_start: int  # after the name, for custom sections

    def payload(self, module: bytes) -> bytes:
        return module[self.payload_start : self.end]


def sections(module: bytes) -> list[Section]:
    """The module's sections in order; raises ``InvalidModule`` on malformed framing."""
    if module[:4] != WASM_MAGIC or len(module) < 8:
        raise InvalidModule("not a wasm module (bad magic)")
    if module[4:8] != b"\x01\0\0\0":
        raise InvalidModule("not a core wasm module (version 1); components are not actors")
    found: list[Section] = []
    offset = 8
    while offset < len(module):
        start = offset
        section_id = module[offset]
        size, offset = _read_leb128(module, offset + 1)
        end = offset + size
        if end > len(module):
            raise InvalidModule(f"section {section_id} at {start} runs past the end")
        name: str | None = None
        payload_start = offset
        if section_id == 0:
            name_len, name_start = _read_leb128(module, offset)
            payload_start = name_start + name_len
            if payload_start > end:
                raise InvalidModule(f"custom section name at {start} runs past the section")
            name = module[name_start:payload_start].decode("utf-8", errors="replace")
        found.append(Section(section_id, start, end, name, payload_start))
        offset = end
    return found


def custom_section(module: bytes, name: str) -> bytes | None:
    """The payload of the last custom section called ``name``, if any."""
    payload = None
    for section in sections(module):
        if section.name == name:
            payload = section.payload(module)
    return payload


def strip_custom_sections(module: bytes, name: str) -> bytes:
    """The module without any custom section called ``name``."""
    out = bytearray(module[:8])
    for section in sections(module):
        if section.name != name:
            out += module[section.start : section.end]
    return bytes(out)


def append_custom_section(module: bytes, name: str, payload: bytes) -> bytes:
    encoded_name = name.encode()
    body = _leb128(len(encoded_name)) + encoded_name + payload
    return module + b"\0" + _leb128(len(body)) + body
