"""The clients users hold: ``GatewayClient`` (a connection) and ``Client`` (a lazy session)."""
