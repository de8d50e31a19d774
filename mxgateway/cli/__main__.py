"""``python -m mxgateway.cli``: the ``mxgw-py`` command line."""

from mxgateway.cli.app import main

main()
