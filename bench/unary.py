"""Unary pairs: Session.write against the raw stub, the blocking facade against the async core,
and read_bulk / subscribe_bulk of many tags against the raw stub.

Every pair talks to one simulator process over loopback; the raw stub shares the SDK
client's channel, so both sides use the same transport and differ only in the layer
above the generated stub. Both sides of a pair do the same work: no session here has
an event stream (each is attached, so its event pump never starts, and the raw side
opens none), and ``read_bulk`` hands back the results without looking at them on
either side, ``read_bulk_each`` reads every result's tag, outcome and quality on both.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import mxgateway_sync
from bench._common import Clock, Result, Sample, ServerProcess, interleave, time_result
from mxgateway import GatewayClient, Session, call_metadata
from mxgateway.generated import mxaccess_gateway_pb2 as pb
from mxgateway.generated import mxaccess_gateway_pb2_grpc as pb_grpc

DOUBLE = pb.MX_DATA_TYPE_DOUBLE
TIMEOUT_S = 30.0
#: A 10,000-tag read may cost the client at most this much CPU over the raw stub's.
READ_CPU_TARGET = 1.2
#: Client CPU per blocking call over the async call's: one thread hop each way.
SYNC_CPU_TARGET = 1.25


@dataclass
class UnaryConfig:
    rounds: int
    writes_per_round: int
    bulk_calls_per_round: int
    bulk_rounds: int


class _Fixture:
    """One async client, one session, one server handle and a Double item, on a private loop."""

    def __init__(self, server: ServerProcess, tags: list[str]) -> None:
        self.server = server
        self.clock = Clock(server)
        self.tags = tags
        self.loop = asyncio.new_event_loop()
        self.run(self._open())

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(coro)

    async def _open(self) -> None:
        self.client = await GatewayClient.connect(self.server.endpoint, plaintext=True)
        # Attached rather than opened: its event stream then starts only when asked,
        # so the events the bulk pairs raise do not cost either side CPU in this process.
        opened = await self.client.open_session_raw("bench")
        self.session: Session = self.client.attach_session(opened.session_id)
        self.stub = pb_grpc.MxAccessGatewayStub(self.client.channel)
        self.metadata = call_metadata(self.client.options)
        self.server_handle = await self.session.register("bench")
        double_tag = next(t for t in self.tags if ".Double" in t)
        self.double_tag = double_tag
        self.item = await self.session.add_item(self.server_handle, double_tag)

    def close(self) -> None:
        self.run(self.client.close())
        self.loop.close()

    def timed(self, body: Callable[[int], Coroutine[Any, Any, None]], ops: int) -> Sample:
        async def go() -> Sample:
            started = self.clock.start()
            await body(ops)
            return self.clock.stop(started, ops)

        result: Sample = self.run(go())
        return result


_values = itertools.count()


def _next_value() -> float:
    return float(next(_values) % 1000) + 0.5


def bench_write(fx: _Fixture, config: UnaryConfig) -> Result:
    session_id, handle, item = fx.session.session_id, fx.server_handle, fx.item
    stub, metadata, session = fx.stub, fx.metadata, fx.session

    async def raw(ops: int) -> None:
        invoke = stub.Invoke
        for _ in range(ops):
            request = pb.MxCommandRequest(
                session_id=session_id,
                command=pb.MxCommand(
                    kind=pb.MX_COMMAND_KIND_WRITE,
                    write=pb.WriteCommand(
                        server_handle=handle,
                        item_handle=item,
                        value=pb.MxValue(double_value=_next_value(), data_type=DOUBLE, variant_type=pb.VT_R8),
                    ),
                ),
            )
            reply = await invoke(request, timeout=TIMEOUT_S, metadata=metadata)
            if reply.protocol_status.code not in (0, pb.PROTOCOL_STATUS_CODE_OK) or reply.hresult:
                raise RuntimeError(f"raw write failed: {reply}")

    async def typed(ops: int) -> None:
        for _ in range(ops):
            await session.write(handle, item, _next_value(), data_type=DOUBLE)

    ops = config.writes_per_round
    fx.run(raw(50))
    fx.run(typed(50))
    base, cand = interleave(config.rounds, lambda: fx.timed(raw, ops), lambda: fx.timed(typed, ops))
    return time_result(
        "write_async",
        "raw stub Invoke (WRITE)",
        "Session.write",
        base,
        cand,
        1.10,
        extra={"writes_per_round": ops, "tag": fx.double_tag},
    )


def bench_write_sync(fx: _Fixture, config: UnaryConfig) -> Result:
    handle, item, session = fx.server_handle, fx.item, fx.session
    sync_client = mxgateway_sync.GatewayClient.connect(fx.server.endpoint, plaintext=True)
    try:
        # Attached like the async side's session: neither has an event stream whose
        # write outcomes would cost one side CPU the other does not spend.
        sync_session = sync_client.attach_session(sync_client.open_session_raw("bench-sync").session_id)
        sync_handle = sync_session.register("bench-sync")
        sync_item = sync_session.add_item(sync_handle, fx.double_tag)

        async def typed(ops: int) -> None:
            for _ in range(ops):
                await session.write(handle, item, _next_value(), data_type=DOUBLE)

        def blocking(ops: int) -> Sample:
            write = sync_session.write
            started = fx.clock.start()
            for _ in range(ops):
                write(sync_handle, sync_item, _next_value(), data_type=DOUBLE)
            return fx.clock.stop(started, ops)

        ops = config.writes_per_round
        fx.run(typed(50))
        blocking(50)
        base, cand = interleave(config.rounds, lambda: fx.timed(typed, ops), lambda: blocking(ops))
    finally:
        sync_client.close()
    return time_result(
        "write_sync",
        "async Session.write",
        "mxgateway_sync Session.write",
        base,
        cand,
        1.25,
        extra={"writes_per_round": ops},
        cpu_target=SYNC_CPU_TARGET,
    )


def bench_read_bulk(fx: _Fixture, config: UnaryConfig, tags: list[str], *, each: bool = False) -> Result:
    """One READ_BULK of ``tags``: the results handed back as they are, or (``each``) every one looked at."""
    session_id, handle, stub, metadata, session = (
        fx.session.session_id,
        fx.server_handle,
        fx.stub,
        fx.metadata,
        fx.session,
    )

    async def raw(calls: int) -> None:
        for _ in range(calls):
            request = pb.MxCommandRequest(
                session_id=session_id,
                command=pb.MxCommand(
                    kind=pb.MX_COMMAND_KIND_READ_BULK,
                    read_bulk=pb.ReadBulkCommand(server_handle=handle, tag_addresses=tags),
                ),
            )
            reply = await stub.Invoke(request, timeout=TIMEOUT_S, metadata=metadata)
            results = reply.bulk_read.results
            if len(results) != len(tags):
                raise RuntimeError("raw read_bulk returned too few results")
            if each:
                good = sum(1 for r in results if r.tag_address and r.was_successful and r.quality >= 192)
                if good != len(tags):
                    raise RuntimeError("raw read_bulk: not every tag was read")

    async def typed(calls: int) -> None:
        for _ in range(calls):
            results = await session.read_bulk(handle, tags)
            if len(results) != len(tags):
                raise RuntimeError("read_bulk returned too few results")
            if each:
                good = sum(1 for r in results if r.tag and r.ok and r.quality >= 192)
                if good != len(tags):
                    raise RuntimeError("read_bulk: not every tag was read")

    calls = config.bulk_calls_per_round
    fx.run(raw(1))
    fx.run(typed(1))
    base, cand = interleave(config.bulk_rounds, lambda: fx.timed(raw, calls), lambda: fx.timed(typed, calls))
    looked_at = ", every result's tag, outcome and quality read" if each else ""
    return time_result(
        "read_bulk_each" if each else "read_bulk",
        f"raw stub Invoke (READ_BULK, {len(tags):,} tags{looked_at})",
        f"Session.read_bulk ({len(tags):,} tags{looked_at})",
        base,
        cand,
        1.10,
        unit="ms/call",
        scale=1e3,
        extra={"tags": len(tags), "calls_per_round": calls},
        cpu_target=None if each else READ_CPU_TARGET,
    )


def bench_subscribe_bulk(fx: _Fixture, config: UnaryConfig, tags: list[str]) -> Result:
    session_id, stub, metadata, session = fx.session.session_id, fx.stub, fx.metadata, fx.session

    async def command(kind: int, **payload: Any) -> pb.MxCommandReply:
        request = pb.MxCommandRequest(session_id=session_id, command=pb.MxCommand(kind=kind, **payload))  # type: ignore[arg-type]
        reply: pb.MxCommandReply = await stub.Invoke(request, timeout=TIMEOUT_S, metadata=metadata)
        return reply

    def timed(subscribe: Callable[[int], Coroutine[Any, Any, list[int]]]) -> Sample:
        # One fresh server handle per call; unsubscribing and unregistering are not timed.
        total = Sample(0.0, 0.0, 0.0, 0)
        for _ in range(config.bulk_calls_per_round):
            server_handle = fx.run(session.register("bench-subscribe"))
            started = fx.clock.start()
            handles = fx.run(subscribe(server_handle))
            sample = fx.clock.stop(started, 1)
            if len(handles) != len(tags):
                raise RuntimeError("subscribe_bulk returned too few results")
            fx.run(session.unsubscribe_bulk(server_handle, handles))
            fx.run(session.unregister(server_handle))
            total = Sample(
                total.wall_s + sample.wall_s,
                total.cpu_s + sample.cpu_s,
                total.server_cpu_s + sample.server_cpu_s,
                total.ops + 1,
            )
        return total

    async def raw(server_handle: int) -> list[int]:
        reply = await command(
            pb.MX_COMMAND_KIND_SUBSCRIBE_BULK,
            subscribe_bulk=pb.SubscribeBulkCommand(server_handle=server_handle, tag_addresses=tags),
        )
        return [r.item_handle for r in reply.bulk_subscribe.results]

    async def typed(server_handle: int) -> list[int]:
        return [r.item_handle for r in await session.subscribe_bulk(server_handle, tags)]

    timed(raw)
    timed(typed)
    base, cand = interleave(config.bulk_rounds, lambda: timed(raw), lambda: timed(typed))
    # The bare call, for comparison with the subscribe_receive pair (the user's task):
    # neither side has an event stream, so neither receives the values it raises.
    return time_result(
        "subscribe_bulk",
        f"raw stub Invoke (SUBSCRIBE_BULK, {len(tags):,} tags, no stream)",
        f"Session.subscribe_bulk ({len(tags):,} tags, no stream)",
        base,
        cand,
        1.10,
        unit="ms/call",
        scale=1e3,
        extra={"tags": len(tags), "calls_per_round": config.bulk_calls_per_round},
    )


def run(
    server: ServerProcess, tags: list[str], config: UnaryConfig, bulk_tags: int, *, canned: bool = False
) -> list[Result]:
    """The unary pairs; against the canned-reply server (``canned``) without the facade pair."""
    fx = _Fixture(server, tags)
    try:
        results = [bench_write(fx, config)]
        if not canned:
            results.append(bench_write_sync(fx, config))
        results.append(bench_read_bulk(fx, config, tags[:bulk_tags]))
        results.append(bench_read_bulk(fx, config, tags[:bulk_tags], each=True))
        results.append(bench_subscribe_bulk(fx, config, tags[:bulk_tags]))
    finally:
        fx.close()
    if canned:
        for result in results:
            result.name += "_canned"
            result.baseline += " (canned-reply server)"
    return results
