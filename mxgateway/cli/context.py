"""What the running command shares with the code it calls, and a ``batch`` with its lines.

The output mode (``--json``), whether a batch runs, the batch's defaults and its
current session, where the session id came from; and ``emit``, which prints a
result in the current mode.
"""

from __future__ import annotations

import os
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from mxgateway.cli.human import TAG_WIDTH, human_line, is_value_record
from mxgateway.cli.output import dumps, is_terminal, text_line

__all__ = [
    "BATCH_SESSION",
    "ENV_ENDPOINT",
    "ENV_SESSION_ID",
    "IN_BATCH",
    "JSON_MODE",
    "SESSION_ORIGIN",
    "SIMULATOR_ENDPOINT",
    "BatchSession",
    "emit",
    "forget_session",
    "in_batch",
    "remember_session",
    "session_id_for",
]

ENV_ENDPOINT = "MXGATEWAY_ENDPOINT"
ENV_SESSION_ID = "MXGATEWAY_SESSION_ID"
#: The endpoint name of the embedded simulator (``--simulator``).
SIMULATOR_ENDPOINT = "simulator"

#: Whether the command running now was asked for JSON (error reports follow it).
JSON_MODE: ContextVar[bool] = ContextVar("mxgw_py_json", default=False)
#: Set while ``batch`` runs: errors become records on stdout and the loop goes on.
IN_BATCH: ContextVar[bool] = ContextVar("mxgw_py_batch", default=False)


@dataclass
class BatchSession:
    """The session a batch's last ``open-session`` line opened ("" for none)."""

    session_id: str = ""


#: Inside ``batch``: the session its last ``open-session`` line opened.
BATCH_SESSION: ContextVar[BatchSession | None] = ContextVar("mxgw_py_batch_session", default=None)
#: Where the running command's session id came from when not from --session-id.
SESSION_ORIGIN: ContextVar[str | None] = ContextVar("mxgw_py_session_origin", default=None)


def in_batch() -> bool:
    """Whether ``batch`` is running (its lines report errors as JSON records on stdout)."""
    return IN_BATCH.get()


def emit(record: Any, *, as_json: bool | None = None) -> None:
    """Print one result on stdout: a JSON line with ``--json``, else ``key=value`` text."""
    json_mode = JSON_MODE.get() if as_json is None else as_json
    if json_mode:
        line = dumps(record)
    elif isinstance(record, dict) and is_value_record(record) and is_terminal(sys.stdout):
        line = human_line(record, TAG_WIDTH.get())
    elif isinstance(record, dict):
        line = text_line(record)
    else:
        line = str(record)
    out = sys.stdout
    out.write(line + "\n")
    out.flush()


def session_id_for(flag: str) -> str:
    """The session a command works on ("" for none).

    ``--session-id`` first; inside a batch, then the session its last
    ``open-session`` line opened; then ``MXGATEWAY_SESSION_ID``.
    """
    if flag:
        return flag
    batch = BATCH_SESSION.get()
    if batch is not None and batch.session_id:
        SESSION_ORIGIN.set("the batch's open-session line")
        return batch.session_id
    from_env = os.environ.get(ENV_SESSION_ID, "")
    if from_env:
        SESSION_ORIGIN.set(ENV_SESSION_ID)
    return from_env


def remember_session(session_id: str) -> bool:
    """Make ``session_id`` the default of the batch's following lines; False outside a batch."""
    batch = BATCH_SESSION.get()
    if batch is None:
        return False
    batch.session_id = session_id
    return True


def forget_session(session_id: str) -> None:
    """A closed session is no longer the batch's default."""
    batch = BATCH_SESSION.get()
    if batch is not None and batch.session_id == session_id:
        batch.session_id = ""
