"""Run every benchmark pair, print a table and write bench/results/latest.json.

    python bench/run.py --quick   # CI smoke: small sizes, few rounds (well under 2 minutes)
    python bench/run.py --full    # the published figures (docs/performance.md)

Every figure is a ratio against a baseline measured in the same run, on the same
simulator process, over loopback: the median of per-round ratios, baseline and
candidate interleaved. A ratio outside its target is reported, never an error:
only a crash fails the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROFILES: dict[str, dict[str, Any]] = {
    "quick": {
        "galaxy_objects": 2_600,
        "events": 10_000,
        "events_rounds": 3,
        "rounds": 4,
        "writes_per_round": 200,
        "bulk_tags": 10_000,
        "bulk_rounds": 3,
        "subscribe_rounds": 3,
        "hierarchy_objects": 10_000,
        "hierarchy_rounds": 2,
        "cold_start_rounds": 5,
        "process_rounds": 5,
        "alarm_objects": 2_600,
        "alarm_storms": 6,
        "alarm_rounds": 3,
    },
    "full": {
        "galaxy_objects": 10_200,
        "events": 40_000,
        "events_rounds": 15,
        "rounds": 12,
        "writes_per_round": 2_000,
        "bulk_tags": 10_000,
        "bulk_rounds": 11,
        "subscribe_rounds": 9,
        "hierarchy_objects": 100_000,
        "hierarchy_rounds": 7,
        "cold_start_rounds": 21,
        "process_rounds": 21,
        "alarm_objects": 10_200,
        "alarm_storms": 6,
        "alarm_rounds": 9,
    },
}


#: Every group of pairs, in the order they run.
PAIRS = [
    "unary",
    "subscribe",
    "concurrency",
    "memory",
    "events",
    "canned",
    "hierarchy",
    "alarms",
    "cold_start",
    "processes",
]


def _machine() -> dict[str, Any]:
    import google.protobuf
    import grpc

    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line), "")
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "protobuf": google.protobuf.__version__,
        "load_average_at_start": os.getloadavg(),
    }


def _table(results: list[Any]) -> str:
    header = (
        "pair",
        "baseline",
        "candidate",
        "unit",
        "ratio",
        "target",
        "met",
        "client CPU ratio",
        "CPU target",
        "CPU met",
    )
    rows = [header]
    for r in results:
        sign = ">=" if r.metric == "throughput" else "<="
        cpu = r.cpu_ratio
        rows.append(
            (
                r.name,
                f"{r.baseline_median:,.1f}",
                f"{r.candidate_median:,.1f}",
                r.unit,
                f"{r.ratio_median:.3f}",
                f"{sign} {r.target:.2f}",
                "yes" if r.met else "NO",
                "-" if cpu is None else f"{cpu:.3f}",
                "-" if r.cpu_target is None else f"<= {r.cpu_target:.2f}",
                {None: "-", True: "yes", False: "NO"}[r.cpu_met],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_const", dest="profile", const="quick")
    mode.add_argument("--full", action="store_const", dest="profile", const="full")
    parser.add_argument("--only", action="append", choices=PAIRS)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args()
    profile_name = args.profile or "quick"
    profile = PROFILES[profile_name]
    only = set(args.only or PAIRS)

    from bench import (
        alarms,
        cold_start,
        concurrency,
        events,
        hierarchy,
        memory,
        processes,
        subscribe,
        unary,
    )
    from bench._common import Result, canned_process, simulator_process
    from mxgateway.simulator.demo_plant import generate_galaxy

    started = time.perf_counter()
    machine = _machine()
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as directory:
        if only & {"unary", "subscribe", "events", "concurrency", "memory", "canned"}:
            galaxy = generate_galaxy(profile["galaxy_objects"])
            tags = [attribute.full_tag_reference for attribute in galaxy.attributes.values()]
            galaxy_file = Path(directory) / "tags.json"
            galaxy.save(galaxy_file)
            if "unary" in only:
                print(f"== unary pairs ({len(tags):,} attributes)", file=sys.stderr, flush=True)
                config = unary.UnaryConfig(
                    rounds=profile["rounds"],
                    writes_per_round=profile["writes_per_round"],
                    bulk_calls_per_round=1,
                    bulk_rounds=profile["bulk_rounds"],
                )
                with simulator_process(galaxy_file) as server:
                    results += unary.run(server, tags, config, profile["bulk_tags"])
            if "subscribe" in only:
                print(
                    f"== subscribe and receive every first value ({profile['bulk_tags']:,} tags)",
                    file=sys.stderr,
                    flush=True,
                )
                with simulator_process(galaxy_file) as server:
                    config = subscribe.SubscribeConfig(profile["subscribe_rounds"])
                    results.append(subscribe.run(server, tags[: profile["bulk_tags"]], config))
            if "concurrency" in only:
                print("== sync facade from 8 threads", file=sys.stderr, flush=True)
                with simulator_process(galaxy_file) as server:
                    double_tag = next(t for t in tags if ".Double" in t)
                    results.append(
                        concurrency.run(
                            server, double_tag, profile["rounds"], profile["writes_per_round"] // 8
                        )
                    )
            if "memory" in only:
                print(f"== memory ({profile['bulk_tags']:,} tags)", file=sys.stderr, flush=True)
                with simulator_process(galaxy_file) as server:
                    results.append(memory.run(server, tags[: profile["bulk_tags"]], 3, Path(directory)))
            if "events" in only:
                count = min(profile["events"], len(tags))
                print(f"== events ({count:,} replayed per round)", file=sys.stderr, flush=True)
                with simulator_process(galaxy_file, replay_capacity=count + 16) as server:
                    results += events.run(server, tags, events.EventsConfig(count, profile["events_rounds"]))
            if "canned" in only:
                # The simulator is busy for most of a bulk call and paces the writes: the
                # same pairs against a server that only sends stored replies show the client.
                count = min(profile["events"], len(tags))
                print("== canned-reply server (unary and events pairs)", file=sys.stderr, flush=True)
                config = unary.UnaryConfig(
                    rounds=profile["rounds"],
                    writes_per_round=profile["writes_per_round"],
                    bulk_calls_per_round=1,
                    bulk_rounds=profile["bulk_rounds"],
                )
                with canned_process(count) as server:
                    results += unary.run(server, tags, config, profile["bulk_tags"], canned=True)
                    results += events.run(
                        server, tags, events.EventsConfig(count, profile["events_rounds"]), canned=True
                    )
        if "hierarchy" in only:
            print(f"== hierarchy ({profile['hierarchy_objects']:,} objects)", file=sys.stderr, flush=True)
            big = generate_galaxy(profile["hierarchy_objects"])
            big_file = Path(directory) / "hierarchy.json"
            big.save(big_file)
            del big
            with simulator_process(big_file) as server:
                results.append(hierarchy.run(server, hierarchy.HierarchyConfig(profile["hierarchy_rounds"])))
        if "alarms" in only:
            print(f"== alarms ({profile['alarm_objects']:,} objects)", file=sys.stderr, flush=True)
            config = alarms.AlarmsConfig(
                profile["alarm_objects"], profile["alarm_storms"], profile["alarm_rounds"]
            )
            with alarms.alarm_server(config.objects) as server:
                results.append(alarms.run(server, config))
        if "cold_start" in only:
            print("== cold start", file=sys.stderr, flush=True)
            results += cold_start.run(profile["cold_start_rounds"])
        if "processes" in only:
            print("== processes (CLI one-shot read, imports)", file=sys.stderr, flush=True)
            with simulator_process() as server:
                results += processes.run(server, profile["process_rounds"], "Tank_001.Level")
    machine["load_average_at_end"] = os.getloadavg()
    machine["seconds"] = round(time.perf_counter() - started, 1)

    print(_table(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "profile": profile_name,
        "settings": profile,
        "machine": machine,
        "results": [r.as_json() for r in results],
    }
    args.output.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.output} ({machine['seconds']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
