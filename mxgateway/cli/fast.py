"""One-shot commands answered without Typer: ``version``, ``--version`` and a plain ``read``.

Importing Typer and letting it parse costs a one-shot ``mxgw-py read`` more than
its gateway calls. The command lines below are the common ones, whose parsing is
exact without a parser: :func:`run` answers them and returns True. For anything
else (``--help``, an option it does not know, a value that needs conversion, a
usage error, shell completion) it returns False and Typer runs the command, so
help, errors and exit codes stay Typer's. ``read``'s options come from
``mxgateway.cli.option_table``, the table Typer's are built from. Nothing here
imports Typer.
"""

from __future__ import annotations

import errno
import json
import os
import re
import sys
from typing import TYPE_CHECKING, Any

from mxgateway._version import GATEWAY_PROTOCOL_VERSION, __version__
from mxgateway.cli.common import CommonOptions, run_command
from mxgateway.cli.connections import own_or_attached_session, shared_connections
from mxgateway.cli.context import emit
from mxgateway.cli.errors import CommandExit
from mxgateway.cli.exit_codes import ExitCode
from mxgateway.cli.option_table import ATTACH_SESSION, GATEWAY_OPTIONS
from mxgateway.cli.records import read_record
from mxgateway.cli.text_limits import text_problem

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["READ_OPTIONS", "fail_if_any", "print_version", "read_tags", "run"]

#: ``read``'s options (the shared ones and its own), by flag: the table Typer's ``read`` is built from.
READ_OPTIONS = {spec.flag: spec for spec in (*GATEWAY_OPTIONS, ATTACH_SESSION)}
# A number whose float() is certainly what Typer gives; others (and what a bound refuses) go to Typer.
_PLAIN_FLOAT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,15})?")


def _distribution_version(name: str) -> str:
    # Read from package metadata so that `version` does not import grpc. The
    # installed dist-info directory names the version; importlib.metadata, which
    # costs more than importing grpc, is only the fallback for other layouts.
    prefix = name.lower().replace("-", "_") + "-"
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for candidate in names:
            if candidate.endswith(".dist-info") and candidate.lower().startswith(prefix):
                return candidate[len(prefix) : -len(".dist-info")]
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def print_version(*, as_json: bool) -> None:
    """Print the package, gateway protocol, grpcio and protobuf versions."""
    info = {
        "gateway_protocol_version": GATEWAY_PROTOCOL_VERSION,
        "grpcio": _distribution_version("grpcio"),
        "mxgateway": __version__,
        "protobuf": _distribution_version("protobuf"),
    }
    lines = [json.dumps(info, sort_keys=True)] if as_json else [f"{key}: {info[key]}" for key in sorted(info)]
    for line in lines:
        sys.stdout.write(line + "\n")
    sys.stdout.flush()


def fail_if_any(results: Sequence[Any], verb: str) -> None:
    """Exit 7 (after saying how many) when any of ``results`` failed."""
    failed = sum(1 for r in results if not r.ok)
    if failed:
        sys.stderr.write(f"mxgw-py: {failed} of {len(results)} items could not be {verb}\n")
        raise CommandExit(ExitCode.MXACCESS)


def read_tags(common: CommonOptions, tags: list[str], session_id: str = "") -> None:
    """The body of ``mxgw-py read``: one line per tag, in order (exit 7 when any could not be read)."""
    with (
        shared_connections() as connections,
        own_or_attached_session(connections, common, session_id, "mxgw-py read") as session,
    ):
        results = session.read(tags)
        for result in results:
            emit(read_record(result))
    fail_if_any(results, "read")


def _parse_read(args: list[str]) -> tuple[dict[str, Any], list[str], str] | None:
    """``read``'s option values, tags and session id; None when Typer must parse ``args``."""
    values: dict[str, Any] = {}
    tags: list[str] = []
    session_id = ""
    position = 0
    while position < len(args):
        arg = args[position]
        position += 1
        if not arg.startswith("-"):
            tags.append(arg)
            continue
        flag, equals, value = arg.partition("=")
        spec = READ_OPTIONS.get(flag)
        if spec is None or spec.kind == "path":
            return None  # --help, a path option, an unknown option, "--", "-"
        if spec.kind == "flag":
            if equals:
                return None  # Typer refuses a value for a flag, in its own words
            values[spec.name] = True
            continue
        if not equals:
            if position == len(args) or args[position].startswith("-"):
                return None  # a missing value, or one Typer may read differently
            value = args[position]
            position += 1
        if spec.kind == "seconds":
            if not _PLAIN_FLOAT.fullmatch(value) or not (spec.minimum or 0.0) <= float(value) <= (
                spec.maximum if spec.maximum is not None else float("inf")
            ):
                return None
            values[spec.name] = float(value)
        elif spec.refuse_blank and not value.strip():
            return None  # Typer refuses a blank value, in its own words
        elif spec is ATTACH_SESSION:
            session_id = value
        else:
            values[spec.name] = value
    if not tags or text_problem([*tags, session_id, *(v for v in values.values() if isinstance(v, str))]):
        return None  # Typer refuses it, in its own words
    return values, tags, session_id


def _run_read(values: dict[str, Any], tags: list[str], session_id: str) -> None:
    try:
        run_command(
            read_tags, values, {"tags": tags, "session_id": session_id}, connects=True, exit_with=SystemExit
        )
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        # As Typer does for a closed stdout (`| head -1`): quietly, exit code 1.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(1) from None


def _completing() -> bool:
    # Typer's shell completion runs when _<PROG>_COMPLETE is set; only Typer answers it.
    return any(name.startswith("_") and name.endswith("_COMPLETE") for name in os.environ)


def run(args: list[str]) -> bool:
    """Answer ``args`` without Typer when they are a command line handled here; False otherwise.

    A failed command ends with ``SystemExit`` carrying its exit code.
    """
    if _completing():
        return False
    if args[:1] == ["version"] and set(args[1:]) <= {"--json"}:
        print_version(as_json="--json" in args)
        return True
    if args == ["--version"]:
        sys.stdout.write(f"mxgw-py {__version__}\n")
        return True
    if args[:1] == ["read"]:
        parsed = _parse_read(args[1:])
        if parsed is not None:
            _run_read(*parsed)
            return True
    return False
