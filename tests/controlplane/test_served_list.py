"""docs/cli.md lists exactly what the embedded control plane serves (the issue asks for
exactly; a new resource type without a row, or a row without a type, fails here)."""

from __future__ import annotations

import re
from pathlib import Path

from kubelet_core._controlplane.resources import ALL

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_the_served_table_matches_the_control_plane() -> None:
    text = DOC.read_text()
    section = text.split("### Exactly what the embedded control plane serves", 1)[1]
    section = section.split("\n### ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \| (.+?) \|$", section, flags=re.M)
    documented = {(gv, plural, tuple(re.findall(r"`([^`]+)`", subs))) for gv, plural, subs in rows}
    served = {
        (rt.version if not rt.group else f"{rt.group}/{rt.version}", rt.plural, rt.subresources)
        for rt in ALL
    }
    assert documented == served
