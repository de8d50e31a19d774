"""Outages on both sides: the broker stopped while values change, the gateway cut."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from mxgateway import Client, ClientOptions, ReconnectPolicy
from mxgateway.bridge import Bridge
from mxgateway.simulator.faultproxy import FaultProxy
from mxgateway.simulator.server import Simulator

from .conftest import Mosquitto, Recorder, bridge_config, running, until

pytestmark = pytest.mark.anyio

NOTES = "Tank_001.Notes"
NOTES_TOPIC = "mxgateway/WaterPlant/Intake/Tank_001/Notes"
FAST = ReconnectPolicy(initial_backoff_s=0.05, max_backoff_s=0.5)


def notes_seen(recorder: Recorder) -> list[str]:
    # A clean stop republishes the retained values marked stale: not a change.
    documents = [json.loads(p) for p in recorder.on(NOTES_TOPIC)]
    return [d["value"] for d in documents if d["value"].startswith("v") and not d.get("stale")]


async def test_broker_stopped_for_5_s_every_change_arrives_in_order_once(
    broker: Mosquitto, sim: Simulator, tmp_path: Path
) -> None:
    async with FaultProxy("127.0.0.1", broker.port) as broker_proxy:
        # The bridge reaches the broker through a proxy: after the restart the test's own
        # subscriber is back before the bridge is let in, so it sees every message.
        config = bridge_config(
            broker_proxy.port, sim.endpoint, tmp_path / "q.sqlite3", publish=f'tags = ["{NOTES}"]'
        )
        bridge = Bridge(config)
        written: list[str] = []
        async with (
            Recorder(broker.port) as recorder,
            running(bridge),
            Client(endpoint=sim.endpoint, plaintext=True) as writer,
        ):

            async def write(count: int) -> None:
                for _ in range(count):
                    value = f"v{len(written):04d}"
                    await writer.write_tag(NOTES, value)
                    written.append(value)
                    await asyncio.sleep(0.02)

            await write(20)
            await until(lambda: len(notes_seen(recorder)) == 20, 10, "the first changes")
            broker.stop()
            loop = asyncio.get_running_loop()
            started = loop.time()
            await write(150)  # about 5 s of changes while the broker is down
            assert not bridge.broker_connected
            await asyncio.sleep(max(0.0, 5.0 - (loop.time() - started)))
            assert bridge.counters.queued >= 150
            assert bridge.waiting >= 150
            await broker_proxy.cut(2.0)
            broker.start()
            await asyncio.wait_for(recorder.subscribed.wait(), 2)
            await write(20)
            await until(
                lambda: len(notes_seen(recorder)) >= len(written), 20, "every change after the restart"
            )
            await asyncio.sleep(0.3)  # a duplicate would arrive now
        assert notes_seen(recorder) == written
        assert bridge.counters.dropped == 0
        assert bridge.counters.broker_connects == 2


async def test_a_gateway_cut_is_recovered_and_current_values_republished(
    broker: Mosquitto, tmp_path: Path
) -> None:
    async with (
        Simulator(update_rate_hz=0, detach_grace_s=0.5) as sim,
        FaultProxy(sim.host, sim.port) as proxy,
    ):
        options = ClientOptions(endpoint=proxy.endpoint, default_timeout=5.0, reconnect=FAST)
        async with Client(options=options) as client, Client(endpoint=sim.endpoint, plaintext=True) as writer:
            config = bridge_config(
                broker.port, proxy.endpoint, tmp_path / "q.sqlite3", publish=f'tags = ["{NOTES}"]'
            )
            bridge = Bridge(config, client=client)
            async with Recorder(broker.port) as recorder, running(bridge):
                await writer.write_tag(NOTES, "v-before")
                await until(lambda: notes_seen(recorder) == ["v-before"], 10, "the value before the cut")
                old_session = client.session_id
                await proxy.cut(2.0)  # longer than the detach grace: the session is lost
                await writer.write_tag(NOTES, "v-during")
                await until(lambda: client.session_id not in ("", old_session), 20, "the recovered session")
                # Recovery re-advises: the current value is republished.
                await until(lambda: notes_seen(recorder)[-1:] == ["v-during"], 10, "the value after recovery")
                await writer.write_tag(NOTES, "v-after")
                await until(
                    lambda: notes_seen(recorder)[-1:] == ["v-after"], 10, "a change on the new session"
                )
            assert client.session_id != old_session
            assert notes_seen(recorder) == ["v-before", "v-during", "v-after"]
            assert bridge.counters.dropped == 0
