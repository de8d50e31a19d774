"""The MQTT bridge against a raw baseline in the same run: CPU per change and changes/s through Mosquitto.

    python bench/bridge.py [--seconds S] [--objects N] [--rate HZ] [--layout uns|sparkplug] [--runs K]

Needs a Mosquitto binary. A fast plant gateway (``bench/_plant_server.py``: ``--tags``
Double attributes, ``--rate`` changes a second in all) runs in its own process, Mosquitto in its own, and a
subscriber that counts what arrives (per tenth of a second) in a third; this process
runs, in turn:

- the bridge (``Bridge``: the SDK's event pump and subscription, the layout, the
  store-and-forward outbox with its SQLite file, the publisher), and
- the raw baseline: the generated stub's ``StreamEvents`` read in a loop, each event
  encoded by the same layout code (the same JSON, or the same Sparkplug DDATA and
  ``seq``), published with a plain ``aiomqtt`` client (the same QoS, up to 200 in
  flight), no store.

Each side's CPU time (this process, all threads) divided by the changes it got to the
broker is its CPU per change; the ratio bridge/baseline is the figure to watch
(target: at most 1.5). The subscriber's count of changes (a Sparkplug DDATA may carry
several) over the window gives changes/s through Mosquitto (target: at least 10,000/s). ``--runs`` repeats the pair and
reports each run and the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiomqtt  # noqa: E402
import grpc  # noqa: E402

from bench._common import BENCH_DIR, _server_process  # noqa: E402
from mxgateway import DataChange  # noqa: E402
from mxgateway.bridge import Bridge, parse_config  # noqa: E402
from mxgateway.bridge.sparkplug import SparkplugLayout, stamped  # noqa: E402
from mxgateway.bridge.topics import TagInfo, UnsLayout  # noqa: E402
from mxgateway.generated import mxaccess_gateway_pb2 as pb  # noqa: E402
from mxgateway.generated import mxaccess_gateway_pb2_grpc as pb_grpc  # noqa: E402

_COUNTER = """
import asyncio, collections, json, sys, time, aiomqtt
from mxgateway.generated import sparkplug_b_pb2 as spb
async def main():
    buckets = collections.Counter()
    async with aiomqtt.Client("127.0.0.1", int(sys.argv[1]), identifier="bench-counter") as client:
        await client.subscribe(sys.argv[2], qos=1)
        print("ready", flush=True)
        try:
            async for message in client.messages:
                topic = message.topic.value
                if topic.startswith("spBv1.0/"):
                    # Changes, not messages: a DDATA may carry several.
                    if "/DDATA/" in topic:
                        buckets[int(time.time() * 10)] += len(spb.Payload.FromString(message.payload).metrics)
                elif not topic.startswith("mxgateway/_bridge/"):
                    buckets[int(time.time() * 10)] += 1
        finally:
            print(json.dumps(buckets), flush=True)
try:
    asyncio.run(main())
except KeyboardInterrupt:
    pass
"""
_WARM_UP_S = 1.0
_WINDOW = 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(endpoint: str, port: int, store: Path, layout: str) -> str:
    return f"""
[gateway]
endpoint = "{endpoint}"
plaintext = true
[broker]
port = {port}
[publish]
globs = ["*.*"]
[topics]
layout = "{layout}"
[store]
path = "{store}"
[health]
interval_s = 60
"""


async def _bridge(endpoint: str, port: int, store: Path, seconds: float, layout: str) -> dict[str, Any]:
    bridge = Bridge(parse_config(_config(endpoint, port, store, layout), "bench"))
    task = asyncio.create_task(bridge.run())
    await asyncio.wait_for(bridge.wait_ready(), 60)
    await asyncio.sleep(_WARM_UP_S)  # the initial values and the first changes settle
    c = bridge.counters
    changes0, published0 = c.changes, c.published
    cpu0, wall0, start = time.process_time(), time.perf_counter(), time.time()
    await asyncio.sleep(seconds)
    cpu, wall, end = time.process_time() - cpu0, time.perf_counter() - wall0, time.time()
    changes, published = c.changes - changes0, c.published - published0
    bridge.stop()
    await asyncio.wait_for(task, 30)
    return {
        "tags": len(bridge.tags),
        "changes_per_s": changes / wall,
        "published_per_s": published / wall,
        "cpu_us_per_change": cpu / max(published, 1) * 1e6,
        "cpu_share": cpu / wall,
        "dropped": c.dropped,
        "window": (start, end),
        "tag_infos": bridge.tags,
    }


async def _baseline(
    endpoint: str, port: int, tags: list[TagInfo], seconds: float, layout: str
) -> dict[str, Any]:
    """Raw StreamEvents -> the same encoding -> plain aiomqtt publish; no store."""
    uns = UnsLayout("mxgateway", tags)
    sparkplug = SparkplugLayout("mxgateway", "bridge", tags)
    sparkplug.start()
    qos, retain = (0, False) if layout == "sparkplug" else (1, True)
    names = {}
    async with (
        grpc.aio.insecure_channel(endpoint) as channel,
        aiomqtt.Client("127.0.0.1", port, identifier="bench-baseline", max_inflight_messages=_WINDOW) as mqtt,
    ):
        mqtt.pending_calls_threshold = 10 * _WINDOW  # the window bounds them; no warning per message
        stub = pb_grpc.MxAccessGatewayStub(channel)
        session = (await stub.OpenSession(pb.OpenSessionRequest(client_session_name="baseline"))).session_id
        stream = stub.StreamEvents(pb.StreamEventsRequest(session_id=session))
        await stream.initial_metadata()

        async def invoke(kind: int, **payload: object) -> pb.MxCommandReply:
            command = pb.MxCommand(kind=kind, **payload)  # type: ignore[arg-type]
            reply: pb.MxCommandReply = await stub.Invoke(
                pb.MxCommandRequest(session_id=session, command=command)
            )
            return reply

        handle = (
            await invoke(pb.MX_COMMAND_KIND_REGISTER, register=pb.RegisterCommand(client_name="baseline"))
        ).register.server_handle
        subscribed = await invoke(
            pb.MX_COMMAND_KIND_SUBSCRIBE_BULK,
            subscribe_bulk=pb.SubscribeBulkCommand(server_handle=handle, tag_addresses=[t.tag for t in tags]),
        )
        names = {r.item_handle: r.tag_address for r in subscribed.bulk_subscribe.results}
        encode = sparkplug.data_messages if layout == "sparkplug" else uns.data_messages
        window = asyncio.Semaphore(_WINDOW)
        done_count = [0]

        def finished(_: object) -> None:
            window.release()
            done_count[0] += 1

        seq = 0
        published_before = 0
        measuring = False
        warm_until = time.monotonic() + _WARM_UP_S
        cpu0 = wall0 = start = 0.0
        deadline = warm_until + seconds
        while True:
            now = time.monotonic()
            if not measuring and now >= warm_until:
                measuring, published_before = True, done_count[0]
                cpu0, wall0, start = time.process_time(), time.perf_counter(), time.time()
            if now >= deadline:
                break
            event = await stream.read()
            if event.family != pb.MX_EVENT_FAMILY_ON_DATA_CHANGE:
                continue
            for message in encode((DataChange(event, names.get(event.item_handle)),)):
                payload = message.payload
                if layout == "sparkplug":
                    payload = stamped(payload, seq)
                    seq = (seq + 1) % 256
                await window.acquire()  # at most _WINDOW in flight, like the bridge's batches
                asyncio.ensure_future(mqtt.publish(message.topic, payload, qos, retain)).add_done_callback(
                    finished
                )
        for _ in range(_WINDOW):
            await window.acquire()
        published = done_count[0] - published_before
        cpu, wall, end = time.process_time() - cpu0, time.perf_counter() - wall0, time.time()
        stream.cancel()
    return {
        "published_per_s": published / wall,
        "cpu_us_per_change": cpu / max(published, 1) * 1e6,
        "cpu_share": cpu / wall,
        "window": (start, end),
    }


def _received(buckets: dict[str, int], window: tuple[float, float]) -> float:
    """Messages per second the subscriber got within a window (whole tenths of a second inside it)."""
    first, last = int(window[0] * 10) + 1, int(window[1] * 10) - 1
    count = sum(n for tenth, n in buckets.items() if first <= int(tenth) <= last)
    return count / max((last - first + 1) / 10, 0.1)


def _one_run(args: argparse.Namespace, mosquitto: str, work: Path) -> dict[str, Any]:
    port = _free_port()
    conf = work / "m.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n"
    )
    broker = subprocess.Popen([mosquitto, "-c", str(conf)], stderr=subprocess.DEVNULL)
    counter = None
    try:
        time.sleep(0.3)
        topic = "spBv1.0/#" if args.layout == "sparkplug" else "mxgateway/#"
        counter = subprocess.Popen(
            [sys.executable, "-c", _COUNTER, str(port), topic], stdout=subprocess.PIPE, text=True
        )
        assert counter.stdout is not None
        counter.stdout.readline()
        store = work / f"q-{time.monotonic_ns()}.sqlite3"
        source = [
            sys.executable,
            str(BENCH_DIR / "_plant_server.py"),
            "--tags",
            str(args.tags),
            "--rate",
            str(args.rate),
        ]
        with _server_process(source) as server:
            bridge = asyncio.run(_bridge(server.endpoint, port, store, args.seconds, args.layout))
            time.sleep(0.5)
            baseline = asyncio.run(
                _baseline(server.endpoint, port, bridge.pop("tag_infos"), args.seconds, args.layout)
            )
        counter.send_signal(signal.SIGINT)
        buckets = json.loads(counter.communicate(timeout=10)[0].strip().splitlines()[-1] or "{}")
    finally:
        if counter is not None and counter.poll() is None:
            counter.kill()
        broker.terminate()
        broker.wait(10)
    bridge["received_per_s"] = _received(buckets, bridge.pop("window"))
    baseline["received_per_s"] = _received(buckets, baseline.pop("window"))
    return {
        "bridge": {k: round(v, 2) if isinstance(v, float) else v for k, v in bridge.items()},
        "baseline": {k: round(v, 2) if isinstance(v, float) else v for k, v in baseline.items()},
        "cpu_ratio": round(bridge["cpu_us_per_change"] / baseline["cpu_us_per_change"], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--tags", type=int, default=1200)
    parser.add_argument("--rate", type=float, default=12_000.0, help="changes per second the gateway sends")
    parser.add_argument("--layout", choices=["uns", "sparkplug"], default="uns")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    mosquitto = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if mosquitto is None:
        print("bench/bridge.py needs the mosquitto binary (apt-get install mosquitto)", file=sys.stderr)
        return 2
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for number in range(args.runs):
            run = _one_run(args, mosquitto, work)
            runs.append(run)
            print(json.dumps({"run": number + 1, "layout": args.layout, **run}, sort_keys=True), flush=True)
    result = {
        "layout": args.layout,
        "source_changes_per_s": args.rate,
        "tags": args.tags,
        "seconds": args.seconds,
        "runs": len(runs),
        "median_cpu_ratio": statistics.median(r["cpu_ratio"] for r in runs),
        "median_bridge_received_per_s": statistics.median(r["bridge"]["received_per_s"] for r in runs),
        "median_bridge_cpu_us_per_change": statistics.median(r["bridge"]["cpu_us_per_change"] for r in runs),
        "median_baseline_cpu_us_per_change": statistics.median(
            r["baseline"]["cpu_us_per_change"] for r in runs
        ),
        "median_baseline_received_per_s": statistics.median(r["baseline"]["received_per_s"] for r in runs),
    }
    print(json.dumps(result, sort_keys=True))
    print(
        f"bridge ({args.layout}): {result['median_bridge_received_per_s']:,.0f} changes/s through Mosquitto, "
        f"{result['median_bridge_cpu_us_per_change']:.1f} us CPU per change = {result['median_cpu_ratio']:.2f}x "
        f"the raw baseline's {result['median_baseline_cpu_us_per_change']:.1f} us (medians of {len(runs)} runs)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
