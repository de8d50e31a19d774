"""Shared pieces of the benchmarks: the simulator process, CPU clocks, interleaved rounds, results."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
_TICKS = os.sysconf("SC_CLK_TCK")


def timed_process_env() -> dict[str, str]:
    """The environment of a timed fresh process: this one's, with bytecode caching on.

    An installed package runs from the bytecode pip compiled; with PYTHONDONTWRITEBYTECODE
    set, every timed process would compile the package's source instead (the baseline's
    grpc and protobuf keep their installed bytecode), so the warm-up run writes the caches.
    """
    return {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


@dataclass
class ServerProcess:
    endpoint: str
    pid: int

    def cpu_s(self) -> float:
        return process_cpu_s(self.pid)


@contextmanager
def simulator_process(
    galaxy_file: Path | None = None, *, rate: float = 0.0, replay_capacity: int = 1024
) -> Iterator[ServerProcess]:
    """The simulator in a separate process (own interpreter, own GIL), stopped on exit."""
    command = [sys.executable, str(BENCH_DIR / "_server.py"), "--rate", str(rate)]
    command += ["--replay-capacity", str(replay_capacity)]
    if galaxy_file is not None:
        command += ["--galaxy", str(galaxy_file)]
    with _server_process(command) as server:
        yield server


@contextmanager
def canned_process(events: int = 10_000) -> Iterator[ServerProcess]:
    """The canned-reply gateway (``bench/_canned_server.py``) in a separate process."""
    with _server_process(
        [sys.executable, str(BENCH_DIR / "_canned_server.py"), "--events", str(events)]
    ) as server:
        yield server


@contextmanager
def _server_process(command: list[str]) -> Iterator[ServerProcess]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulator process exited with {process.wait()}")
        info = json.loads(line)
        yield ServerProcess(info["endpoint"], info["pid"])
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Sample:
    """One timed run: wall seconds, this process's CPU seconds, the server's CPU seconds, operations."""

    wall_s: float
    cpu_s: float
    server_cpu_s: float
    ops: int

    @property
    def per_op_s(self) -> float:
        return self.wall_s / self.ops

    @property
    def per_s(self) -> float:
        return self.ops / self.wall_s

    @property
    def server_utilisation(self) -> float:
        """Cores the server kept busy during the run (1.0 = one core saturated)."""
        return self.server_cpu_s / self.wall_s


class Clock:
    """Times a block: wall, this process's CPU (every thread) and the server's CPU."""

    def __init__(self, server: ServerProcess | None) -> None:
        self._server = server

    def start(self) -> tuple[float, float, float]:
        server = self._server.cpu_s() if self._server is not None else 0.0
        return time.perf_counter(), time.process_time(), server

    def stop(self, started: tuple[float, float, float], ops: int) -> Sample:
        wall, cpu, server = started
        server_now = self._server.cpu_s() if self._server is not None else 0.0
        return Sample(time.perf_counter() - wall, time.process_time() - cpu, server_now - server, ops)


def interleave(
    rounds: int, baseline: Callable[[], Sample], candidate: Callable[[], Sample]
) -> tuple[list[Sample], list[Sample]]:
    """ABBA ordering over ``rounds`` rounds, so drift and warm-up hit both sides alike."""
    base: list[Sample] = []
    cand: list[Sample] = []
    for index in range(rounds):
        if index % 2 == 0:
            base.append(baseline())
            cand.append(candidate())
        else:
            cand.append(candidate())
            base.append(baseline())
    return base, cand


@dataclass
class Result:
    """One row of the table: a candidate against its baseline, as the median of per-round ratios."""

    name: str
    baseline: str
    candidate: str
    metric: str  # "time" (lower is better) or "throughput" (higher is better)
    unit: str
    baseline_median: float
    candidate_median: float
    ratio_median: float
    ratios: list[float]
    target: float
    extra: dict[str, Any] = field(default_factory=dict)
    #: Upper bound of the client-CPU ratio (candidate CPU per operation over the baseline's).
    cpu_target: float | None = None

    @property
    def met(self) -> bool:
        if self.metric == "throughput":
            return self.ratio_median >= self.target
        return self.ratio_median <= self.target

    @property
    def cpu_ratio(self) -> float | None:
        """The client-CPU ratio: median of rounds where recorded, else the ratio of medians."""
        extra = self.extra
        if "client_cpu_ratio_median" in extra:
            return float(extra["client_cpu_ratio_median"])
        for key in ("client_cpu_per_event_us", "process_cpu_ms"):
            sides = extra.get(key)
            if sides and sides["baseline"]:
                return round(sides["candidate"] / sides["baseline"], 4)
        return None

    @property
    def cpu_met(self) -> bool | None:
        ratio = self.cpu_ratio
        if self.cpu_target is None or ratio is None:
            return None
        return ratio <= self.cpu_target

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["met"] = self.met
        data["cpu_ratio"] = self.cpu_ratio
        data["cpu_met"] = self.cpu_met
        return data


def time_result(
    name: str,
    baseline_label: str,
    candidate_label: str,
    base: list[Sample],
    cand: list[Sample],
    target: float,
    *,
    unit: str = "us/op",
    scale: float = 1e6,
    extra: dict[str, Any] | None = None,
    cpu_target: float | None = None,
) -> Result:
    """A time-per-operation row, with the client-CPU ratio and the server's load alongside."""
    ratios = [c.per_op_s / b.per_op_s for b, c in zip(base, cand, strict=True)]
    cpu_ratios = [
        (c.cpu_s / c.ops) / (b.cpu_s / b.ops) for b, c in zip(base, cand, strict=True) if b.cpu_s > 0
    ]
    details: dict[str, Any] = {
        "rounds": len(ratios),
        "client_cpu_ratio_median": _median(cpu_ratios),
        "client_cpu_per_op_us": {
            "baseline": _median([b.cpu_s / b.ops * 1e6 for b in base]),
            "candidate": _median([c.cpu_s / c.ops * 1e6 for c in cand]),
        },
        "server_cpu_per_op_us": _median([b.server_cpu_s / b.ops * 1e6 for b in base]),
        "server_utilisation_baseline": _median([b.server_utilisation for b in base]),
    }
    details.update(extra or {})
    return Result(
        name=name,
        baseline=baseline_label,
        candidate=candidate_label,
        metric="time",
        unit=unit,
        baseline_median=_median([b.per_op_s * scale for b in base]),
        candidate_median=_median([c.per_op_s * scale for c in cand]),
        ratio_median=_median(ratios),
        ratios=[round(r, 4) for r in ratios],
        target=target,
        extra=details,
        cpu_target=cpu_target,
    )


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 4) if values else float("nan")
