"""The configuration file: a mistake names its line and key; secrets never show."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mxgateway.bridge import ConfigError, Secret, load_config, parse_config

GOOD = """
[gateway]
endpoint = "gw:5001"

[broker]
host = "broker.plant"
port = 8883
username = "bridge"
password_env = "TEST_BRIDGE_PASSWORD"

[publish]
tags = ["Tank_001.Level"]
"""


def test_a_good_file_parses_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_BRIDGE_PASSWORD", "s3cr3t-pw")
    config = parse_config(GOOD, "b.toml")
    assert config.gateway.endpoint == "gw:5001"
    assert config.broker.port == 8883
    assert config.broker.username == "bridge"
    assert config.broker.password is not None
    assert config.broker.password.reveal() == "s3cr3t-pw"
    assert config.publish.tags == ("Tank_001.Level",)
    assert config.publish.qos == 1
    assert config.topics.layout == "uns"
    assert not config.writes.enabled
    assert config.status_topic == "mxgateway/_bridge/mxgateway-bridge/status"
    assert "s3cr3t-pw" not in repr(config)
    assert "s3cr3t-pw" not in str(config)


def test_the_example_configuration_parses() -> None:
    config = load_config(Path(__file__).parents[2] / "examples" / "bridge.toml")
    assert config.gateway.endpoint == "simulator"
    assert config.publish.templates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[broker]\nhost = "x"\nport = "1883"\n',
            r"^b\.toml:3: \[broker\] port: expected an integer, got str$",
        ),
        ("[broker]\nport = 70000\n", r"^b\.toml:2: \[broker\] port: must be between 1 and 65535"),
        (
            '[publish]\ntags = ["a.b"]\n\n[topics]\nlayot = "uns"\n',
            r"^b\.toml:5: \[topics\] layot: unknown key$",
        ),
        (
            '[publish]\ntags = ["a.b"]\n[topics]\nlayout = "json"\n',
            r"^b\.toml:4: \[topics\] layout: expected",
        ),
        ('[publish]\ntags = ["a.b"]\nqos = 3\n', r"^b\.toml:3: \[publish\] qos: must be between 0 and 2"),
        ('[publish]\ntags = "a.b"\n', r"^b\.toml:2: \[publish\] tags: expected a list"),
        ('[publish]\ntags = ["a.b"]\n[brokr]\n', r"^b\.toml:3: \[brokr\]: unknown table"),
        ("[publish]\n", r"^b\.toml:1: \[publish\]: nothing to publish"),
        (
            '[publish]\ntags = ["a.b"\n',
            r"^b\.toml:2: not valid TOML: Unclosed array \(at the end of the file\)$",
        ),
        ('[broker]\nport = 1883 1884\n[publish]\ntags=["a.b"]\n', r"^b\.toml:2: not valid TOML"),
        ('[publish]\ntags = ["a.b"]\n[topics]\nprefix = "plant/#"\n', r"^b\.toml:4: \[topics\] prefix: must"),
        (
            '[writes]\nenabled = "yes"\n[publish]\ntags=["a.b"]\n',
            r"^b\.toml:2: \[writes\] enabled: expected true",
        ),
        (
            '[publish]\ntags = ["a.b"]\n[topics]\nlayout = "sparkplug"\ngroup_id = "a/b"\n',
            r"^b\.toml:5: \[topics\] group_id: 'a/b' is not a valid Sparkplug id: it must not contain '/'$",
        ),
        (
            '[publish]\ntags = ["a.b"]\n[topics]\nlayout = "sparkplug"\nedge_node_id = "x/y"\n',
            r"^b\.toml:5: \[topics\] edge_node_id: 'x/y' is not a valid Sparkplug id",
        ),
        (
            '[publish]\ntags = ["a.b"]\n[topics]\nlayout = "sparkplug"\nedge_node_id = "e#+"\n',
            r"^b\.toml:5: \[topics\] edge_node_id: .*must not contain '#', '\+'$",
        ),
        (
            '[publish]\ntags = ["a.b"]\n[topics]\nlayout = "sparkplug"\ngroup_id = ""\n',
            r"^b\.toml:5: \[topics\] group_id: must not be empty$",
        ),
        (
            '[publish]\ntags = ["Tank+1.Level"]\n[topics]\nlayout = "sparkplug"\n',
            r"^b\.toml:2: \[publish\] tags: Tank\+1\.Level: its object is a Sparkplug device id: .*'\+'$",
        ),
        (
            '[publish]\ntags = ["a.b"]\n[topics]\nlayout = "sparkplug"\nprimary_host_id = "h/1"\n',
            r"^b\.toml:5: \[topics\] primary_host_id: 'h/1' is not a valid Sparkplug id",
        ),
        (
            '[publish]\ntags = ["a.b"]\n[topics]\nprimary_host_id = "scada"\n',
            r"^b\.toml:4: \[topics\] primary_host_id: only the \"sparkplug\" layout has a primary host$",
        ),
        (
            '[publish]\ntags = ["a.b"]\n[writes]\nenabled = true\n',
            r"^b\.toml:3: \[writes\] allow: writes are enabled but nothing may be written",
        ),
        (
            '[publish]\ntags = ["a.b"]\n[writes]\nuser = "operator"\n',
            r"^b\.toml:4: \[writes\] user: a secured-write user needs both user and password",
        ),
        (
            '[publish]\ntags = ["a.b"]\n[metrics]\nport = 70000\n',
            r"^b\.toml:4: \[metrics\] port: must be between 0 and 65535",
        ),
    ],
)
def test_a_mistake_names_the_line_and_the_key(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_config(text, "b.toml")


def test_secrets_come_from_a_file_or_the_environment_and_never_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=r"b\.toml:4: \[broker\] password: put secrets in") as caught:
        parse_config('[publish]\ntags=["a.b"]\n[broker]\npassword = "hunter2-inline"\n', "b.toml")
    assert "hunter2-inline" not in str(caught.value)
    secret_file = tmp_path / "pw"
    secret_file.write_text("from-a-file-pw\n")
    config = parse_config(f'[publish]\ntags=["a.b"]\n[broker]\npassword_file = "{secret_file}"\n', "b.toml")
    assert config.broker.password is not None
    assert config.broker.password.reveal() == "from-a-file-pw"
    assert repr(config.broker.password) == "Secret('***')"
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(
        ConfigError, match=r"b\.toml:4: \[gateway\] api_key_env: .*NOT_SET_ANYWHERE is not set"
    ):
        parse_config('[publish]\ntags=["a.b"]\n[gateway]\napi_key_env = "NOT_SET_ANYWHERE"\n', "b.toml")
    with pytest.raises(ConfigError, match=r"cannot read .*missing"):
        parse_config(f'[publish]\ntags=["a.b"]\n[broker]\npassword_file = "{tmp_path}/missing"\n', "b.toml")
    assert "***" in repr(Secret("x"))
    assert "x'" not in str(Secret("x"))


def test_the_cli_reports_a_bad_file_with_its_line_and_exit_code_2(tmp_path: Path) -> None:
    bad = tmp_path / "bridge.toml"
    bad.write_text('[broker]\nhost = "127.0.0.1"\nport = "not a port"\npassword_env = "PW"\n')
    env = dict(os.environ, PW="pw-never-printed")
    result = subprocess.run(
        [sys.executable, "-m", "mxgateway.cli", "bridge", "mqtt", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 2, result.stderr
    assert f"{bad}:3: [broker] port: expected an integer, got str" in result.stderr
    assert result.stdout == ""
    assert "pw-never-printed" not in result.stderr
