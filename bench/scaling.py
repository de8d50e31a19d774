"""How the client's cost grows with the number of tags: the SDK against the raw stub, 1,000 to 100,000.

    python bench/scaling.py                       # 1,000, 10,000 and 100,000 tags, 3 rounds
    python bench/scaling.py --sizes 1000 10000 --rounds 5 --output scaling.json

For each size the simulator (``bench/_scaling_server.py``, its own process) serves a
generated Galaxy with at least that many attributes, values frozen, and a
per-subscriber queue large enough for every first value (the raw side subscribes
all tags in one command, so with the gateway's default of 10,000 it would lose the
rest). Three tasks (``bench/_scaling_client.py``), each side in a fresh process,
raw and SDK alternating round by round:

- ``subscribe``: subscribe the tags and receive every tag's first value;
- ``read``: one read of the tags, every result looked at;
- ``changes``: every subscribed value moves once; receive every change.

Reported per task and size: client CPU and wall time (medians of the rounds) and the
traced allocation peak (one more process per side with ``tracemalloc``), each side's
figure and the SDK's ratio. ``--default-queue`` then subscribes the largest size
through the SDK against a gateway with the default queue of 10,000, where values
beyond it are dropped: once as shipped (chunks the queue can hold) and once in a
single command, reading the tags whose first value was dropped after the stall.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
TASKS = ("subscribe", "read", "changes")
#: The gateway's default per-subscriber queue (the simulator's, like production's).
DEFAULT_QUEUE = 10_000
#: How long one client process may take after its output ended.
CLIENT_TIMEOUT_S = 60


@contextmanager
def scaling_server(objects: int, queue: int) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The scaling simulator process; yields its endpoint and the process (stdin moves values)."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(BENCH_DIR / "_scaling_server.py"),
            "--objects",
            str(objects),
            "--queue",
            str(queue),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the scaling server exited with {process.wait()}")
        yield json.loads(line)["endpoint"], process
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_client(
    endpoint: str, server: subprocess.Popen[str], side: str, task: str, tags_file: Path, *extra: str
) -> dict[str, Any]:
    """One fresh client process for one side of one task; forwards its request to move values."""
    child = subprocess.Popen(
        [sys.executable, str(BENCH_DIR / "_scaling_client.py"), endpoint, side, task, str(tags_file), *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdin is not None
    assert server.stdin is not None
    assert server.stdout is not None
    figures: dict[str, Any] | None = None
    for line in child.stdout:
        if line.strip() == "advance":
            server.stdin.write("advance 1\n")
            server.stdin.flush()
            answer = server.stdout.readline().split()
            child.stdin.write(f"{answer[1]}\n")
            child.stdin.flush()
        elif line.startswith("{"):
            figures = json.loads(line)
    if child.wait(CLIENT_TIMEOUT_S) != 0 or figures is None:
        raise RuntimeError(f"the {side} {task} client failed (exit {child.returncode})")
    return figures


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def measure(
    endpoint: str, server: subprocess.Popen[str], tags_file: Path, task: str, rounds: int
) -> dict[str, Any]:
    """``rounds`` timed runs of each side (alternating, fresh processes), then one traced run each."""
    runs: dict[str, list[dict[str, Any]]] = {"raw": [], "sdk": []}
    run_client(endpoint, server, "raw", task, tags_file)  # warm the server and the caches
    for index in range(rounds):
        order = ("raw", "sdk") if index % 2 == 0 else ("sdk", "raw")
        for side in order:
            runs[side].append(run_client(endpoint, server, side, task, tags_file))
    traced = {side: run_client(endpoint, server, side, task, tags_file, "--trace") for side in runs}
    result: dict[str, Any] = {"runs": runs}
    for side, samples in runs.items():
        result[side] = {
            "values": samples[0]["values"],
            "cpu_us_per_value": _median([s["cpu_s"] / s["values"] * 1e6 for s in samples]),
            "wall_s": _median([s["wall_s"] for s in samples]),
            "cpu_s": _median([s["cpu_s"] for s in samples]),
            "rss_growth_mb": _median([s["rss_growth_kb"] / 1024 for s in samples]),
            "peak_mb": traced[side]["peak_bytes"] / 1e6,
        }
    raw_runs, sdk_runs = runs["raw"], runs["sdk"]
    result["cpu_ratio"] = _median(
        [
            (s["cpu_s"] / s["values"]) / (r["cpu_s"] / r["values"])
            for r, s in zip(raw_runs, sdk_runs, strict=True)
        ]
    )
    result["wall_ratio"] = _median(
        [s["wall_s"] / r["wall_s"] for r, s in zip(raw_runs, sdk_runs, strict=True)]
    )
    result["peak_ratio"] = result["sdk"]["peak_mb"] / result["raw"]["peak_mb"]
    return result


def table(results: dict[int, dict[str, dict[str, Any]]]) -> str:
    """The markdown table of docs/performance.md."""
    lines = [
        "| tags | task | values | client CPU per value, raw / SDK (µs) | CPU ratio "
        "| wall, raw / SDK (s) | wall ratio | traced peak, raw / SDK (MB) | peak ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size, tasks in results.items():
        for task, r in tasks.items():
            raw, sdk = r["raw"], r["sdk"]
            values = (
                f"{raw['values']:,}"
                if raw["values"] == sdk["values"]
                else f"{raw['values']:,} / {sdk['values']:,}"
            )
            lines.append(
                f"| {size:,} | {task} | {values} "
                f"| {raw['cpu_us_per_value']:.1f} / {sdk['cpu_us_per_value']:.1f} | **{r['cpu_ratio']:.2f}** "
                f"| {raw['wall_s']:.3f} / {sdk['wall_s']:.3f} | {r['wall_ratio']:.2f} "
                f"| {raw['peak_mb']:.1f} / {sdk['peak_mb']:.1f} | {r['peak_ratio']:.2f} |"
            )
    return "\n".join(lines)


def default_queue(size: int, tags_file: Path, rounds: int) -> dict[str, Any]:
    """The SDK's subscribe of ``size`` tags against the default queue: chunked, and all at once then read."""
    objects = size // 4 + size // 400 + 2
    found: dict[str, Any] = {}
    with scaling_server(objects, DEFAULT_QUEUE) as (endpoint, server):
        for name, extra in (
            ("chunks (as shipped)", ()),
            ("one command, dropped values read", ("--chunk", str(size))),
        ):
            samples = [
                run_client(endpoint, server, "sdk", "subscribe", tags_file, *extra) for _ in range(rounds)
            ]
            found[name] = {
                "values": [s["values"] for s in samples],
                "cpu_s": _median([s["cpu_s"] for s in samples]),
                "wall_s": _median([s["wall_s"] for s in samples]),
                "runs": samples,
            }
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--default-queue", action="store_true", help="also the SDK against the default queue")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "scaling.json")
    args = parser.parse_args()
    from mxgateway.simulator.demo_plant import generate_galaxy

    document: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "rounds": args.rounds,
        "load_average_at_start": os.getloadavg(),
        "results": {},
    }
    results: dict[int, dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as directory:
        for size in args.sizes:
            # Four attributes per object and an area per 100 objects: at least ``size`` tags.
            objects = size // 4 + size // 400 + 2
            galaxy = generate_galaxy(objects)
            tags = [a.full_tag_reference for a in galaxy.attributes.values()][:size]
            if len(tags) < size:
                raise RuntimeError(f"the generated Galaxy has {len(tags)} tags, not {size}")
            del galaxy
            tags_file = Path(directory) / f"tags-{size}.json"
            tags_file.write_text(json.dumps(tags))
            results[size] = {}
            with scaling_server(objects, max(DEFAULT_QUEUE, 2 * size)) as (endpoint, server):
                for task in args.tasks:
                    print(f"== {size:,} tags: {task}", file=sys.stderr, flush=True)
                    results[size][task] = measure(endpoint, server, tags_file, task, args.rounds)
            if args.default_queue and size == max(args.sizes):
                print(f"== {size:,} tags against the default queue", file=sys.stderr, flush=True)
                document["default_queue"] = {
                    "tags": size,
                    "strategies": default_queue(size, tags_file, args.rounds),
                }
    document["results"] = {str(size): tasks for size, tasks in results.items()}
    document["load_average_at_end"] = os.getloadavg()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    print(table(results))
    if "default_queue" in document:
        for name, found in document["default_queue"]["strategies"].items():
            print(
                f"default queue, {name}: values {found['values']}, CPU {found['cpu_s']:.2f} s, wall {found['wall_s']:.2f} s"
            )
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
