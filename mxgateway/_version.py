"""Version numbers of the package and of the gateway protocol its bindings target."""

__version__ = "0.1.0"

#: The ``gateway_protocol_version`` the bindings in ``mxgateway.generated`` target;
#: compared with ``OpenSessionReply.gateway_protocol_version``.
GATEWAY_PROTOCOL_VERSION = 1
