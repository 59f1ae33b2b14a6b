"""Turn a run's figures into the JSON report, the Markdown table and the PNG plots.

Targets are judged here and only reported (pass / miss / n/a): a benchmark on a
shared, noisy machine informs, it does not gate.  Ratios compare figures of the
same run only.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any

import psutil

Figures = dict[str, Any]
MiB_KIB = 1024


def machine() -> Figures:
    freq = psutil.cpu_freq()
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "cpu_mhz": round(freq.current) if freq else None,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average": list(os.getloadavg()),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in (
        "kubelet-core",
        "wasmlet-provider-wasi",
        "wasmlet-provider-wascc",
        "wasmtime",
        "aiohttp",
        "matplotlib",
    ):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _get(figures: Figures, *path: str) -> Any:
    value: Any = figures
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


#: A renewal "on time": kubelet renews every 10 s; one poll (1 s) and some jitter on top.
LEASE_ON_TIME_S = 15.0


def _le(value: float | None, limit: float) -> bool | None:
    return None if value is None or math.isnan(value) else value <= limit


def targets(results: Figures) -> list[Figures]:
    """Each target: name, measured value, limit, and pass / miss / n/a."""
    rows: list[Figures] = []

    def judge(name: str, value: Any, limit: str, ok: bool | None) -> None:
        verdict = "n/a" if ok is None else ("pass" if ok else "miss")
        rows.append({"target": name, "measured": value, "limit": limit, "verdict": verdict})

    # One pod: the worse of the p50 and p99 ratios -- with ten samples the p99 is a
    # single start, and one slow floor start would pass it alone.
    single = [_get(results, "start", "single", key) for key in ("ratio_p50", "ratio_p99")]
    worse = None if None in single or any(map(math.isnan, single)) else max(single)
    judge("p50 and p99 start latency / floor, 1 pod (the worse)", worse, "<= 2", _le(worse, 2.0))
    r = _get(results, "start", "batch", "ratio_p99")
    judge("p99 start latency / floor, N pods", r, "<= 3", _le(r, 3.0))
    writes = _get(results, "throughput", "agent_status_writes_per_pod")
    judge(
        "status writes per pod start (agent's default budget)",
        writes,
        "<= 1.05",
        None if writes is None else writes <= 1.05,
    )
    rate = _get(results, "throughput", "running_per_s")
    budget = _get(results, "throughput", "agent_qps")
    if rate is not None and budget:
        share = rate / budget
        judge(f"pods/s to Running / the {budget:.0f} QPS budget", share, ">= 0.95", share >= 0.95)
    fast = _get(results, "throughput", "fast_qps", "running_per_s")
    if fast is not None:
        qps = _get(results, "throughput", "fast_qps", "agent_qps")
        pods = _get(results, "throughput", "pods")
        judge(
            f"pods/s to Running ({pods} pods, agent at {qps:.0f} QPS)", fast, ">= 500", fast >= 500
        )
    reached = _get(results, "density", "reached")
    judge(
        "running pods on one node", reached, ">= 5000", None if reached is None else reached >= 5000
    )
    unique = _get(results, "density", "unique_kib_per_pod")
    judge(
        "unique memory per idle isolated pod (KiB: agent + its module host)",
        unique,
        "<= 2048",
        None if unique is None else unique <= 2 * MiB_KIB,
    )
    gap = _get(results, "density", "lease_longest_gap_s")
    judge(
        "longest Lease renewal gap under density load (s)",
        gap,
        f"<= {LEASE_ON_TIME_S:g}",
        None if gap is None else gap <= LEASE_ON_TIME_S,
    )
    for state in ("empty", "loaded"):
        cpu = _get(results, "idle", state, "cpu_percent")
        calls = _get(results, "idle", state, "api_requests_per_min")
        loaded = _get(results, "idle", "pods")
        what = "0 pods" if state == "empty" else f"{loaded if loaded is not None else 'N'} pods"
        judge(f"idle agent CPU % of a core, {what}", cpu, "<= 1", None if cpu is None else cpu <= 1)
        judge(
            f"idle API requests/min, {what}", calls, "<= 8", None if calls is None else calls <= 8
        )
    return rows


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def _measured(results: Figures) -> Figures:
    """The scenarios that produced figures (a failed one holds only ``error``)."""
    return {k: v for k, v in results.items() if isinstance(v, dict) and "error" not in v}


def markdown(report: Figures) -> str:
    r = _measured(report["results"])
    lines = [
        f"Run {report['started']} on {report['machine']['cpus']} CPUs "
        f"({report['machine']['cpu_model']}), Python {report['machine']['python']}, "
        f"wasmtime {report['versions']['wasmtime']}; parameters: "
        + ", ".join(f"{k}={v}" for k, v in report["parameters"].items()),
        "",
    ]
    lines += ["| Target | Measured | Limit | Verdict |", "|---|---|---|---|"]
    for row in report["targets"]:
        lines.append(
            f"| {row['target']} | {_fmt(row['measured'])} | {row['limit']} | {row['verdict']} |"
        )
    if "start" in r:
        lines += [
            "",
            "| Start latency (ms, watch ADDED -> phase) | n | p50 | p90 | p99 | max |",
            "|---|---|---|---|---|---|",
        ]
        for scope, key, label in (
            ("single", "wasmlet_running", "1 pod, wasmlet, Running"),
            ("single", "floor_running", "1 pod, floor, Running"),
            ("single", "module_succeeded", "1 pod, core module, Succeeded"),
            ("single", "component_succeeded", "1 pod, WASI 0.2 component, Succeeded"),
            ("batch", "hello_running", "N hello pods, Running (or past it)"),
            ("batch", "hello_succeeded", "N hello pods, Succeeded"),
            ("batch", "wasmlet_running", "N staying pods, wasmlet, Running"),
            ("batch", "floor_running", "N staying pods, floor, Running"),
        ):
            s = r["start"][scope][key]
            lines.append(
                f"| {label} | {s['count']} | {_fmt(s['p50_ms'])} | {_fmt(s['p90_ms'])} "
                f"| {_fmt(s['p99_ms'])} | {_fmt(s['max_ms'])} |"
            )
        for scope in ("single", "batch"):
            lines.append(
                f"\nOverhead ratio ({scope}): p50 {_fmt(r['start'][scope]['ratio_p50'])}"
                f", p99 {_fmt(r['start'][scope]['ratio_p99'])}"
            )
    sections = (
        (
            "throughput",
            (
                "pods",
                "create_accept_per_s",
                "running_per_s",
                "running_per_s_best_1s",
                "seconds_to_all_running",
                "agent_cpu_seconds_to_running",
                "agent_api_requests_per_pod",
                "agent_status_writes_per_pod",
                "status_write_ms_mean",
                "cpu_ms_per_pod_all",
                "machine_bound_pods_per_s",
                "deleted_per_s",
                "seconds_to_all_deleted",
                "agent_cpu_seconds_to_deleted",
            ),
        ),
        (
            "density",
            (
                "target",
                "reached",
                "baseline_rss_mib",
                "rss_mib",
                "rss_per_pod_kib",
                "threads",
                "threads_per_pod",
                "fds",
                "fds_per_pod",
                "hosts",
                "host_unique_kib_per_pod",
                "unique_kib_per_pod",
                "zygote_rss_mib",
                "kubelet_api_ms_max",
                "lease_longest_gap_s",
                "lease_renewals_seen",
            ),
        ),
        (
            "actors",
            (
                "concurrency",
                "requests",
                "errors",
                "requests_per_s",
                "p50_ms",
                "p99_ms",
                "agent_cpu_percent",
            ),
        ),
    )
    for name, keys in sections:
        if name not in r:
            continue
        fast = r[name].get("fast_qps") if name == "throughput" else None
        if fast:
            lines += [
                "",
                f"| {name} | agent default QPS | agent at {fast['agent_qps']:.0f} QPS |",
                "|---|---|---|",
            ]
            lines += [f"| {k} | {_fmt(r[name].get(k))} | {_fmt(fast.get(k))} |" for k in keys]
        else:
            lines += ["", f"| {name} | value |", "|---|---|"]
            lines += [f"| {k} | {_fmt(r[name].get(k))} |" for k in keys]
    if "deployment" in r and "wasmlet" in r["deployment"]:
        d = r["deployment"]
        lines += [
            "",
            f"| Deployment of {d['replicas']} replicas on one node | wasmlet | floor | ratio |",
            "|---|---|---|---|",
        ]
        for key in ("seconds_to_all_running", "seconds_to_available", "seconds_to_scaled_down"):
            lines.append(
                f"| {key} | {_fmt(d['wasmlet'][key])} | {_fmt(d['floor'][key])} "
                f"| {_fmt(d.get(f'ratio_{key}'))} |"
            )
        for key in ("running_per_s", "deleted_per_s"):
            lines.append(f"| {key} | {_fmt(d['wasmlet'][key])} | {_fmt(d['floor'][key])} | |")
        lines.append(f"| agent_cpu_seconds | {_fmt(d['wasmlet']['agent_cpu_seconds'])} | | |")
    driver = report["results"].get("driver_requests")
    if driver:
        lines += [
            "",
            f"Driver API requests: {driver['requests']}, failed {driver['failed']}, "
            f"slower than 1 s {driver['slower_than_1s']}, slowest {driver['slowest_s']:.2f} s "
            "(control plane stalls show here).",
        ]
    failed = {
        k: v["error"] for k, v in report["results"].items() if isinstance(v, dict) and "error" in v
    }
    for name, error in failed.items():
        lines += ["", f"**{name} failed**: {error}"]
    if "idle" in r:
        lines += [
            "",
            "| idle | CPU % | API req/min | wake-ups/s | RSS MiB | threads |",
            "|---|---|---|---|---|---|",
        ]
        for state in ("empty", "loaded"):
            s = r["idle"][state]
            lines.append(
                f"| {state} | {_fmt(s['cpu_percent'])} | "
                f"{_fmt(s['api_requests_per_min'])} | {_fmt(s['thread_wakeups_per_s'])} | "
                f"{_fmt(s['rss_mib'])} | "
                f"{s['threads']} |"
            )
    if "fleet" in r and "sizes" in r["fleet"]:
        lines += [
            "",
            "| nodes in one process | all Ready s | all pods Running s | RSS MiB | RSS/node KiB "
            "| marginal KiB/node | idle CPU % | CPU %/node | API req/min | API req/min/node |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in r["fleet"]["sizes"]:
            lines.append(
                f"| {s['nodes']} | {_fmt(s['all_ready_s'])} | {_fmt(s['all_running_s'])} | "
                f"{_fmt(s['rss_mib'])} | {_fmt(s['rss_per_node_kib'])} | "
                f"{_fmt(s.get('rss_marginal_per_node_kib'))} | "
                f"{_fmt(s['idle_cpu_percent'])} | {_fmt(s['idle_cpu_percent_per_node'])} | "
                f"{_fmt(s['api_requests_per_min'])} | {_fmt(s['api_requests_per_min_per_node'])} |"
            )
    return "\n".join(lines) + "\n"


def plots(report: Figures, out: Path) -> list[str]:
    """Latency CDFs and pods-over-time; returns the files written (none without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written: list[str] = []
    r = _measured(report["results"])
    if "start" in r:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for key, samples in r["start"]["samples_s"].items():
            if samples:
                xs = sorted(s * 1000 for s in samples)
                ys = [(i + 1) / len(xs) for i in range(len(xs))]
                ax.step(xs, ys, where="post", label=key.replace("_", " "))
        ax.set_xscale("log")
        ax.set_xlabel("latency from creation (ms, log)")
        ax.set_ylabel("fraction of pods")
        ax.set_title("Pod start latency CDF")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / "start-latency-cdf.png", dpi=120)
        plt.close(fig)
        written.append("start-latency-cdf.png")
    if "timeline_s" in r.get("throughput", {}):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        passes = [("", r["throughput"])]
        if r["throughput"].get("fast_qps"):
            fast = r["throughput"]["fast_qps"]
            passes.append((f", {fast['agent_qps']:.0f} QPS", fast))
        for suffix, figures in passes:
            for key, times in figures["timeline_s"].items():
                if times:
                    ax.step(times, range(1, len(times) + 1), where="post", label=key + suffix)
        ax.set_xlabel("seconds since the first create (Running) / delete (deleted)")
        ax.set_ylabel("pods")
        ax.set_title(f"{r['throughput']['pods']} pods: Running and deleted over time")
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / "pods-over-time.png", dpi=120)
        plt.close(fig)
        written.append("pods-over-time.png")
    if "density" in r and len(r["density"]["curve"]) > 1:
        curve = r["density"]["curve"]
        fig, ax = plt.subplots(figsize=(7, 4.5))
        ax.plot([c["pods"] for c in curve], [c["rss_mib"] for c in curve], "o-", label="RSS MiB")
        ax.plot(
            [c["pods"] for c in curve],
            [c["threads"] / 10 for c in curve],
            "s--",
            label="threads / 10",
        )
        ax.set_xlabel("running pods")
        ax.set_title("Agent RSS and threads by running pods")
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / "density.png", dpi=120)
        plt.close(fig)
        written.append("density.png")
    return written


def write(report: Figures, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    report["targets"] = targets(report["results"])
    report["plots"] = plots(report, out)
    json_path = out / "report.json"
    json_path.write_text(json.dumps(_finite(report), indent=2, default=_json_default) + "\n")
    md_path = out / "report.md"
    md_path.write_text(markdown(report))
    return json_path, md_path


def _finite(value: Any) -> Any:
    """NaN (a figure that could not be measured) becomes null: strict JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
