"""Run cells in a real IPython kernel (nbclient), as Jupyter does."""

from __future__ import annotations

import os
from typing import Any

import pytest

#: A cell that prints how many TCP sockets this process listens on (the kernel's own included).
LISTENING = """
import os, json
def listening():
    inodes = set()
    for fd in os.listdir('/proc/self/fd'):
        try:
            target = os.readlink(f'/proc/self/fd/{fd}')
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(target[8:-1])
    count = 0
    for table in ('/proc/self/net/tcp', '/proc/self/net/tcp6'):
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                count += fields[3] == '0A' and fields[9] in inodes
    return count
"""


def kernel_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MXGATEWAY_")}


def run_cells(cells: list[str], *, timeout: int = 120) -> list[list[dict[str, Any]]]:
    """Execute ``cells`` in one fresh kernel; the outputs of each cell."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3")
    client.execute(env=kernel_env())
    return [list(cell.get("outputs", [])) for cell in notebook.cells]


def stream_text(outputs: list[dict[str, Any]]) -> str:
    return "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")


def errors(all_outputs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [o for outputs in all_outputs for o in outputs if o.get("output_type") == "error"]
