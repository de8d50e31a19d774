"""Cold start: ``mxgw-py version`` and ``mxgw-py --help`` against ``python -c "import grpc"``.

Each command runs as a fresh process, interleaved round by round (baseline, then
each candidate, in rotating order); the figure is the median of per-round ratios.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench._common import Result, Sample, time_result, timed_process_env

BASELINE = [sys.executable, "-c", "import grpc"]


def _mxgw() -> str:
    script = Path(sys.executable).with_name("mxgw-py")
    if not script.exists():
        raise RuntimeError(f"{script} is missing: install the package (./dev) first")
    return str(script)


def _time(command: list[str]) -> Sample:
    started = time.perf_counter()
    completed = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False, env=timed_process_env()
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{command} failed: {completed.stderr.decode(errors='replace')}")
    return Sample(elapsed, 0.0, 0.0, 1)


def run(rounds: int) -> list[Result]:
    mxgw = _mxgw()
    candidates = {"version": [mxgw, "version"], "help": [mxgw, "--help"]}
    for command in [BASELINE, *candidates.values()]:
        _time(command)  # warm the page cache and bytecode caches
    base: dict[str, list[Sample]] = {name: [] for name in candidates}
    cand: dict[str, list[Sample]] = {name: [] for name in candidates}
    names = list(candidates)
    for index in range(rounds):
        order = names if index % 2 == 0 else names[::-1]
        for name in order:
            if index % 2 == 0:
                base[name].append(_time(BASELINE))
                cand[name].append(_time(candidates[name]))
            else:
                cand[name].append(_time(candidates[name]))
                base[name].append(_time(BASELINE))
    results = []
    for name, command in candidates.items():
        result = time_result(
            f"cold_start_{name}",
            'python -c "import grpc"',
            "mxgw-py " + " ".join(command[1:]),
            base[name],
            cand[name],
            1.5,
            unit="ms",
            scale=1e3,
        )
        for key in ("client_cpu_ratio_median", "client_cpu_per_op_us", "server_cpu_per_op_us"):
            result.extra.pop(key, None)
        result.extra.pop("server_utilisation_baseline", None)
        results.append(result)
    return results
