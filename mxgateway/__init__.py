"""mxgateway: the async Python SDK for the MXAccess Gateway."""

from mxgateway._version import GATEWAY_PROTOCOL_VERSION, __version__

__all__ = ["GATEWAY_PROTOCOL_VERSION", "__version__"]
