"""Every command's --help renders, and the root lists every command."""

from __future__ import annotations

import pytest
import typer.main
from typer._click.utils import make_default_short_help
from typer.testing import CliRunner

from mxgateway.cli.app import app
from mxgateway.cli.lazy_commands import LAZY_COMMANDS, load_command

runner = CliRunner()


def _command_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths: list[list[str]] = []
    ctx = root.make_context("mxgw-py", [], resilient_parsing=True)
    for name in root.list_commands(ctx):  # type: ignore[attr-defined]
        command = root.get_command(ctx, name)  # type: ignore[attr-defined]
        if hasattr(command, "list_commands"):
            sub_ctx = command.make_context(name, [], parent=ctx, resilient_parsing=True)
            paths.extend([name, sub] for sub in command.list_commands(sub_ctx))
        paths.append([name])
    return paths


EXPECTED = {
    "version",
    "simulate",
    "open-session",
    "close-session",
    "register",
    "unregister",
    "add-item",
    "remove-item",
    "advise",
    "advise-supervisory",
    "unadvise",
    "write",
    "write2",
    "authenticate-user",
    "write-secured",
    "subscribe-bulk",
    "read-bulk",
    "write-bulk",
    "stream-events",
    "read",
    "subscribe",
    "watch",
    "smoke",
    "demo",
    "batch",
    "galaxy",
    "alarms",
    "bridge",
}
EXPECTED_GALAXY = {"test-connection", "last-deploy", "hierarchy", "browse", "export", "watch-deploy-events"}


def test_the_root_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    # Commands are listed in panels (everyday ones first), each a "Title:" heading.
    after_options = result.output.split("Options:")[1]
    listed = {
        line.split()[0]
        for line in after_options.splitlines()
        if line.startswith("  ") and not line.lstrip().startswith("-") and line[2] != " "
    }
    assert listed == EXPECTED
    paths = _command_paths()
    assert {p[1] for p in paths if len(p) == 2 and p[0] == "galaxy"} == EXPECTED_GALAXY
    assert {p[1] for p in paths if len(p) == 2 and p[0] == "alarms"} == {"active", "watch", "ack"}
    assert {p[1] for p in paths if len(p) == 2 and p[0] == "bridge"} == {"mqtt"}


@pytest.mark.parametrize("path", _command_paths(), ids=" ".join)
def test_every_command_help_renders(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: mxgw-py {' '.join(path)}")
    assert "Traceback" not in result.output


def test_password_options_never_take_the_password_itself() -> None:
    for command in ("authenticate-user", "write-secured"):
        result = runner.invoke(app, [command, "--help"])
        assert "--password-env" in result.output
        assert "--password-file" in result.output
        assert "--password " not in result.output
        assert "--password=" not in result.output


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_the_listed_short_help_is_the_commands_own(name: str) -> None:
    command = load_command(name)
    assert command.get_short_help_str(1000) == make_default_short_help(LAZY_COMMANDS[name][2], 1000)
