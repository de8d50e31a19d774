"""Fault injection: make the next calls fail, hold their replies, or make every unary call slow."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import grpc


@dataclass
class Fault:
    """How one call fails: a gRPC status, or a reply carrying a protocol status."""

    grpc_code: grpc.StatusCode | None
    protocol_status: int | None
    message: str


@dataclass
class _Rule:
    remaining: int
    fault: Fault
    methods: frozenset[str] | None


@dataclass
class _Hold:
    remaining: int
    seconds: float
    command_kinds: frozenset[int] | None


class Faults:
    """The simulator's fault plan, shared by every call (``Simulator.faults``)."""

    def __init__(self) -> None:
        #: Seconds added to every unary call.
        self.latency_s = 0.0
        #: Seconds a server-streaming call (StreamEvents, StreamAlarms, ...) waits before it is served.
        self.stream_latency_s = 0.0
        #: When True, writes succeed but their OnWriteComplete outcome never comes.
        self.withhold_write_outcomes = False
        #: When True, a unary call the client gave up on (deadline, cut connection) still
        #: runs to its end, as a gateway's worker runs a command it has queued.
        self.finish_abandoned_calls = False
        self._rules: list[_Rule] = []
        self._holds: list[_Hold] = []

    def __repr__(self) -> str:
        pending = sum(rule.remaining for rule in self._rules)
        return f"Faults(latency_s={self.latency_s}, pending={pending})"

    def fail_next(
        self,
        n: int = 1,
        *,
        grpc_code: grpc.StatusCode | None = None,
        protocol_status: int | None = None,
        message: str = "injected fault",
        methods: Collection[str] | None = None,
    ) -> None:
        """Fail the next ``n`` calls (of ``methods`` only, when given).

        ``methods`` are RPC names (``"Invoke"``) or full paths
        (``"/mxaccess_gateway.v1.MxAccessGateway/Invoke"``). A call fails with
        ``grpc_code``; else, when ``protocol_status`` (a ``ProtocolStatusCode``) is
        given and the RPC's reply has a ``protocol_status`` (OpenSession,
        CloseSession, Invoke), it succeeds with that status; else it fails with
        UNAVAILABLE.
        """
        if n < 1:
            raise ValueError("n must be at least 1")
        fault = Fault(grpc_code, protocol_status, message)
        self._rules.append(_Rule(n, fault, frozenset(methods) if methods is not None else None))

    def hold_replies(
        self, seconds: float, *, n: int = 1, command_kinds: Collection[int] | None = None
    ) -> None:
        """Run the next ``n`` Invoke commands (of ``command_kinds`` only, when given), then hold each reply ``seconds``.

        A slow gateway: the command has run (an item was added, a value written) by the
        time the reply leaves, and meanwhile anything else may happen to the session.
        ``command_kinds`` are ``MxCommandKind`` values (``pb.MX_COMMAND_KIND_ADD_ITEM``).
        """
        if n < 1:
            raise ValueError("n must be at least 1")
        if not seconds >= 0:
            raise ValueError(f"seconds must not be negative, not {seconds!r}")
        kinds = frozenset(command_kinds) if command_kinds is not None else None
        self._holds.append(_Hold(n, seconds, kinds))

    def reply_hold(self, command_kind: int) -> float:
        """Seconds to hold the reply of an Invoke of ``command_kind`` that has just run (0: none)."""
        for hold in self._holds:
            if hold.command_kinds is None or command_kind in hold.command_kinds:
                hold.remaining -= 1
                if hold.remaining <= 0:
                    self._holds.remove(hold)
                return hold.seconds
        return 0.0

    def clear(self) -> None:
        """Forget every pending fault and the latencies."""
        self._rules.clear()
        self._holds.clear()
        self.latency_s = 0.0
        self.stream_latency_s = 0.0
        self.withhold_write_outcomes = False
        self.finish_abandoned_calls = False

    @property
    def pending(self) -> int:
        """Calls still to fail."""
        return sum(rule.remaining for rule in self._rules)

    def take(self, method: str) -> Fault | None:
        """The fault for this call of the full gRPC ``method`` name, if one is due."""
        short = method.rsplit("/", 1)[-1]
        for rule in self._rules:
            if rule.methods is None or method in rule.methods or short in rule.methods:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._rules.remove(rule)
                return rule.fault
        return None
