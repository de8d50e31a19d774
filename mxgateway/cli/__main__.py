"""``python -m mxgateway.cli``: the ``mxgw-py`` command line."""

from mxgateway.cli.main import main

main()
