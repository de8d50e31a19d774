"""The generator of the blocking facade ``mxgateway_sync`` (run scripts/generate_sync.py)."""
