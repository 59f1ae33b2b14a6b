"""Kernel limits a module host process puts on itself before it runs guest code.

A module host (see :mod:`wasmlet_wasi.guest`) is one process per container.
wasmtime already confines the guest to its preopened directories and its
linear memory to ``limits.memory``; this module adds what only the kernel can
enforce, so that a bug in the runtime or a greedy module still cannot reach
the node:

* **rlimits**: ``RLIMIT_NOFILE`` (a module opening files in a loop gets
  ``EMFILE``, the agent's own descriptors are untouched), ``RLIMIT_AS`` (the
  whole process, linear memory plus runtime, cannot grow past the pod's
  memory limit plus a fixed allowance for the runtime), ``RLIMIT_CPU`` as a
  backstop for ``activeDeadlineSeconds``, ``RLIMIT_CORE`` 0;
* **no new privileges** (``PR_SET_NO_NEW_PRIVS``) and not dumpable, so the
  process can never gain privileges and other processes of its uid cannot
  ptrace it;
* an **unprivileged uid/gid** when one is asked for (``setresuid`` after
  everything the host needs as root is open);
* **Landlock** (Linux >= 5.13, the ABI version is probed): filesystem access
  only beneath the pod's preopened directories (read-only ones read-only),
  its log directory and its run directory; no TCP bind/connect (ABI >= 4);
  no signals to or abstract sockets of processes outside the sandbox
  (ABI >= 6).  Where the kernel has no Landlock, :func:`restrict_filesystem`
  returns 0 and the host runs with the other limits only (docs/security.md).

Everything here is a thin ctypes layer over system calls, called once per
process on its own thread before the guest starts; nothing is undone.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import resource
from collections.abc import Sequence

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int

_PR_SET_DUMPABLE = 4
_PR_SET_NO_NEW_PRIVS = 38

# Landlock (include/uapi/linux/landlock.h); the syscall numbers are the same on every arch.
_SYS_CREATE_RULESET = 444
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1

_FS_EXECUTE = 1 << 0
_FS_WRITE_FILE = 1 << 1
_FS_READ_FILE = 1 << 2
_FS_READ_DIR = 1 << 3
_FS_REMOVE_DIR = 1 << 4
_FS_REMOVE_FILE = 1 << 5
_FS_MAKE_CHAR = 1 << 6
_FS_MAKE_DIR = 1 << 7
_FS_MAKE_REG = 1 << 8
_FS_MAKE_SOCK = 1 << 9
_FS_MAKE_FIFO = 1 << 10
_FS_MAKE_BLOCK = 1 << 11
_FS_MAKE_SYM = 1 << 12
_FS_REFER = 1 << 13  # ABI 2
_FS_TRUNCATE = 1 << 14  # ABI 3
_FS_IOCTL_DEV = 1 << 15  # ABI 5
_NET_BIND_TCP = 1 << 0  # ABI 4
_NET_CONNECT_TCP = 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
_SCOPE_SIGNAL = 1 << 1

_READ = _FS_READ_FILE | _FS_READ_DIR
_WRITE_V1 = (
    _FS_WRITE_FILE
    | _FS_REMOVE_DIR
    | _FS_REMOVE_FILE
    | _FS_MAKE_DIR
    | _FS_MAKE_REG
    | _FS_MAKE_SYM
    | _FS_MAKE_SOCK
    | _FS_MAKE_FIFO
)
_DEVICES = _FS_MAKE_CHAR | _FS_MAKE_BLOCK


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _NetPortAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


_RULE_NET_PORT = 2


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is __attribute__((packed))
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@dataclasses.dataclass(frozen=True)
class Limits:
    """The rlimits of one module host; None leaves a limit as inherited."""

    open_files: int | None = None
    address_space: int | None = None  # bytes
    cpu_seconds: int | None = None


@dataclasses.dataclass(frozen=True)
class FsRule:
    """A directory (by open fd) the sandbox may use, and whether it may write there."""

    fd: int
    writable: bool


def apply_limits(limits: Limits) -> None:
    """Set the rlimits (soft = hard, so the guest's process can never raise them)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if limits.open_files is not None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    if limits.address_space is not None:
        resource.setrlimit(resource.RLIMIT_AS, (limits.address_space, limits.address_space))
    if limits.cpu_seconds is not None:
        # Soft: SIGXCPU (reported as DeadlineExceeded); hard one second later: SIGKILL.
        seconds = max(1, limits.cpu_seconds)
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))


def forbid_privileges() -> None:
    """No setuid/file-capability gains from here on, and no ptrace by peers."""
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    _libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def drop_to(uid: int | None, gid: int | None, groups: Sequence[int] = ()) -> None:
    """Become ``uid``/``gid`` with ``groups`` for good (real, effective and saved ids).

    Whatever the ids, every capability goes too: even a pod that asked for
    ``runAsUser: 0`` gets a root without CAP_SYS_ADMIN, CAP_DAC_OVERRIDE and
    the rest (no mounts, no kernel modules, no reading others' files).
    """
    for cap in range(64):  # the bounding set first: dropping it needs CAP_SETPCAP
        if _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break  # EINVAL past the last capability, EPERM when not privileged
    if os.getuid() == 0 and (uid is not None or gid is not None):
        os.setgroups(list(groups))
    if gid is not None:
        os.setresgid(gid, gid, gid)
    if uid is not None:
        os.setresuid(uid, uid, uid)
    _drop_capabilities()


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_PR_CAPBSET_DROP = 24
_SYS_CAPSET = {"x86_64": 126, "aarch64": 91}.get(os.uname().machine)


def _drop_capabilities() -> None:
    """Empty the effective, permitted and inheritable capability sets."""
    if _SYS_CAPSET is None:
        return
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if _libc.syscall(_SYS_CAPSET, ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when it has none (or it is disabled)."""
    version = _libc.syscall(_SYS_CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION)
    return max(0, int(version))


def restrict_filesystem(
    rules: Sequence[FsRule],
    *,
    connect_ports: Sequence[int] = (),
    bind_ports: Sequence[int] = (),
) -> int:
    """Confine this process to ``rules`` with Landlock; returns the ABI used (0: none).

    TCP is denied outright (ABI >= 4) but for ``connect_ports`` (a pod's
    granted destinations: wasi:http and wasi:sockets connect from this
    process) and ``bind_ports`` (a pod granted to listen).

    Access rights the kernel's ABI does not know are left out of the handled
    set (best effort, as the kernel documentation recommends), so the same
    code confines as much as each kernel can.
    """
    abi = landlock_abi()
    if abi < 1:
        return 0
    handled = _READ | _WRITE_V1 | _DEVICES | _FS_EXECUTE
    write = _WRITE_V1
    if abi >= 2:
        handled |= _FS_REFER
        write |= _FS_REFER
    if abi >= 3:
        handled |= _FS_TRUNCATE
        write |= _FS_TRUNCATE
    if abi >= 5:
        handled |= _FS_IOCTL_DEV
    attr = _RulesetAttr(handled_access_fs=handled)
    size = ctypes.sizeof(ctypes.c_uint64)  # ABI 1-3 know only handled_access_fs
    if abi >= 4:
        attr.handled_access_net = _NET_BIND_TCP | _NET_CONNECT_TCP
        size = 2 * ctypes.sizeof(ctypes.c_uint64)
    if abi >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL
        size = ctypes.sizeof(attr)
    ruleset = _libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), size, 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
    try:
        for rule in rules:
            allowed = _READ | (write if rule.writable else 0)
            beneath = _PathBeneathAttr(allowed_access=allowed & handled, parent_fd=rule.fd)
            if _libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(beneath), 0):
                raise OSError(ctypes.get_errno(), "landlock_add_rule")
        if abi >= 4:
            grants = [(port, _NET_CONNECT_TCP) for port in connect_ports]
            grants += [(port, _NET_BIND_TCP) for port in bind_ports]
            for port, access in grants:
                net = _NetPortAttr(allowed_access=access, port=port)
                if _libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_NET_PORT, ctypes.byref(net), 0):
                    raise OSError(ctypes.get_errno(), "landlock_add_rule (net port)")
        if _libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return abi
