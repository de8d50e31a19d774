"""The commands, run in this process through Typer's runner against the simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mxgateway._transport import endpoints
from mxgateway.cli.batch import END_OF_RECORD
from mxgateway.simulator.background import BackgroundSimulator

Cli = Any


def _json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


# ------------------------------------------------------------------ tag-level commands


def test_read_prints_one_document_per_tag_in_order(cli: Cli) -> None:
    outcome = cli("read", "Tank_002.Name", "Tank_002.FillDuration", "Tank_002.LevelHistory", "--json")
    assert outcome.code == 0, outcome.stderr
    records = _json_lines(outcome.stdout)
    assert [r["tag"] for r in records] == ["Tank_002.Name", "Tank_002.FillDuration", "Tank_002.LevelHistory"]
    assert [r["value"] for r in records] == ["Raw water tank 2", 2520.0, [40.0, 42.5, 45.0, 47.5, 50.0]]
    assert [r["data_type"] for r in records] == ["STRING", "ELAPSED_TIME", "DOUBLE"]
    assert all(r["ok"] and r["quality"] == 192 and r["quality_name"] == "good" for r in records)


def test_read_reports_a_failed_tag_and_exits_7(cli: Cli, simulator: BackgroundSimulator) -> None:
    before = set(simulator.simulator.session_ids())
    outcome = cli("read", "Tank_001.Name", "No_Such.Tag", "--json")
    assert outcome.code == 7
    good, bad = _json_lines(outcome.stdout)
    assert good["ok"] is True
    assert bad["ok"] is False
    assert bad["error_message"]
    assert "1 of 2" in outcome.stderr
    assert set(simulator.simulator.session_ids()) == before  # its own session was closed


def test_text_output_is_key_value_lines(cli: Cli) -> None:
    outcome = cli("read", "Tank_002.Name")
    assert outcome.code == 0
    assert "tag=Tank_002.Name" in outcome.stdout
    assert 'value="Raw water tank 2"' in outcome.stdout  # quoted like logfmt


def test_subscribe_prints_current_values_then_stops_at_max_events(
    cli: Cli, simulator: BackgroundSimulator
) -> None:
    before = set(simulator.simulator.session_ids())
    outcome = cli("subscribe", "Tank_002.Name", "Tank_002.Volume", "--max-events", "2", "--json")
    assert outcome.code == 0, outcome.stderr
    records = _json_lines(outcome.stdout)
    assert sorted(r["tag"] for r in records) == ["Tank_002.Name", "Tank_002.Volume"]
    assert all(r["worker_sequence"] >= 1 and r["quality"] == 192 for r in records)
    assert set(simulator.simulator.session_ids()) == before


def test_smoke_runs_the_whole_flow_and_closes_its_session(cli: Cli, simulator: BackgroundSimulator) -> None:
    before = set(simulator.simulator.session_ids())
    outcome = cli("smoke", "Tank_002.Level", "--json")
    assert outcome.code == 0, outcome.stderr
    steps = _json_lines(outcome.stdout)
    assert [s["step"] for s in steps] == [
        "open_session",
        "register",
        "add_item",
        "advise",
        "event",
        "close_session",
    ]
    assert steps[4]["tag"] == "Tank_002.Level"
    assert steps[4]["data_type"] == "DOUBLE"
    assert steps[0]["session_id"] not in simulator.simulator.session_ids()
    assert set(simulator.simulator.session_ids()) == before


def test_demo_against_the_embedded_simulator(cli: Cli) -> None:
    outcome = cli("demo", "--simulator", "--json", "--volume", "4321")
    assert outcome.code == 0, outcome.stderr
    steps = _json_lines(outcome.stdout)
    names = [s["step"] for s in steps]
    assert names == [
        "open_session",
        "read",
        "read",
        "read",
        "subscribe",
        "subscribe",
        "write",
        "change",
        "close_session",
    ]
    write = steps[6]
    assert write == {"ok": True, "step": "write", "tag": "Tank_001.Volume", "value": 4321}
    assert steps[7]["tag"] == "Tank_001.Volume"
    assert steps[7]["value"] == 4321


def test_demo_text_is_for_people(cli: Cli) -> None:
    outcome = cli("demo", "--simulator")
    assert outcome.code == 0, outcome.stderr
    assert "confirmed by MXAccess" in outcome.stdout
    assert "{" not in outcome.stdout.replace("{}", "")


# ------------------------------------------------------------------ sessions and MXAccess commands


def test_open_session_prints_its_id_and_close_session_ends_it(
    cli: Cli, simulator: BackgroundSimulator
) -> None:
    opened = cli("open-session")
    session_id = opened.stdout.strip()
    assert opened.code == 0
    assert session_id.startswith("session-")
    assert session_id in simulator.simulator.session_ids()
    closed = cli("close-session", "--session-id", session_id, "--json")
    assert closed.code == 0
    assert _json_lines(closed.stdout) == [
        {
            "final_state": "SESSION_STATE_CLOSED",
            "protocol_status": {"code": "PROTOCOL_STATUS_CODE_OK"},
            "session_id": session_id,
        }
    ]
    assert session_id not in simulator.simulator.session_ids()


def test_open_session_json_is_the_raw_reply(cli: Cli) -> None:
    reply = _json_lines(cli("open-session", "--json", "--name", "cli test").stdout)[0]
    assert reply["backend_name"]
    assert reply["session_id"].startswith("session-")
    assert reply["protocol_status"] == {"code": "PROTOCOL_STATUS_CODE_OK"}
    assert cli("close-session", "--session-id", reply["session_id"]).code == 0


def test_mxaccess_commands_on_one_session(cli: Cli, simulator: BackgroundSimulator) -> None:
    session_id = cli("open-session").stdout.strip()
    env = {"MXGATEWAY_SESSION_ID": session_id}

    def run(*args: str) -> list[dict[str, Any]]:
        outcome = cli(*args, "--json", env=env)
        assert outcome.code == 0, (args, outcome.stderr)
        return _json_lines(outcome.stdout)

    (registered,) = run("register")
    server = str(registered["server_handle"])
    (added,) = run("add-item", "Tank_002.Volume", "--server-handle", server)
    item = str(added["item_handle"])
    run("advise", "--server-handle", server, "--item-handle", item)
    (written,) = run(
        "write", "--server-handle", server, "--item-handle", item, "--type", "int32", "--value", "2222"
    )
    assert written["value"] == 2222
    assert written["type"] == "int32"
    run(
        "write2",
        "--server-handle",
        server,
        "--item-handle",
        item,
        "--type",
        "int32",
        "--value",
        "2223",
        "--timestamp",
        "2024-05-01T12:00:00Z",
    )
    (read,) = run("read-bulk", "--server-handle", server, "Tank_002.Volume")
    assert read["value"] == 2223
    assert read["source_timestamp"] == "2024-05-01T12:00:00Z"
    events = run("stream-events", "--after-sequence", "1", "--max-events", "2")
    assert [e["worker_sequence"] for e in events] == [2, 3]  # replayed after 1 (integers are JSON numbers)
    assert {e["family"] for e in events} <= {
        "MX_EVENT_FAMILY_ON_DATA_CHANGE",
        "MX_EVENT_FAMILY_ON_WRITE_COMPLETE",
    }
    assert all(e["session_id"] == session_id for e in events)
    subscribed = run("subscribe-bulk", "--server-handle", server, "Tank_002.Level", "Tank_002.Name")
    assert [s["ok"] for s in subscribed] == [True, True]
    handles = [str(s["item_handle"]) for s in subscribed]
    results = run("write-bulk", "--server-handle", server, "--type", "double", f"{handles[0]}=12.5")
    assert results[0]["ok"] is True
    run("unadvise", "--server-handle", server, "--item-handle", item)
    run("advise-supervisory", "--server-handle", server, "--item-handle", item)
    run("remove-item", "--server-handle", server, "--item-handle", item)
    (user,) = cli(
        "authenticate-user",
        "--server-handle",
        server,
        "--user",
        "operator",
        "--password-env",
        "OP_PW",
        "--json",
        env={**env, "OP_PW": "operator"},
    ).stdout.splitlines()
    assert json.loads(user) == {"user": "operator", "user_id": 101}
    (pump,) = run("add-item", "Pump_002.SpeedSetpoint", "--server-handle", server)
    secured = cli(
        "write-secured",
        "--server-handle",
        server,
        "--item-handle",
        str(pump["item_handle"]),
        "--type",
        "float",
        "--value",
        "55.5",
        "--user",
        "operator",
        "--password-env",
        "OP_PW",
        "--json",
        env={**env, "OP_PW": "operator"},
    )
    assert secured.code == 0, secured.stderr
    assert json.loads(secured.stdout)["current_user_id"] == 101
    run("unregister", "--server-handle", server)
    assert session_id in simulator.simulator.session_ids()  # every command left it open
    assert cli("close-session", "--session-id", session_id).code == 0
    assert session_id not in simulator.simulator.session_ids()


def test_a_wrong_password_is_an_mxaccess_failure_and_is_never_printed(cli: Cli) -> None:
    session_id = cli("open-session").stdout.strip()
    env = {"MXGATEWAY_SESSION_ID": session_id, "OP_PW": "not-the-password-77"}
    server = str(json.loads(cli("register", "--json", env=env).stdout)["server_handle"])
    outcome = cli(
        "authenticate-user",
        "--server-handle",
        server,
        "--user",
        "operator",
        "--password-env",
        "OP_PW",
        "--json",
        env=env,
    )
    assert outcome.code == 7
    assert "not-the-password-77" not in outcome.stdout + outcome.stderr
    cli("close-session", "--session-id", session_id)


def test_a_value_that_does_not_parse_is_a_usage_error(cli: Cli) -> None:
    outcome = cli(
        "write",
        "--session-id",
        "session-x",
        "--server-handle",
        "1",
        "--item-handle",
        "1",
        "--type",
        "int32",
        "--value",
        "12.5",
    )
    assert outcome.code == 2
    assert outcome.stderr == "mxgw-py: error: '12.5' is not an int32 (a whole number, decimal or 0x hex)\n"


def test_no_password_source_is_a_usage_error(cli: Cli) -> None:
    outcome = cli(
        "authenticate-user", "--session-id", "s", "--server-handle", "1", "--user", "operator", "--json"
    )
    assert outcome.code == 2
    error = json.loads(outcome.stderr)["error"]
    assert error["kind"] == "usage"
    assert "--password-env" in error["message"]


def test_mxaccess_level_commands_need_a_session_id(cli: Cli) -> None:
    outcome = cli("register")
    assert outcome.code == 2
    assert "--session-id" in outcome.stderr


# ------------------------------------------------------------------ galaxy


def test_galaxy_commands(cli: Cli, tmp_path: Path) -> None:
    assert _json_lines(cli("galaxy", "test-connection", "--json").stdout) == [{"message": "", "ok": True}]
    (deployed,) = _json_lines(cli("galaxy", "last-deploy", "--json").stdout)
    assert deployed["time_of_last_deploy"].endswith("Z")

    tanks = _json_lines(cli("galaxy", "hierarchy", "--glob", "tank_*", "--no-attributes").stdout)
    assert [t["tag_name"] for t in tanks] == ["Tank_001", "Tank_002"]
    assert all(t["attributes"] == [] for t in tanks)
    historized = _json_lines(cli("galaxy", "hierarchy", "--glob", "Tank_001", "--historized-only").stdout)
    assert [t["tag_name"] for t in historized] == ["Tank_001"]
    roots = _json_lines(cli("galaxy", "browse").stdout)
    assert roots
    assert all("has_children" in r for r in roots)
    parent = roots[0]["tag_name"]
    children = _json_lines(cli("galaxy", "browse", "--parent-tag", parent, "--no-attributes").stdout)
    assert children
    assert all(c["parent_gobject_id"] == roots[0]["gobject_id"] for c in children)

    target = tmp_path / "plant.json"
    exported = cli("galaxy", "export", str(target), "--name", "plant", "--json")
    assert exported.code == 0, exported.stderr
    (summary,) = _json_lines(exported.stdout)
    document = json.loads(target.read_text())
    assert summary == {"objects": len(document["objects"]), "path": str(target)}
    assert document["name"] == "plant"
    assert summary["objects"] > 5

    (event,) = _json_lines(cli("galaxy", "watch-deploy-events", "--max-events", "1").stdout)
    assert event["time_of_last_deploy"] == deployed["time_of_last_deploy"]


def test_galaxy_unknown_parent_is_not_found(cli: Cli) -> None:
    outcome = cli("galaxy", "browse", "--parent-tag", "No_Such_Object", "--json")
    assert outcome.code == 8
    assert json.loads(outcome.stderr)["error"]["kind"] == "not_found"


# ------------------------------------------------------------------ batch


def test_batch_runs_lines_marks_records_and_goes_on_after_errors(cli: Cli) -> None:
    script = "\n".join(
        [
            "# comment",
            "read Tank_002.Name",
            "no-such-command",
            "",
            "read No_Such.Tag",
            "galaxy last-deploy",
        ]
    )
    outcome = cli("batch", "--json", input=script + "\n")
    records: list[list[str]] = [[]]
    for line in outcome.lines:
        if line == END_OF_RECORD:
            records.append([])
        else:
            records[-1].append(line)
    assert records[-1] == []
    records = records[:-1]
    assert len(records) == 4
    assert json.loads(records[0][0])["value"] == "Raw water tank 2"
    assert json.loads(records[1][0])["error"]["exit_code"] == 2
    assert json.loads(records[2][0])["ok"] is False
    assert json.loads(records[3][0])["time_of_last_deploy"].endswith("Z")
    assert outcome.code == 7  # the last failing line


def test_batch_lines_share_the_embedded_simulator(cli: Cli) -> None:
    # The write's new value is visible to the next line only if both ran on one simulator.
    script = "demo --volume 3131\nread Tank_001.Volume\n"
    outcome = cli("batch", "--simulator", "--json", input=script)
    assert outcome.code == 0, outcome.stdout
    lines = [line for line in outcome.lines if line != END_OF_RECORD]
    assert json.loads(lines[-1])["value"] == 3131


# ------------------------------------------------------------------ usage errors, sessions, the embedded simulator


def test_usage_errors_are_json_under_json_and_text_otherwise(cli: Cli) -> None:
    unknown = cli("read", "Tank_002.Name", "--bogus", "--json")
    assert unknown.code == 2
    assert unknown.stdout == ""
    assert json.loads(unknown.stderr) == {
        "error": {
            "exit_code": 2,
            "kind": "usage",
            "message": "No such option: --bogus",
            "type": "NoSuchOption",
        }
    }
    missing = cli("galaxy", "browse", "--parent-id", "x", "--json")
    assert missing.code == 2
    assert json.loads(missing.stderr)["error"]["kind"] == "usage"
    text = cli("read", "Tank_002.Name", "--bogus")
    assert text.code == 2
    assert "No such option: --bogus" in text.stderr
    assert not text.stderr.startswith("{")


def test_a_stale_session_id_from_the_environment_is_named_as_such(cli: Cli) -> None:
    session_id = cli("open-session").stdout.strip()
    assert cli("close-session", "--session-id", session_id).code == 0
    from_env = cli("register", env={"MXGATEWAY_SESSION_ID": session_id})
    assert from_env.code == 8
    assert "the session id came from MXGATEWAY_SESSION_ID" in from_env.stderr
    assert "unset MXGATEWAY_SESSION_ID" in from_env.stderr
    from_flag = cli("stream-events", "--session-id", session_id, "--json")
    assert from_flag.code == 8
    assert "MXGATEWAY_SESSION_ID" not in from_flag.stderr


def test_endpoint_simulator_is_the_embedded_simulator(cli: Cli, simulator: BackgroundSimulator) -> None:
    # Written on the embedded simulator only: the test simulator must keep its own value.
    script = "demo --volume 4242\nread Tank_001.Volume\ngalaxy last-deploy\n"
    by_flag = cli("batch", "--endpoint", "simulator", "--json", input=script)
    assert by_flag.code == 0, by_flag.stdout
    records = [json.loads(line) for line in by_flag.lines if line != END_OF_RECORD]
    assert records[-2]["value"] == 4242  # one simulator served both lines
    assert records[-1]["time_of_last_deploy"].endswith("Z")
    by_env = cli("read", "Tank_001.Volume", "--json", env={"MXGATEWAY_ENDPOINT": "simulator"})
    assert by_env.code == 0, by_env.stderr
    assert json.loads(by_env.stdout)["value"] != 4242  # a fresh simulator per process
    on_test_simulator = cli("read", "Tank_001.Volume", "--json")
    assert json.loads(on_test_simulator.stdout)["value"] != 4242
    no_file = cli("galaxy", "last-deploy", "--endpoint", "simulator:/no/such/galaxy.json", "--json")
    assert no_file.code == 2
    assert "cannot start the embedded gateway 'simulator:/no/such/galaxy.json'" in no_file.stderr


def test_a_simulator_from_the_environment_is_announced_once_on_stderr(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(endpoints, "ENVIRONMENT_NOTICE", endpoints.OncePerProcess())
    script = "read Tank_001.Level\nread Tank_001.Volume\n"
    by_env = cli("batch", "--json", input=script, env={"MXGATEWAY_ENDPOINT": "simulator"})
    assert by_env.code == 0, by_env.stderr
    (line,) = by_env.stderr.splitlines()
    assert line.startswith("mxgw-py: warning: MXGATEWAY_ENDPOINT='simulator'")
    assert "writes succeed against nothing real" in line
    # Named on the command line, the simulator is what the user asked for.
    monkeypatch.setattr(endpoints, "ENVIRONMENT_NOTICE", endpoints.OncePerProcess())
    for flags in (["--simulator"], ["--endpoint", "simulator"]):
        named = cli("read", "Tank_001.Level", "--json", *flags)
        assert named.code == 0, named.stderr
        assert named.stderr == ""


def test_a_simulator_from_the_environment_is_announced_by_a_real_process(run_cli: Cli) -> None:
    outcome = run_cli("read", "Tank_001.Level", "--json", env={"MXGATEWAY_ENDPOINT": "simulator"})
    assert outcome.code == 0, outcome.stderr
    (line,) = outcome.stderr.splitlines()
    assert line.startswith("mxgw-py: warning: MXGATEWAY_ENDPOINT='simulator'")
    assert json.loads(outcome.stdout)["tag"] == "Tank_001.Level"


def test_open_session_on_the_embedded_simulator_warns_that_it_dies_with_the_command(cli: Cli) -> None:
    outcome = cli("open-session", "--simulator")
    assert outcome.code == 0
    assert outcome.stdout.strip().startswith("session-")
    assert "mxgw-py: warning:" in outcome.stderr
    assert "mxgw-py simulate" in outcome.stderr
    plain = cli("open-session")
    assert plain.stderr == ""
    assert cli("close-session", "--session-id", plain.stdout.strip()).code == 0


def test_open_session_in_a_batch_is_the_default_of_the_following_lines(cli: Cli) -> None:
    script = "\n".join(
        [
            "open-session",
            "register",
            "add-item Tank_001.LevelHiLimit --server-handle 1",
            "write --server-handle 1 --item-handle 1 --type double --value 95",
            "read-bulk Tank_001.LevelHiLimit --server-handle 1",
            "close-session",
            "register",
        ]
    )
    outcome = cli("batch", "--simulator", "--json", input=script + "\n")
    assert "warning" not in outcome.stderr
    records = [json.loads(line) for line in outcome.lines if line != END_OF_RECORD]
    session_id = records[0]["session_id"]
    assert records[1] == {"server_handle": 1}
    assert records[4]["value"] == 95.0
    assert records[5]["session_id"] == session_id
    assert records[5]["final_state"] == "SESSION_STATE_CLOSED"
    assert records[6]["error"]["kind"] == "usage"  # closed: no default session any more
    assert outcome.code == 2


def test_simulate_names_the_valid_scopes(cli: Cli) -> None:
    from mxgateway.simulator.auth import SCOPES

    outcome = cli("simulate", "--port", "0", "--api-key", "K:read")
    assert outcome.code == 2
    message = " ".join(outcome.stderr.split())
    assert "unknown scope(s): read" in message
    assert f"valid scopes: {', '.join(sorted(SCOPES))}" in message
    shown = " ".join(cli("simulate", "--help").stdout.split())
    assert all(scope in shown for scope in SCOPES)
    assert "operator" in shown
