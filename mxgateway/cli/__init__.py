"""The ``mxgw-py`` command line."""
