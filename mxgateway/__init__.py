"""mxgateway: the async Python SDK for the MXAccess Gateway.

The public names below are imported on first use, so ``import mxgateway`` stays
light (grpc and the generated bindings load with the first client).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mxgateway._version import GATEWAY_PROTOCOL_VERSION, __version__

if TYPE_CHECKING:
    from mxgateway.alarm_feed import AlarmFeed, AlarmFeedEvent
    from mxgateway.alarm_streams import AlarmStream, RawAlarmStream
    from mxgateway.alarms import (
        Alarm,
        AlarmFeedItem,
        AlarmProviderMode,
        AlarmProviderStatus,
        AlarmSnapshotComplete,
        AlarmState,
        AlarmTransition,
        AlarmTransitionKind,
        MxGatewayAlarmNotFoundError,
    )
    from mxgateway.channel import call_metadata, create_channel
    from mxgateway.client import GatewayClient
    from mxgateway.connection_state import ConnectionState, StateChange
    from mxgateway.connector import Connector
    from mxgateway.datatypes import DataType
    from mxgateway.display import ResultList
    from mxgateway.errors import (
        MxAccessError,
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
    from mxgateway.event_stream import EventStream
    from mxgateway.events import (
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
    from mxgateway.galaxy import (
        BrowseNode,
        DeployEventStream,
        GalaxyRepositoryClient,
        HierarchyFilter,
        HierarchyIterator,
    )
    from mxgateway.galaxy_types import GalaxyAttribute, GalaxyObject
    from mxgateway.lazy_client import Client
    from mxgateway.options import USE_CLIENT_DEFAULT, ClientOptions, ConnectKeywords
    from mxgateway.raw_stream import RawEventStream
    from mxgateway.reconnect import ReconnectPolicy
    from mxgateway.results import ItemResult, ReadResult, WriteEntry, WriteResult
    from mxgateway.session import Session
    from mxgateway.status import MxStatus, Quality
    from mxgateway.subscription import Subscription
    from mxgateway.values import from_mx_value, to_mx_value

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
            "MxGatewayAlarmNotFoundError",
        ],
        "alarms",
    ),
    **dict.fromkeys(["AlarmFeed", "AlarmFeedEvent"], "alarm_feed"),
    **dict.fromkeys(["AlarmStream", "RawAlarmStream"], "alarm_streams"),
    "call_metadata": "channel",
    "create_channel": "channel",
    "GatewayClient": "client",
    "Connector": "connector",
    "DataType": "datatypes",
    "ResultList": "display",
    "GalaxyAttribute": "galaxy_types",
    "GalaxyObject": "galaxy_types",
    "ClientOptions": "options",
    "ConnectKeywords": "options",
    "USE_CLIENT_DEFAULT": "options",
    "ReconnectPolicy": "reconnect",
    "Client": "lazy_client",
    "MxStatus": "status",
    "Quality": "status",
    "from_mx_value": "values",
    "to_mx_value": "values",
    **dict.fromkeys(
        [
            "MxAccessError",
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
        "events",
    ),
    "EventStream": "event_stream",
    "RawEventStream": "raw_stream",
    "ConnectionState": "connection_state",
    "StateChange": "connection_state",
    "Session": "session",
    "Subscription": "subscription",
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
    **dict.fromkeys(["ItemResult", "ReadResult", "WriteEntry", "WriteResult"], "results"),
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
    "ReplayGap",
    "ResultList",
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
