"""mxgateway_sync: the blocking facade over the async ``mxgateway`` core.

Same classes, methods and signatures as the async core, minus ``async``: every
call runs on one shared background event-loop thread, so it works in plain
scripts and inside Jupyter (whose own loop is left alone)::

    from mxgateway_sync import Client

    client = Client(endpoint="simulator")     # or MXGATEWAY_ENDPOINT / MXGATEWAY_API_KEY
    print(client.read(["Tank_001.Level"]))
    with client.subscribe(["Tank_001.Level"]) as changes:
        for change in changes:
            print(change.tag, change.value)
            break
    client.close()

Value, event, result and error types are the core's own and are re-exported here.
"""

from mxgateway import (
    BufferedDataChange,
    BufferedSample,
    ClientOptions,
    DataChange,
    DataType,
    GalaxyAttribute,
    GalaxyObject,
    ItemResult,
    MxAccessError,
    MxGatewayAuthenticationError,
    MxGatewayCancelledError,
    MxGatewayClosedError,
    MxGatewayCommandError,
    MxGatewayError,
    MxGatewayInvalidRequestError,
    MxGatewayNotFoundError,
    MxGatewayPermissionError,
    MxGatewayProtocolViolationError,
    MxGatewaySessionClosedError,
    MxGatewaySessionNotFoundError,
    MxGatewaySessionNotReadyError,
    MxGatewayTimeoutError,
    MxGatewayUnavailableError,
    OperationComplete,
    ReadResult,
    ReplayGap,
    ResultList,
    SequenceGap,
    WriteComplete,
    WriteEntry,
    WriteResult,
    from_mx_value,
    to_mx_value,
)
from mxgateway_sync._facade import (
    BrowseNode,
    Client,
    DeployEventStream,
    EventStream,
    GalaxyRepositoryClient,
    GatewayClient,
    HierarchyIterator,
    RawEventStream,
    Session,
    Subscription,
)
from mxgateway_sync._runtime import LoopThreadCallError

__all__ = [
    "BrowseNode",
    "BufferedDataChange",
    "BufferedSample",
    "Client",
    "ClientOptions",
    "DataChange",
    "DataType",
    "DeployEventStream",
    "EventStream",
    "GalaxyAttribute",
    "GalaxyObject",
    "GalaxyRepositoryClient",
    "GatewayClient",
    "HierarchyIterator",
    "ItemResult",
    "LoopThreadCallError",
    "MxAccessError",
    "MxGatewayAuthenticationError",
    "MxGatewayCancelledError",
    "MxGatewayClosedError",
    "MxGatewayCommandError",
    "MxGatewayError",
    "MxGatewayInvalidRequestError",
    "MxGatewayNotFoundError",
    "MxGatewayPermissionError",
    "MxGatewayProtocolViolationError",
    "MxGatewaySessionClosedError",
    "MxGatewaySessionNotFoundError",
    "MxGatewaySessionNotReadyError",
    "MxGatewayTimeoutError",
    "MxGatewayUnavailableError",
    "OperationComplete",
    "RawEventStream",
    "ReadResult",
    "ReplayGap",
    "ResultList",
    "SequenceGap",
    "Session",
    "Subscription",
    "WriteComplete",
    "WriteEntry",
    "WriteResult",
    "from_mx_value",
    "to_mx_value",
]
