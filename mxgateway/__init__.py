"""mxgateway: the async Python SDK for the MXAccess Gateway.

The public names below are imported on first use, so ``import mxgateway`` stays
light (grpc and the generated bindings load with the first client).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mxgateway._version import GATEWAY_PROTOCOL_VERSION, __version__

if TYPE_CHECKING:
    from mxgateway._alarms.feed import AlarmFeed, AlarmFeedEvent
    from mxgateway._alarms.model import (
        Alarm,
        AlarmFeedItem,
        AlarmProviderMode,
        AlarmProviderStatus,
        AlarmSnapshotComplete,
        AlarmState,
        AlarmTransition,
        AlarmTransitionKind,
    )
    from mxgateway._alarms.streams import AlarmStream, RawAlarmStream
    from mxgateway._clients.client import Client
    from mxgateway._clients.gateway_client import GatewayClient
    from mxgateway._events.state import ConnectionState, StateChange
    from mxgateway._events.stream import EventStream
    from mxgateway._model.datatypes import DataType
    from mxgateway._model.display import ResultList
    from mxgateway._model.events import (
        BufferedDataChange,
        BufferedSample,
        DataChange,
        Event,
        EventsDropped,
        OperationComplete,
        ReplayGap,
        SequenceGap,
        SessionRecovered,
        UnknownEvent,
        WriteComplete,
    )
    from mxgateway._model.results import ItemResult, ReadResult, WriteEntry, WriteResult
    from mxgateway._model.sequences import ResultSequence
    from mxgateway._model.status import MxStatus, Quality
    from mxgateway._model.values import from_mx_value, to_mx_value
    from mxgateway._retry import ReconnectPolicy
    from mxgateway._session.session import Session
    from mxgateway._session.subscription import Subscription
    from mxgateway._transport.channel import call_metadata, create_channel
    from mxgateway._transport.connector import Connector
    from mxgateway._transport.streams import RawEventStream
    from mxgateway._views.markers import RecordingGap, RecordingMarker, RecordingRecovery
    from mxgateway.errors import (
        MxAccessError,
        MxGatewayAlarmNotFoundError,
        MxGatewayArgumentError,
        MxGatewayAuthenticationError,
        MxGatewayCancelledError,
        MxGatewayClosedError,
        MxGatewayCommandError,
        MxGatewayError,
        MxGatewayInvalidRequestError,
        MxGatewayNotFoundError,
        MxGatewayObjectNotFoundError,
        MxGatewayPageTokenError,
        MxGatewayPermissionError,
        MxGatewayProtocolViolationError,
        MxGatewaySessionClosedError,
        MxGatewaySessionLostError,
        MxGatewaySessionNotFoundError,
        MxGatewaySessionNotReadyError,
        MxGatewayStalePageTokenError,
        MxGatewayTimeoutError,
        MxGatewayTlsError,
        MxGatewayUnavailableError,
        map_rpc_error,
    )
    from mxgateway.galaxy import (
        BrowseNode,
        DeployEventStream,
        GalaxyRepositoryClient,
        HierarchyFilter,
        HierarchyIterator,
    )
    from mxgateway.galaxy._types import GalaxyAttribute, GalaxyObject
    from mxgateway.options import USE_CLIENT_DEFAULT, ClientOptions, ConnectKeywords

_EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        [
            "Alarm",
            "AlarmFeedItem",
            "AlarmProviderMode",
            "AlarmProviderStatus",
            "AlarmSnapshotComplete",
            "AlarmState",
            "AlarmTransition",
            "AlarmTransitionKind",
        ],
        "_alarms.model",
    ),
    **dict.fromkeys(["AlarmFeed", "AlarmFeedEvent"], "_alarms.feed"),
    **dict.fromkeys(["AlarmStream", "RawAlarmStream"], "_alarms.streams"),
    "call_metadata": "_transport.channel",
    "create_channel": "_transport.channel",
    "GatewayClient": "_clients.gateway_client",
    "Connector": "_transport.connector",
    "DataType": "_model.datatypes",
    "ResultList": "_model.display",
    "ResultSequence": "_model.sequences",
    **dict.fromkeys(["RecordingGap", "RecordingMarker", "RecordingRecovery"], "_views.markers"),
    "GalaxyAttribute": "galaxy._types",
    "GalaxyObject": "galaxy._types",
    "ClientOptions": "options",
    "ConnectKeywords": "options",
    "USE_CLIENT_DEFAULT": "options",
    "ReconnectPolicy": "_retry",
    "Client": "_clients.client",
    "MxStatus": "_model.status",
    "Quality": "_model.status",
    "from_mx_value": "_model.values",
    "to_mx_value": "_model.values",
    **dict.fromkeys(
        [
            "MxAccessError",
            "MxGatewayAlarmNotFoundError",
            "MxGatewayArgumentError",
            "MxGatewayAuthenticationError",
            "MxGatewayCancelledError",
            "MxGatewayClosedError",
            "MxGatewayCommandError",
            "MxGatewayError",
            "MxGatewayInvalidRequestError",
            "MxGatewayNotFoundError",
            "MxGatewayObjectNotFoundError",
            "MxGatewayPageTokenError",
            "MxGatewayPermissionError",
            "MxGatewayProtocolViolationError",
            "MxGatewaySessionClosedError",
            "MxGatewaySessionLostError",
            "MxGatewaySessionNotFoundError",
            "MxGatewaySessionNotReadyError",
            "MxGatewayStalePageTokenError",
            "MxGatewayTimeoutError",
            "MxGatewayTlsError",
            "MxGatewayUnavailableError",
            "map_rpc_error",
        ],
        "errors",
    ),
    **dict.fromkeys(
        [
            "BufferedDataChange",
            "BufferedSample",
            "DataChange",
            "Event",
            "EventsDropped",
            "OperationComplete",
            "ReplayGap",
            "SequenceGap",
            "SessionRecovered",
            "UnknownEvent",
            "WriteComplete",
        ],
        "_model.events",
    ),
    "EventStream": "_events.stream",
    "RawEventStream": "_transport.streams",
    "ConnectionState": "_events.state",
    "StateChange": "_events.state",
    "Session": "_session.session",
    "Subscription": "_session.subscription",
    **dict.fromkeys(
        [
            "BrowseNode",
            "DeployEventStream",
            "GalaxyRepositoryClient",
            "HierarchyFilter",
            "HierarchyIterator",
        ],
        "galaxy",
    ),
    **dict.fromkeys(["ItemResult", "ReadResult", "WriteEntry", "WriteResult"], "_model.results"),
}

__all__ = [
    "Client",
    "GATEWAY_PROTOCOL_VERSION",
    "__version__",
    "Alarm",
    "AlarmFeed",
    "AlarmFeedEvent",
    "AlarmFeedItem",
    "AlarmProviderMode",
    "AlarmProviderStatus",
    "AlarmSnapshotComplete",
    "AlarmState",
    "AlarmStream",
    "AlarmTransition",
    "AlarmTransitionKind",
    "BrowseNode",
    "BufferedDataChange",
    "BufferedSample",
    "ClientOptions",
    "ConnectKeywords",
    "ConnectionState",
    "DataChange",
    "DataType",
    "DeployEventStream",
    "Event",
    "EventStream",
    "EventsDropped",
    "GalaxyAttribute",
    "GalaxyObject",
    "GalaxyRepositoryClient",
    "GatewayClient",
    "Connector",
    "HierarchyFilter",
    "HierarchyIterator",
    "ItemResult",
    "MxAccessError",
    "MxGatewayAlarmNotFoundError",
    "MxGatewayArgumentError",
    "MxGatewayAuthenticationError",
    "MxGatewayCancelledError",
    "MxGatewayClosedError",
    "MxGatewayCommandError",
    "MxGatewayError",
    "MxGatewayInvalidRequestError",
    "MxGatewayNotFoundError",
    "MxGatewayObjectNotFoundError",
    "MxGatewayPageTokenError",
    "MxGatewayPermissionError",
    "MxGatewayProtocolViolationError",
    "MxGatewaySessionClosedError",
    "MxGatewaySessionLostError",
    "MxGatewaySessionNotFoundError",
    "MxGatewaySessionNotReadyError",
    "MxGatewayStalePageTokenError",
    "MxGatewayTimeoutError",
    "MxGatewayTlsError",
    "MxGatewayUnavailableError",
    "MxStatus",
    "OperationComplete",
    "Quality",
    "RawAlarmStream",
    "RawEventStream",
    "ReadResult",
    "ReconnectPolicy",
    "RecordingGap",
    "RecordingMarker",
    "RecordingRecovery",
    "ReplayGap",
    "ResultList",
    "ResultSequence",
    "SequenceGap",
    "Session",
    "SessionRecovered",
    "StateChange",
    "Subscription",
    "USE_CLIENT_DEFAULT",
    "UnknownEvent",
    "WriteComplete",
    "WriteEntry",
    "WriteResult",
    "call_metadata",
    "create_channel",
    "from_mx_value",
    "map_rpc_error",
    "to_mx_value",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mxgateway' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"mxgateway.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
