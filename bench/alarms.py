"""Alarms pair: transitions consumed through ``AlarmFeed`` against raw StreamAlarms iteration.

The simulator process (``bench/_alarm_server.py``) serves a generated Galaxy whose
alarm attributes all toggle every 6 simulated seconds, and moves only on command.
Each round attaches a consumer (the raw stub call, or an ``AlarmFeed``), reads its
opening snapshot and status untimed, then starts the clock, tells the simulator to
make a storm of transitions (every alarm toggles K times, all queued for the feed
at once) and stops the clock when the consumer has seen all of them. Both sides
pay the same storm on the server; the simulator's CPU during the window is
recorded, so a server-bound round shows.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from bench._common import BENCH_DIR, Clock, Result, Sample, ServerProcess, interleave
from mxgateway import AlarmTransition, GatewayClient
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.generated import mxaccess_gateway_pb2_grpc as pb_grpc


@dataclass
class AlarmsConfig:
    objects: int
    storms: int
    rounds: int


@dataclass
class AlarmServer:
    process: ServerProcess
    alarms: int
    control: IO[str]
    replies: IO[str]

    def storm(self, times: int) -> None:
        self.control.write(f"storm {times}\n")
        self.control.flush()

    def wait_storm(self) -> None:
        if self.replies.readline().strip() != "ok":
            raise RuntimeError("the alarm simulator did not confirm the storm")


@contextmanager
def alarm_server(objects: int) -> Iterator[AlarmServer]:
    """The alarm simulator in its own process, stopped on exit."""
    command = [sys.executable, str(BENCH_DIR / "_alarm_server.py"), "--objects", str(objects)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdin is not None
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the alarm simulator exited with {process.wait()}")
        info = json.loads(line)
        yield AlarmServer(
            ServerProcess(info["endpoint"], info["pid"]), info["alarms"], process.stdin, process.stdout
        )
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _median(values: list[float]) -> float:
    values = sorted(values)
    middle = len(values) // 2
    return round(values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2, 4)


async def _connect(endpoint: str) -> GatewayClient:
    return await GatewayClient.connect(endpoint, plaintext=True)


def run(server: AlarmServer, config: AlarmsConfig) -> Result:
    loop = asyncio.new_event_loop()
    clock = Clock(server.process)
    expected = server.alarms * config.storms
    client = loop.run_until_complete(_connect(server.process.endpoint))
    stub = pb_grpc.MxAccessGatewayStub(client.channel)

    async def storm_started() -> None:
        # The storm is requested from a thread: the loop keeps reading meanwhile.
        await loop.run_in_executor(None, server.storm, config.storms)

    async def raw() -> Sample:
        call = stub.StreamAlarms(pb.StreamAlarmsRequest())
        async for message in call:
            if message.WhichOneof("payload") == "provider_status":
                break
        started = clock.start()
        await storm_started()
        count = 0
        async for message in call:
            if message.WhichOneof("payload") == "transition":
                count += 1
                if count >= expected:
                    break
        sample = clock.stop(started, count)
        call.cancel()
        await loop.run_in_executor(None, server.wait_storm)
        return sample

    async def feed() -> Sample:
        async with client.alarm_feed(queue_size=expected + 16) as alarm_feed:
            await alarm_feed.__anext__()  # the provider status
            started = clock.start()
            await storm_started()
            count = 0
            async for event in alarm_feed:
                if isinstance(event, AlarmTransition):
                    count += 1
                    if count >= expected:
                        break
            sample = clock.stop(started, count)
        await loop.run_in_executor(None, server.wait_storm)
        return sample

    try:
        loop.run_until_complete(raw())
        loop.run_until_complete(feed())
        base, cand = interleave(
            config.rounds, lambda: loop.run_until_complete(raw()), lambda: loop.run_until_complete(feed())
        )
    finally:
        loop.run_until_complete(client.close())
        loop.close()
    for sample in base + cand:
        if sample.ops != expected:
            raise RuntimeError(f"a consumer saw {sample.ops} transitions instead of {expected}")
    ratios = [c.per_s / b.per_s for b, c in zip(base, cand, strict=True)]
    return Result(
        name="alarms",
        baseline="raw StreamAlarms iteration",
        candidate="AlarmFeed",
        metric="throughput",
        unit="transitions/s",
        baseline_median=_median([b.per_s for b in base]),
        candidate_median=_median([c.per_s for c in cand]),
        ratio_median=_median(ratios),
        ratios=[round(r, 4) for r in ratios],
        target=0.85,
        extra={
            "rounds": len(ratios),
            "transitions_per_round": expected,
            "server_utilisation_during_window": {
                "baseline": _median([b.server_utilisation for b in base]),
                "candidate": _median([c.server_utilisation for c in cand]),
            },
            "client_cpu_per_transition_us": {
                "baseline": _median([b.cpu_s / b.ops * 1e6 for b in base]),
                "candidate": _median([c.cpu_s / c.ops * 1e6 for c in cand]),
            },
        },
    )
