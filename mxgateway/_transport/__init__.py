"""The connection to a gateway: channels, unary calls, stream calls, endpoints, the shared loop thread."""
