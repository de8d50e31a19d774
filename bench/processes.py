"""Whole-process pairs: a CLI one-shot read and the import of each public entry point.

Each command runs as a fresh process, interleaved round by round with its baseline;
wall time and the child's CPU (user + system, from ``getrusage``) are recorded.

- ``cli_read``: ``mxgw-py read TAG --json`` against ``bench/_raw_read.py``, the same
  calls made with the generated stubs alone (a minimal raw-stub script).
- ``import_*``: importing an entry point against importing the raw generated stubs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench._common import Result, Sample, ServerProcess, time_result, timed_process_env

BENCH_DIR = Path(__file__).resolve().parent
RAW_STUBS = "from mxgateway.generated import mxaccess_gateway_pb2_grpc"
ENTRY_POINTS = {
    "import_gateway_client": "from mxgateway import GatewayClient",
    "import_client": "from mxgateway import Client",
    "import_sync_client": "from mxgateway_sync import Client",
}


def _mxgw() -> str:
    script = Path(sys.executable).with_name("mxgw-py")
    if not script.exists():
        raise RuntimeError(f"{script} is missing: install the package (./dev) first")
    return str(script)


def _children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def _time(command: list[str], env: dict[str, str] | None = None) -> Sample:
    cpu = _children_cpu()
    started = time.perf_counter()
    completed = subprocess.run(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
        env=timed_process_env() if env is None else env,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{command} failed: {completed.stderr.decode(errors='replace')}")
    return Sample(elapsed, _children_cpu() - cpu, 0.0, 1)


def _pair(rounds: int, baseline: list[str], candidate: list[str]) -> tuple[list[Sample], list[Sample]]:
    _time(baseline)
    _time(candidate)  # warm the page cache and the bytecode caches
    base: list[Sample] = []
    cand: list[Sample] = []
    for index in range(rounds):
        if index % 2 == 0:
            base.append(_time(baseline))
            cand.append(_time(candidate))
        else:
            cand.append(_time(candidate))
            base.append(_time(baseline))
    return base, cand


def _process_result(
    name: str, baseline: str, candidate: str, base: list[Sample], cand: list[Sample], target: float
) -> Result:
    result = time_result(
        name, baseline, candidate, base, cand, target, unit="ms", scale=1e3, cpu_target=target
    )
    result.extra.pop("server_cpu_per_op_us", None)
    result.extra.pop("server_utilisation_baseline", None)
    cpu = result.extra.pop("client_cpu_per_op_us")
    result.extra["process_cpu_ms"] = {side: round(value / 1e3, 1) for side, value in cpu.items()}
    return result


def run(server: ServerProcess, rounds: int, tag: str) -> list[Result]:
    results = []
    base, cand = _pair(
        rounds,
        [sys.executable, str(BENCH_DIR / "_raw_read.py"), server.endpoint, tag],
        [_mxgw(), "read", tag, "--json", "--endpoint", server.endpoint],
    )
    results.append(
        _process_result("cli_read", "raw-stub read script", f"mxgw-py read {tag} --json", base, cand, 1.3)
    )
    baseline = [sys.executable, "-c", RAW_STUBS]
    for name, statement in ENTRY_POINTS.items():
        base, cand = _pair(rounds, baseline, [sys.executable, "-c", statement])
        results.append(_process_result(name, "import the raw generated stubs", statement, base, cand, 1.15))
    return results
