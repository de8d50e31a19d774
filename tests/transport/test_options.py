"""ClientOptions: environment defaults, validation, key redaction and the plaintext guard."""

from __future__ import annotations

import ipaddress

import pytest

from mxgateway._transport.channel import call_metadata, channel_arguments
from mxgateway.errors import MxGatewayArgumentError
from mxgateway.options import DEFAULT_ENDPOINT, ClientOptions, endpoint_host, is_loopback_endpoint

SECRET = "mxgw_k1_s3cr3t-value"


def test_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MXGATEWAY_ENDPOINT", "gw.plant:7000")
    monkeypatch.setenv("MXGATEWAY_API_KEY", SECRET)
    options = ClientOptions()
    assert options.endpoint == "gw.plant:7000"
    assert options.api_key == SECRET
    explicit = ClientOptions(endpoint="other:1", api_key="k2")
    assert (explicit.endpoint, explicit.api_key) == ("other:1", "k2")
    assert ClientOptions(api_key="").api_key is None


def test_defaults_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MXGATEWAY_ENDPOINT", raising=False)
    monkeypatch.delenv("MXGATEWAY_API_KEY", raising=False)
    options = ClientOptions()
    assert options.endpoint == DEFAULT_ENDPOINT
    assert options.api_key is None
    assert options.default_timeout == 30.0
    assert call_metadata(options) == ()


def test_key_is_redacted_in_repr_and_str() -> None:
    options = ClientOptions(endpoint="gw:1", api_key=SECRET, ca_file="/ca.pem")
    for text in (repr(options), str(options), f"{options}", repr([options])):
        assert SECRET not in text
        assert "<redacted>" in text
        assert "gw:1" in text
        assert "/ca.pem" in text
    assert SECRET not in repr(options.replace(endpoint="gw:2"))
    assert options.replace(endpoint="gw:2").api_key == SECRET


def test_metadata_carries_the_bearer_key() -> None:
    options = ClientOptions(endpoint="127.0.0.1:1", api_key=SECRET, plaintext=True)
    assert call_metadata(options) == (("authorization", f"Bearer {SECRET}"),)


@pytest.mark.parametrize(
    ("endpoint", "host", "loopback"),
    [
        ("127.0.0.1:5000", "127.0.0.1", True),
        ("127.8.9.1:5000", "127.8.9.1", True),
        ("localhost:5000", "localhost", True),
        ("[::1]:5000", "::1", True),
        ("dns:///localhost:5000", "localhost", True),
        ("ipv4:127.0.0.1:5000", "127.0.0.1", True),
        ("unix:/tmp/gw.sock", "unix:/tmp/gw.sock", True),
        ("gateway.plant:5000", "gateway.plant", False),
        ("10.0.0.5:5000", "10.0.0.5", False),
        ("[2001:db8::1]:5000", "2001:db8::1", False),
        ("localhost.evil.com:5000", "localhost.evil.com", False),
        # Only the name localhost itself: a name under it is whatever DNS says it is.
        ("evil.localhost:5000", "evil.localhost", False),
        ("localhost.:5000", "localhost.", False),
        ("LocalHost:5000", "LocalHost", True),
        ("dns:localhost:5000", "localhost", True),
        ("dns:evil.localhost:5000", "evil.localhost", False),
        # A dns: target with an authority asks that DNS server where the name is.
        ("dns://8.8.8.8/localhost:5000", "localhost", False),
        ("dns://127.0.0.1/localhost:5000", "localhost", False),
        ("dns:///127.0.0.1:5000", "127.0.0.1", True),
        ("ipv4:127.0.0.1:5000,127.0.0.2:5000", "127.0.0.1", True),
        ("ipv4:127.0.0.1:5000,10.0.0.5:5000", "127.0.0.1", False),
        ("ipv4:localhost:5000", "localhost", False),
        ("ipv6:[::1]:5000", "::1", True),
        ("ipv6:[::1]:5000,[2001:db8::1]:5000", "::1", False),
        ("localhost:5000,127.0.0.1:5001", "localhost", True),
        ("localhost:5000,gateway.plant:5001", "localhost", False),
        ("unix-abstract:mxgw", "unix-abstract:mxgw", True),
        # vsock reaches another virtual machine.
        ("vsock:2:5000", "vsock:2:5000", False),
        ("0.0.0.0:5000", "0.0.0.0", False),
        ("127.1:5000", "127.1", False),
    ],
)
def test_loopback_detection(endpoint: str, host: str, loopback: bool) -> None:
    if not endpoint.startswith(("unix", "vsock")):
        assert endpoint_host(endpoint) == host
    assert is_loopback_endpoint(endpoint) is loopback


@pytest.mark.parametrize(
    "endpoint",
    [
        "evil.localhost:5000",
        "dns://8.8.8.8/localhost:5000",
        "vsock:2:5000",
        "gateway.plant:5000",
        "localhost:5000,gateway.plant:5001",
        "ipv4:127.0.0.1:5000,10.0.0.5:5000",
    ],
)
def test_a_plaintext_key_goes_nowhere_but_loopback(endpoint: str) -> None:
    # Pure checks of the guard: nothing connects anywhere.
    assert ClientOptions(endpoint=endpoint, api_key=SECRET).plaintext is False  # TLS by default
    forced = ClientOptions(endpoint=endpoint, api_key=SECRET, plaintext=True)
    with pytest.raises(ValueError, match="refusing to send the API key in plaintext") as refused:
        forced.check_key_transport()
    assert SECRET not in str(refused.value)
    forced.replace(allow_insecure_api_key=True).check_key_transport()  # said explicitly: allowed


@pytest.mark.parametrize("endpoint", ["127.0.0.1:5000", "localhost:5000", "[::1]:5000", "unix:/tmp/gw.sock"])
def test_a_plaintext_key_may_go_to_loopback(endpoint: str) -> None:
    options = ClientOptions(endpoint=endpoint, api_key=SECRET)
    assert options.plaintext is True
    options.check_key_transport()


@pytest.mark.parametrize(
    "host",
    [
        *(
            f"{a}.{b}.0.1"
            for a in ("127", "126", "128", "0", "255", "256", "1270", "012", "00")
            for b in ("0", "00", "9", "255", "256")
        ),
        "127.0.0",
        "127.0.0.1.1",
        "127..0.1",
        "127.0.0.+1",
        "127.0.0.1 ",
        "\u0661\u0662\u0667.0.0.1",
        "::ffff:127.0.0.1",
    ],
)
def test_dotted_quads_are_read_as_ipaddress_reads_them(host: str) -> None:
    expected = _ipaddress_loopback(host)
    assert is_loopback_endpoint(host) is expected


def _ipaddress_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def test_plaintext_key_to_a_remote_host_is_refused() -> None:
    options = ClientOptions(endpoint="gateway.plant:5000", api_key=SECRET, plaintext=True)
    with pytest.raises(ValueError, match="plaintext") as info:
        call_metadata(options)
    assert SECRET not in str(info.value)
    allowed = options.replace(allow_insecure_api_key=True)
    assert call_metadata(allowed)
    # No key, nothing to protect; TLS is always fine.
    assert call_metadata(options.replace(api_key="")) == ()
    assert call_metadata(options.replace(plaintext=False))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"client_cert_file": "c.pem"},
        {"client_key_file": "k.pem"},
        {"plaintext": True, "ca_file": "ca.pem"},
        {"plaintext": True, "server_name_override": "gw"},
        {"default_timeout": 0},
        {"keepalive_time_s": -1},
        {"read_retries": -1},
        {"api_key": "a\nb"},
    ],
)
def test_invalid_combinations(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"go together|need TLS|must|line breaks"):
        ClientOptions(endpoint="gw:1", **kwargs)  # type: ignore[arg-type]


def test_channel_arguments() -> None:
    options = ClientOptions(
        endpoint="gw:1",
        keepalive_time_s=15,
        server_name_override="gateway.test",
        channel_options=(("grpc.enable_retries", 0),),
    )
    args = dict(channel_arguments(options))
    assert args["grpc.keepalive_time_ms"] == 15000
    assert args["grpc.ssl_target_name_override"] == "gateway.test"
    assert args["grpc.enable_retries"] == 0
    assert args["grpc.primary_user_agent"].startswith("mxgateway-python/")
    # Keepalive is on by default, at gRPC's guidance for long-lived streams: at
    # least a minute, and pings only while a call (the event stream) is open.
    default = dict(channel_arguments(ClientOptions(endpoint="gw:1")))
    assert default["grpc.keepalive_time_ms"] >= 60_000
    assert default["grpc.keepalive_permit_without_calls"] == 0
    off = dict(channel_arguments(ClientOptions(endpoint="gw:1", keepalive_time_s=None)))
    assert "grpc.keepalive_time_ms" not in off


def test_plaintext_by_default_only_for_loopback_without_tls_settings() -> None:
    assert ClientOptions(endpoint="127.0.0.1:5000").plaintext is True
    assert ClientOptions(endpoint="localhost:5000").plaintext is True
    assert ClientOptions(endpoint="gateway.plant.local:5001").plaintext is False
    assert ClientOptions(endpoint="localhost:5000", ca_file="plant-ca.pem").plaintext is False
    assert ClientOptions(endpoint="127.0.0.1:5000", plaintext=False).plaintext is False
    assert ClientOptions(endpoint="10.0.0.5:5000", plaintext=True, allow_insecure_api_key=True).plaintext


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("endpoint", 123),
        ("keepalive_time_s", float("nan")),
        ("keepalive_time_s", float("inf")),
        ("default_timeout", -1),
        ("default_timeout", float("nan")),
        ("read_retries", 1.5),
        ("read_retries", -1),
        ("plaintext", "yes"),
        ("recover_sessions", None),
        ("event_queue_size", 0),
        ("channel_options", (("grpc.x",),)),
        ("api_key", 42),
    ],
)
def test_bad_options_are_typed_errors_naming_the_field(field: str, bad: object) -> None:
    with pytest.raises(MxGatewayArgumentError) as info:
        ClientOptions(**{field: bad})  # type: ignore[arg-type]
    assert info.value.argument == field
    assert f"ClientOptions.{field}" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, TypeError)
    if field == "api_key":
        assert "42" not in str(info.value)


def test_replace_derives_plaintext_again_for_a_remote_endpoint() -> None:
    local = ClientOptions(endpoint="127.0.0.1:5000")
    assert local.plaintext is True
    remote = local.replace(endpoint="gateway.plant:5001")
    assert remote.plaintext is False
    forced = ClientOptions(endpoint="127.0.0.1:5000", plaintext=True).replace(
        endpoint="10.0.0.5:1", allow_insecure_api_key=True
    )
    assert forced.plaintext is True  # given explicitly: kept


def test_the_plaintext_key_guard_checks_every_address() -> None:
    mixed = ClientOptions(
        endpoint="ipv4:127.0.0.1:5000,192.0.2.10:5000", plaintext=True, api_key="k-123456789"
    )
    with pytest.raises(ValueError, match="refusing to send the API key in plaintext"):
        mixed.check_key_transport()
    both = ClientOptions(endpoint="127.0.0.1:5000,127.0.0.2:5000", api_key="k-123456789")
    assert both.plaintext is True
    both.check_key_transport()


def test_the_options_type_hints_resolve_for_tools_built_on_them() -> None:
    import os
    import typing

    from mxgateway import ClientOptions, ReconnectPolicy

    hints = typing.get_type_hints(ClientOptions)
    assert hints["reconnect"] is ReconnectPolicy
    assert os.PathLike[str] in typing.get_args(hints["ca_file"])
