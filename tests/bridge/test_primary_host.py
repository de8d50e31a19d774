"""The primary host's STATE gates the births: store while it is offline, deliver everything after."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import aiomqtt
import pytest

from mxgateway import Client
from mxgateway.bridge import Bridge
from mxgateway.simulator.server import Simulator

from .conftest import Mosquitto, Recorder, bridge_config, running, until
from .sparkplug_host import Host, Seen, state

pytestmark = pytest.mark.anyio

PRIMARY = '[topics]\nlayout = "sparkplug"\ngroup_id = "Plant"\nedge_node_id = "bridge1"\nprimary_host_id = "scada"\n'
STATE_TOPIC = "spBv1.0/STATE/scada"
NOTES = "Tank_001.Notes"


def notes(seen: list[Seen]) -> list[tuple[str, bool]]:
    """(value, is_historical) of every Notes metric in DDATA, in order of arrival."""
    out = []
    for s in seen:
        if s.kind == "DDATA" and s.device == "Tank_001":
            out.extend((m.value, m.is_historical) for m in s.payload.metrics if m.name == "Notes")
    return out


async def test_state_offline_online_offline_online_stores_and_delivers_every_change(
    broker: Mosquitto, sim: Simulator, tmp_path: Path
) -> None:
    config = bridge_config(broker.port, sim.endpoint, tmp_path / "q.sqlite3", PRIMARY, f'tags = ["{NOTES}"]')
    bridge = Bridge(config)
    host = Host("Plant", "bridge1")
    written: list[str] = []
    async with (
        aiomqtt.Client("127.0.0.1", broker.port, identifier="scada") as scada,
        Recorder(broker.port, "spBv1.0/Plant/#") as recorder,
    ):
        t0 = int(time.time() * 1000)
        await scada.publish(STATE_TOPIC, state(False, t0), qos=1, retain=True)
        async with running(bridge), Client(endpoint=sim.endpoint, plaintext=True) as writer:

            async def change_steadily() -> None:
                for i in range(2000):  # bounded: the test ends it long before
                    value = f"v{i:04d}"
                    await writer.write_tag(NOTES, value)
                    written.append(value)
                    await asyncio.sleep(0.01)

            changing = asyncio.create_task(change_steadily())
            try:
                # Offline from the start: connected, but nothing published.
                await until(lambda: len(written) >= 40, 10, "changes while the host is offline")
                assert recorder.received == []
                online_1 = time.monotonic()
                await scada.publish(STATE_TOPIC, state(True, t0 + 1), qos=1, retain=True)
                await until(lambda: len(notes(host.all(recorder))) >= 60, 10, "stored and live data")
                # An offline STATE older than the online one is stale: the session goes on.
                await scada.publish(STATE_TOPIC, state(False, t0), qos=1, retain=False)
                delivered = len(notes(host.all(recorder)))
                await until(
                    lambda: len(notes(host.all(recorder))) >= delivered + 20, 10, "data after a stale STATE"
                )
                assert "NDEATH" not in [s.kind for s in host.all(recorder)]
                offline_at = time.monotonic()
                await scada.publish(STATE_TOPIC, state(False, t0 + 1), qos=1, retain=True)
                await until(lambda: "NDEATH" in [s.kind for s in host.all(recorder)], 10, "the NDEATH")
                stored_before = len(written)
                await until(lambda: len(written) >= stored_before + 40, 10, "changes while offline again")
                online_2 = time.monotonic()
                await scada.publish(STATE_TOPIC, state(True, t0 + 2), qos=1, retain=True)
                await until(lambda: len(written) >= stored_before + 80, 10, "changes after the host is back")
            finally:
                changing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await changing
            await until(
                lambda: [v for v, _ in notes(host.all(recorder))][-1:] == written[-1:], 10, "the last change"
            )
        await scada.publish(STATE_TOPIC, b"", qos=1, retain=True)  # clear the retained STATE
    seen = host.all(recorder)
    # Nothing before the host came online; after the NDEATH nothing until it is online again.
    assert all(s.raw.at >= online_1 for s in seen)
    death = next(s for s in seen if s.kind == "NDEATH")
    assert death.raw.at > offline_at
    assert [s.kind for s in seen if death.raw.at < s.raw.at < online_2] == []
    assert (death.raw.qos, death.raw.retain) == (1, False)
    # Two sessions: NDEATH matches the first NBIRTH's bdSeq, the second NBIRTH has the next one.
    nbirths = [s for s in seen if s.kind == "NBIRTH"]
    bd_seqs = [next(m.value for m in b.payload.metrics if m.name == "bdSeq") for b in nbirths]
    assert len(bd_seqs) >= 2
    assert death.payload.bd_seq_metric.value == bd_seqs[0]
    assert bd_seqs[1] == (bd_seqs[0] + 1) % 256
    # Every change delivered once, in order; those stored while offline flagged historical.
    delivered = notes(seen)
    values = [v for v, _ in delivered]
    produced = len(written)
    duplicated = len(values) - len(set(values))
    print(f"\nSTATE outage: produced {produced}, delivered {len(set(values))}, duplicated {duplicated}")
    assert values == written
    assert duplicated == 0
    historical = [v for v, h in delivered if h]
    assert historical[: len(written[:40])] == written[:40]
    assert len(historical) >= 80
    # Each session's live data follows its births; seq is numbered per session from 0.
    for birth in nbirths:
        start = seen.index(birth)
        following = [s for s in seen[start:] if s.kind != "NDEATH"]
        end = next((i for i, s in enumerate(following) if i and s.kind == "NBIRTH"), len(following))
        assert [s.payload.seq for s in following[:end]] == [i % 256 for i in range(end)]


def answer_ddata_late(monkeypatch: pytest.MonkeyPatch, seconds: float, *, swallow_cancel: bool) -> None:
    """Every DDATA publish reaches the broker at once, but returns only ``seconds`` later.

    With ``swallow_cancel``, a cancelled publish returns normally: what aiomqtt's
    ``asyncio.wait_for`` does before Python 3.12 when the cancellation and the broker's
    answer land in one loop iteration, a coincidence too rare to await in a test.
    """
    original = aiomqtt.Client.publish

    async def publish(self: aiomqtt.Client, topic: str, *args: object, **kwargs: object) -> None:
        await original(self, topic, *args, **kwargs)  # type: ignore[arg-type]
        if "/DDATA/" in topic:
            if swallow_cancel:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(seconds)
            else:
                await asyncio.sleep(seconds)

    monkeypatch.setattr(aiomqtt.Client, "publish", publish)


async def test_offline_state_ends_the_session_while_a_publish_swallows_its_cancellation(
    broker: Mosquitto, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer_ddata_late(monkeypatch, 30, swallow_cancel=True)
    config = bridge_config(broker.port, sim.endpoint, tmp_path / "q.sqlite3", PRIMARY, f'tags = ["{NOTES}"]')
    host = Host("Plant", "bridge1")
    async with (
        aiomqtt.Client("127.0.0.1", broker.port, identifier="scada") as scada,
        Recorder(broker.port, "spBv1.0/Plant/#") as recorder,
    ):
        t0 = int(time.time() * 1000)
        await scada.publish(STATE_TOPIC, state(True, t0), qos=1, retain=True)
        async with running(Bridge(config)), Client(endpoint=sim.endpoint, plaintext=True) as writer:
            await until(lambda: "NBIRTH" in [s.kind for s in host.all(recorder)], 10, "the NBIRTH")
            await writer.write_tag(NOTES, "while the drain waits")
            await until(lambda: len(notes(host.all(recorder))) >= 1, 10, "a DDATA in flight")
            offline_at = time.monotonic()
            await scada.publish(STATE_TOPIC, state(False, t0 + 1), qos=1, retain=True)
            await until(lambda: "NDEATH" in [s.kind for s in host.all(recorder)], 5, "the NDEATH")
        await scada.publish(STATE_TOPIC, b"", qos=1, retain=True)  # clear the retained STATE
    seen = host.all(recorder)
    death = next(s for s in seen if s.kind == "NDEATH")
    assert offline_at < death.raw.at < offline_at + 5
    nbirth = next(s for s in seen if s.kind == "NBIRTH")
    assert death.payload.bd_seq_metric.value == next(
        m.value for m in nbirth.payload.metrics if m.name == "bdSeq"
    )


async def test_offline_state_while_a_batch_is_in_flight_sends_each_change_once(
    broker: Mosquitto, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The DDATA is at the broker (and the recorder) a second before its publish returns:
    # the offline STATE lands while its batch is in flight.
    answer_ddata_late(monkeypatch, 1.0, swallow_cancel=False)
    config = bridge_config(broker.port, sim.endpoint, tmp_path / "q.sqlite3", PRIMARY, f'tags = ["{NOTES}"]')
    host = Host("Plant", "bridge1")
    async with (
        aiomqtt.Client("127.0.0.1", broker.port, identifier="scada") as scada,
        Recorder(broker.port, "spBv1.0/Plant/#") as recorder,
    ):
        t0 = int(time.time() * 1000)
        await scada.publish(STATE_TOPIC, state(True, t0), qos=1, retain=True)
        async with running(Bridge(config)), Client(endpoint=sim.endpoint, plaintext=True) as writer:
            await until(lambda: "NBIRTH" in [s.kind for s in host.all(recorder)], 10, "the NBIRTH")
            await writer.write_tag(NOTES, "in flight")
            await until(lambda: ("in flight", False) in notes(host.all(recorder)), 10, "the DDATA")
            await scada.publish(STATE_TOPIC, state(False, t0 + 1), qos=1, retain=True)
            await until(lambda: "NDEATH" in [s.kind for s in host.all(recorder)], 5, "the NDEATH")
            await writer.write_tag(NOTES, "stored")
            await scada.publish(STATE_TOPIC, state(True, t0 + 2), qos=1, retain=True)
            await until(lambda: ("stored", True) in notes(host.all(recorder)), 10, "the stored change")
        await scada.publish(STATE_TOPIC, b"", qos=1, retain=True)  # clear the retained STATE
    seen = host.all(recorder)
    assert [s.kind for s in seen].count("NBIRTH") == 2
    assert [v for v, _ in notes(seen)] == ["in flight", "stored"]
