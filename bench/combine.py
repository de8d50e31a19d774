"""Combine several ``bench/run.py`` result files into the table docs/performance.md shows.

    python bench/combine.py bench/results/full1.json bench/results/full2.json bench/results/full3.json

Each cell is the median of the runs' medians, followed by every run's own figure in
brackets, so a reader sees at once whether the runs agree. Met/not met is judged on
the median against the row's target, as ``run.py`` judges a single run.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any


def _met(value: float | None, target: float | None, throughput: bool) -> str:
    if value is None or target is None:
        return "-"
    ok = value >= target if throughput else value <= target
    return "yes" if ok else "**no**"


def _cell(values: list[float | None], digits: int) -> tuple[float | None, str]:
    present = [v for v in values if v is not None]
    if not present:
        return None, "-"
    median = statistics.median(present)
    runs = ", ".join("-" if v is None else f"{v:.2f}" for v in values)
    return median, f"**{median:.{digits}f}** ({runs})"


def combine(runs: list[dict[str, Any]]) -> str:
    """The markdown table of every pair found in ``runs``, in the first run's order."""
    by_name = [{r["name"]: r for r in run["results"]} for run in runs]
    lines = [
        "| pair | baseline | candidate | unit | wall ratio (median; runs) | target | met "
        "| client-CPU ratio (median; runs) | CPU target | CPU met |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in by_name[0]:
        rows = [run.get(name) for run in by_name]
        first = next(r for r in rows if r is not None)
        throughput = first["metric"] == "throughput"
        sign = "≥" if throughput else "≤"
        ratio, ratio_text = _cell([r and r["ratio_median"] for r in rows], 3)
        cpu, cpu_text = _cell([r and r["cpu_ratio"] for r in rows], 2)
        baseline = statistics.median(r["baseline_median"] for r in rows if r is not None)
        candidate = statistics.median(r["candidate_median"] for r in rows if r is not None)
        cpu_target = first["cpu_target"]
        lines.append(
            f"| `{name}` | {baseline:,.1f} | {candidate:,.1f} | {first['unit']} | {ratio_text} "
            f"| {sign} {first['target']:.2f} | {_met(ratio, first['target'], throughput)} | {cpu_text} "
            f"| {'-' if cpu_target is None else f'≤ {cpu_target:.2f}'} | {_met(cpu, cpu_target, False)} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="result files written by run.py --output")
    args = parser.parse_args()
    runs = [json.loads(path.read_text()) for path in args.results]
    for path, run in zip(args.results, runs, strict=True):
        machine = run["machine"]
        load = ", ".join(f"{x:.1f}" for x in machine["load_average_at_start"])
        print(f"{path}: {machine['date']}, profile {run['profile']}, load at start {load}")
    print()
    print(combine(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
