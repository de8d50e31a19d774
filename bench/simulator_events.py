"""How many events per second the simulator serves to one raw-stub subscriber.

Each run starts a simulator in its own process (a generated Galaxy, a high update
rate), advises every attribute through the raw generated stub, opens one
StreamEvents call and counts the events received over a fixed window. Prints one
human line and one JSON line with the median of the runs.

    python bench/simulator_events.py [--objects 1000] [--rate 10] [--seconds 3] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc.aio

from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.generated import mxaccess_gateway_pb2_grpc
from mxgateway.simulator.demo_plant import generate_galaxy

#: The simulator process: a Simulator on the generated Galaxy, printing its endpoint.
SERVER = """
import asyncio, json, sys
from mxgateway.simulator.galaxy import Galaxy
from mxgateway.simulator.server import Simulator

async def serve():
    simulator = Simulator(galaxy=Galaxy.load(sys.argv[1]), port=0, update_rate_hz=float(sys.argv[2]))
    async with simulator:
        print(json.dumps({"endpoint": simulator.endpoint}), flush=True)
        await asyncio.Event().wait()

asyncio.run(serve())
"""


async def start_simulator(galaxy_file: Path, rate: float) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVER, str(galaxy_file), str(rate), stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    return process, json.loads(line)["endpoint"]


async def one_run(galaxy_file: Path, tags: list[str], rate: float, seconds: float) -> dict[str, float]:
    process, endpoint = await start_simulator(galaxy_file, rate)
    try:
        async with grpc.aio.insecure_channel(endpoint) as channel:
            stub = mxaccess_gateway_pb2_grpc.MxAccessGatewayStub(channel)
            session = (await stub.OpenSession(pb.OpenSessionRequest(client_session_name="bench"))).session_id
            stream = stub.StreamEvents(pb.StreamEventsRequest(session_id=session))
            await stream.initial_metadata()

            async def invoke(kind: int, **payload: object) -> pb.MxCommandReply:
                command = pb.MxCommand(kind=kind, **payload)  # type: ignore[arg-type]
                reply: pb.MxCommandReply = await stub.Invoke(
                    pb.MxCommandRequest(session_id=session, command=command)
                )
                return reply

            handle = (
                await invoke(pb.MX_COMMAND_KIND_REGISTER, register=pb.RegisterCommand(client_name="bench"))
            ).register.server_handle
            subscribed = await invoke(
                pb.MX_COMMAND_KIND_SUBSCRIBE_BULK,
                subscribe_bulk=pb.SubscribeBulkCommand(server_handle=handle, tag_addresses=tags),
            )
            advised = sum(r.was_successful for r in subscribed.bulk_subscribe.results)

            warm_up_until = time.monotonic() + 0.5
            while time.monotonic() < warm_up_until:
                await stream.read()
            count, first_sequence, last_sequence = 0, 0, 0
            started = time.monotonic()
            deadline = started + seconds
            while time.monotonic() < deadline:
                event = await stream.read()
                count += 1
                first_sequence = first_sequence or event.worker_sequence
                last_sequence = event.worker_sequence
            elapsed = time.monotonic() - started
            stream.cancel()
    finally:
        process.terminate()
        await process.wait()
    published = last_sequence - first_sequence + 1
    return {
        "advised_items": advised,
        "events": count,
        "seconds": elapsed,
        "events_per_s": count / elapsed,
        "dropped": published - count,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    galaxy = generate_galaxy(args.objects)
    tags = [attribute.full_tag_reference for attribute in galaxy.attributes.values()]
    with tempfile.TemporaryDirectory() as directory:
        galaxy_file = Path(directory) / "galaxy.json"
        galaxy.save(galaxy_file)
        runs = [await one_run(galaxy_file, tags, args.rate, args.seconds) for _ in range(args.runs)]
    rates = [run["events_per_s"] for run in runs]
    median = statistics.median(rates)
    print(
        f"simulator events/s to one raw-stub subscriber: median {median:,.0f} "
        f"(runs: {', '.join(f'{r:,.0f}' for r in rates)}; {len(tags)} advised items at {args.rate:g} Hz)"
    )
    print(
        json.dumps(
            {
                "benchmark": "simulator_events",
                "median_events_per_s": round(median),
                "runs": [{k: round(v, 3) for k, v in run.items()} for run in runs],
                "advised_items": len(tags),
                "update_rate_hz": args.rate,
            },
            sort_keys=True,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
