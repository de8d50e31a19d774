"""mxgateway_sync: the blocking facade over the async ``mxgateway`` core."""
