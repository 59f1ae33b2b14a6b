"""A small but real container runtime for tests: containers are asyncio tasks running a script.

The script is the container's argv (``command`` + ``args``, already expanded
by the core), split into steps by ``;`` tokens::

    print hello world ; sleep 0.5 ; exit 3

Steps: ``print TEXT...`` (a line to the log), ``sleep SECONDS``, ``exit CODE``,
``oom`` (exit 137, OOMKilled), ``forever`` (run until stopped),
``ignore-stop`` (from then on a graceful stop is ignored: only the forced
kill after the grace period ends it), ``env`` (print the environment),
``argv`` (print the argv), ``write PATH TEXT`` / ``read PATH`` (a file through
the container's mounts), ``deadline`` (print ``deadline_seconds``),
``restart`` (print ``restartCount``), ``gate NAME`` (wait until the test
opens ``provider.gates[NAME]``), ``exit-until N CODE`` (exit with CODE while
``restartCount < N``), ``sleep-at N SECONDS`` (sleep only in run N).
``fail-start [REASON]`` as the first step makes ``start_container`` raise
ContainerStartError; ``crash-start`` makes it raise RuntimeError;
``invalid-spec`` makes it raise InvalidPodSpec; ``slow-start`` makes it
wait for ``provider.gate("start")``; ``broken-stop`` makes ``stop`` raise
(the container keeps running); ``broken-wait`` ends the script and makes
``wait`` raise; ``create-error-until N`` makes the first N starts fail with
reason CreateContainerError (then the script runs).

Images: ``missing/...`` fails to pull (retryable), ``invalid/...`` fails
with InvalidImageName (not retryable), ``explode/...`` raises RuntimeError,
``flaky3/...`` fails the first 3 pulls; anything else pulls instantly.

A graceful stop ends a normal container at once with exit code 143 (as
SIGTERM would); a forced stop (after the grace period) gives 137.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import re
from pathlib import Path, PurePosixPath

from kubelet_core._provider.base import NodeProfile
from kubelet_core._provider.errors import ContainerStartError, ImagePullError, InvalidPodSpec
from kubelet_core.containers import (
    ContainerLaunch,
    ContainerProvider,
    ExitStatus,
    ImagePull,
    ImageRef,
    LogWriter,
    PullPolicy,
    RegistryCredentials,
    RunningContainer,
)


class _Stopped(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


class PyContainer(RunningContainer):
    """One running script."""

    def __init__(self, launch: ContainerLaunch, gates: dict[str, asyncio.Event]) -> None:
        self.launch = launch
        self._gates = gates
        self.ignore_stop = False
        self.broken_stop = False
        self._lost = False
        self._stop_requested = asyncio.Event()
        self._killed = False
        self._log = LogWriter(launch.log_path)
        self._task = asyncio.ensure_future(self._main())

    def _steps(self) -> list[list[str]]:
        steps: list[list[str]] = [[]]
        for token in [*self.launch.command, *self.launch.args]:
            if token == ";":
                steps.append([])
            else:
                steps[-1].append(token)
        return [step for step in steps if step]

    def _host_path(self, path: str) -> Path:
        for mount in sorted(self.launch.mounts, key=lambda m: -len(m.container_path)):
            base = PurePosixPath(mount.container_path)
            target = PurePosixPath(path)
            if target == base or base in target.parents:
                return mount.host_path.joinpath(*target.relative_to(base).parts)
        raise FileNotFoundError(path)

    def _print(self, text: str) -> None:
        self._log.write(text.encode() + b"\n")

    async def _sleep(self, seconds: float) -> None:
        stop = asyncio.ensure_future(self._stop_requested.wait())
        try:
            done, _ = await asyncio.wait({stop}, timeout=seconds)
        finally:
            stop.cancel()
        if done and not self.ignore_stop:
            raise _Stopped(143)
        if done:  # ignoring the stop: keep sleeping (until killed)
            await asyncio.sleep(seconds)

    async def _gate(self, name: str) -> None:
        gate = self._gates.setdefault(name, asyncio.Event())
        stop = asyncio.ensure_future(self._stop_requested.wait())
        opened = asyncio.ensure_future(gate.wait())
        try:
            await asyncio.wait({stop, opened}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            opened.cancel()
        if not gate.is_set():
            if not self.ignore_stop:
                raise _Stopped(143)
            await gate.wait()

    async def _main(self) -> ExitStatus:
        try:
            for step in self._steps():
                op, rest = step[0], step[1:]
                if op == "print":
                    self._print(" ".join(rest))
                elif op == "sleep":
                    await self._sleep(float(rest[0]))
                elif op == "forever":
                    await self._sleep(1e9)
                elif op == "gate":
                    await self._gate(rest[0])
                elif op == "exit-until":
                    if self.launch.restart_count < int(rest[0]):
                        return ExitStatus(int(rest[1]))
                elif op == "sleep-at":
                    if self.launch.restart_count == int(rest[0]):
                        await self._sleep(float(rest[1]))
                elif op == "exit":
                    return ExitStatus(int(rest[0]))
                elif op == "oom":
                    return ExitStatus(137, "OOMKilled", "memory limit exceeded")
                elif op in ("create-error-until", "slow-start"):
                    pass  # handled by start_container
                elif op == "broken-stop":
                    self.broken_stop = True
                elif op == "broken-wait":
                    self._lost = True
                    return ExitStatus(0)
                elif op == "ignore-stop":
                    self.ignore_stop = True
                elif op == "env":
                    for name, value in self.launch.env:
                        self._print(f"{name}={value}")
                elif op == "argv":
                    self._print(" ".join([*self.launch.command, *self.launch.args]))
                elif op == "write":
                    target = self._host_path(rest[0])
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(" ".join(rest[1:]))
                elif op == "read":
                    self._print(self._host_path(rest[0]).read_text())
                elif op == "restart":
                    self._print(f"restart={self.launch.restart_count}")
                elif op == "deadline":
                    self._print(f"deadline={self.launch.deadline_seconds}")
                else:
                    self._print(f"unknown step {op!r}")
                    return ExitStatus(127)
            return ExitStatus(0)
        except _Stopped as stopped:
            return ExitStatus(stopped.code)
        except asyncio.CancelledError:
            return ExitStatus(137 if self._killed else 143)
        except OSError as exc:
            self._print(f"error: {exc}")
            return ExitStatus(1)
        finally:
            self._log.close()

    @property
    def stopped(self) -> bool:
        return self._task.done()

    async def wait(self) -> ExitStatus:
        status = await asyncio.shield(self._task)
        if self._lost:
            raise RuntimeError("runtime lost the instance")
        return status

    async def stop(self, grace_period_seconds: float) -> None:
        if self.broken_stop:
            raise RuntimeError("stop is broken")
        self._stop_requested.set()
        done, _ = await asyncio.wait({self._task}, timeout=grace_period_seconds)
        if not done:
            self._killed = True
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class PyRuntimeProvider(ContainerProvider):
    """A ContainerProvider whose containers are :class:`PyContainer` scripts."""

    name = "pyruntime"
    container_id_scheme = "pyrt"

    pulls: list[tuple[str, PullPolicy, RegistryCredentials | None]]
    launches: list[ContainerLaunch]
    containers: list[PyContainer]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.pulls = []
        self.launches = []
        self.containers = []
        self._failures: collections.Counter[str] = collections.Counter()
        self.pull_gate: asyncio.Event | None = None  # when set, pulls wait for it
        self.gates: dict[str, asyncio.Event] = {}
        self.create_errors: dict[str, int] = {}

    def gate(self, name: str) -> asyncio.Event:
        """The gate a ``gate NAME`` step waits on (``.set()`` it to let the script go on)."""
        return self.gates.setdefault(name, asyncio.Event())

    def node_profile(self) -> NodeProfile:
        return NodeProfile(architecture="pyruntime")

    async def pull_image(self, pull: ImagePull) -> ImageRef:
        image = pull.image
        self.pulls.append((image, pull.policy, pull.credentials))
        if self.pull_gate is not None:
            await self.pull_gate.wait()
        repo = image.split("/", 1)[0]
        if repo == "missing":
            raise ImagePullError(f"manifest unknown: {image}")
        if repo == "invalid":
            raise ImagePullError(
                f"invalid reference {image}", retryable=False, reason="InvalidImageName"
            )
        if repo == "explode":
            raise RuntimeError("registry client blew up")
        flaky = re.fullmatch(r"flaky(\d+)", repo)
        if flaky and self._failures[image] < int(flaky.group(1)):
            self._failures[image] += 1
            raise ImagePullError(f"connection refused ({self._failures[image]})")
        return ImageRef(reference=image, image_id=f"sha256:{abs(hash(image)):064x}"[:71])

    async def start_container(self, launch: ContainerLaunch) -> RunningContainer:
        self.launches.append(launch)
        argv = [*launch.command, *launch.args]
        if argv[:1] == ["fail-start"]:
            reason = argv[1] if len(argv) > 1 else None
            raise ContainerStartError(f"cannot start {launch.name}: bad module", reason=reason)
        if argv[:1] == ["create-error-until"]:
            self.create_errors[launch.name] = self.create_errors.get(launch.name, 0) + 1
            if self.create_errors[launch.name] <= int(argv[1]):
                raise ContainerStartError("no such entry point", reason="CreateContainerError")
        if argv[:1] == ["slow-start"]:
            await self.gate("start").wait()
        if argv[:1] == ["crash-start"]:
            raise RuntimeError("runtime crashed")
        if argv[:1] == ["invalid-spec"]:
            raise InvalidPodSpec("this runtime cannot run that pod", reason="UnsupportedPod")
        container = PyContainer(launch, self.gates)
        self.containers.append(container)
        return container
