"""Facts about the host the node advertises: capacity, identity, pressure.

Capacity comes from the real machine (CPU count, memory, the size of the
filesystem holding the data dir) because the scheduler packs pods against
it; the provider's ``NodeProfile.capacity`` may override any entry.  The
pressure checks follow kubelet's default hard-eviction thresholds
(memory.available < 100Mi, nodefs.available < 10%, pids > 90% of pid_max)
and are cheap enough to run at every status check.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import shutil
from pathlib import Path

import psutil

MEMORY_AVAILABLE_MIN = 100 * 1024 * 1024
DISK_AVAILABLE_MIN_FRACTION = 0.10
PID_USED_MAX_FRACTION = 0.90


def _read_first_line(path: str) -> str:
    try:
        return Path(path).read_text().strip().splitlines()[0].strip()
    except (OSError, IndexError):
        return ""


def _os_image() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def _existing_dir(path: Path) -> Path:
    """The nearest existing ancestor of ``path`` (the data dir may not exist yet)."""
    current = path.resolve()
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


@dataclasses.dataclass(frozen=True)
class HostInfo:
    cpus: int
    memory_bytes: int
    storage_bytes: int
    machine_id: str
    boot_id: str
    system_uuid: str
    kernel_version: str
    os_image: str

    @classmethod
    def measure(cls, data_dir: Path) -> HostInfo:
        return cls(
            cpus=os.cpu_count() or 1,
            memory_bytes=int(psutil.virtual_memory().total),
            storage_bytes=int(shutil.disk_usage(_existing_dir(data_dir)).total),
            machine_id=_read_first_line("/etc/machine-id"),
            boot_id=_read_first_line("/proc/sys/kernel/random/boot_id"),
            system_uuid=_read_first_line("/sys/class/dmi/id/product_uuid"),
            kernel_version=platform.release(),
            os_image=_os_image(),
        )

    def capacity(self, max_pods: int) -> dict[str, str]:
        return {
            "cpu": str(self.cpus),
            "memory": f"{self.memory_bytes // 1024}Ki",
            "ephemeral-storage": f"{self.storage_bytes // 1024}Ki",
            "pods": str(max_pods),
        }


@dataclasses.dataclass(frozen=True)
class Pressure:
    """One pressure check: whether it is on, and a message for the node condition."""

    under_pressure: bool
    message: str


def memory_pressure() -> Pressure:
    available = int(psutil.virtual_memory().available)
    if available < MEMORY_AVAILABLE_MIN:
        return Pressure(True, f"available memory {available // 2**20}Mi is below 100Mi")
    return Pressure(False, "kubelet has sufficient memory available")


def disk_pressure(data_dir: Path) -> Pressure:
    usage = shutil.disk_usage(_existing_dir(data_dir))
    fraction = usage.free / usage.total if usage.total else 1.0
    if fraction < DISK_AVAILABLE_MIN_FRACTION:
        return Pressure(True, f"free disk {fraction:.0%} of the data dir filesystem is below 10%")
    return Pressure(False, "kubelet has no disk pressure")


def pid_pressure() -> Pressure:
    try:
        pid_max = int(_read_first_line("/proc/sys/kernel/pid_max") or 0)
    except ValueError:
        pid_max = 0
    if pid_max <= 0:
        return Pressure(False, "kubelet has sufficient PID available")
    used = len(psutil.pids())
    if used > pid_max * PID_USED_MAX_FRACTION:
        return Pressure(True, f"{used} processes exceed 90% of pid_max {pid_max}")
    return Pressure(False, "kubelet has sufficient PID available")
