"""The MQTT bridge: changes per second from the gateway to the broker, and the bridge's CPU per change.

    python bench/bridge.py [--seconds S] [--objects N] [--rate HZ] [--layout uns|sparkplug]

Not a ratio benchmark and not part of ``bench/run.py``: it needs a Mosquitto binary.
The simulator runs in its own process (a generated Galaxy whose values all move
``--rate`` times a second), Mosquitto in its own, and a subscriber that counts what
arrives in a third; this process runs only the bridge, so its CPU time divided by
the messages the broker acknowledged is the bridge's CPU per change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import simulator_process  # noqa: E402
from mxgateway.bridge import Bridge, parse_config  # noqa: E402
from mxgateway.simulator.demo_plant import generate_galaxy  # noqa: E402

_COUNTER = """
import asyncio, sys, aiomqtt
async def main():
    count = 0
    async with aiomqtt.Client("127.0.0.1", int(sys.argv[1]), identifier="bench-counter") as client:
        await client.subscribe(sys.argv[2], qos=1)
        print("ready", flush=True)
        try:
            async for _ in client.messages:
                count += 1
        finally:
            print(count, flush=True)
try:
    asyncio.run(main())
except KeyboardInterrupt:
    pass
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _measure(endpoint: str, port: int, store: Path, seconds: float, layout: str) -> dict[str, Any]:
    text = f"""
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
    bridge = Bridge(parse_config(text, "bench"))
    task = asyncio.create_task(bridge.run())
    await asyncio.wait_for(bridge.wait_ready(), 60)
    await asyncio.sleep(1.0)  # the initial values and the first changes settle
    c = bridge.counters
    changes0, published0 = c.changes, c.published
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    changes, published = c.changes - changes0, c.published - published0
    bridge.stop()
    await asyncio.wait_for(task, 30)
    return {
        "tags": len(bridge.tags),
        "changes_per_s": round(changes / wall),
        "published_per_s": round(published / wall),
        "bridge_cpu_us_per_change": round(cpu / max(published, 1) * 1e6, 1),
        "bridge_cpu_share": round(cpu / wall, 2),
        "waiting_at_end": bridge.waiting,
        "changes_total": c.changes,
        "published_total": c.published,
        "dropped": c.dropped,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--objects", type=int, default=300)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--layout", choices=["uns", "sparkplug"], default="uns")
    args = parser.parse_args()
    mosquitto = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if mosquitto is None:
        print("bench/bridge.py needs the mosquitto binary (apt-get install mosquitto)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        galaxy_file = work / "galaxy.json"
        generate_galaxy(args.objects).save(galaxy_file)
        port = _free_port()
        (work / "m.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        broker = subprocess.Popen([mosquitto, "-c", str(work / "m.conf")], stderr=subprocess.DEVNULL)
        counter = None
        try:
            time.sleep(0.5)
            topic = "spBv1.0/#" if args.layout == "sparkplug" else "mxgateway/#"
            counter = subprocess.Popen(
                [sys.executable, "-c", _COUNTER, str(port), topic], stdout=subprocess.PIPE, text=True
            )
            assert counter.stdout is not None
            counter.stdout.readline()
            with simulator_process(galaxy_file, rate=args.rate) as server:
                result = asyncio.run(
                    _measure(server.endpoint, port, work / "q.sqlite3", args.seconds, args.layout)
                )
            counter.send_signal(2)
            received = int(counter.communicate(timeout=10)[0].strip() or 0)
        finally:
            if counter is not None and counter.poll() is None:
                counter.kill()
            broker.terminate()
            broker.wait(10)
    result.update(layout=args.layout, rate_hz=args.rate, seconds=args.seconds, subscriber_received=received)
    print(json.dumps(result, sort_keys=True))
    print(
        f"bridge ({args.layout}): {result['published_per_s']:,} changes/s to the broker "
        f"({result['tags']} tags), {result['bridge_cpu_us_per_change']} us of bridge CPU per change",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
