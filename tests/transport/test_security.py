"""API keys (bearer metadata, typed auth errors, redaction everywhere) and TLS."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import trustme

from mxgateway import (
    GatewayClient,
    MxGatewayAuthenticationError,
    MxGatewayError,
    MxGatewayPermissionError,
    MxGatewayTlsError,
    MxGatewayUnavailableError,
)
from mxgateway.simulator.server import Simulator

pytestmark = pytest.mark.anyio

ADMIN_KEY = "mxgw_admin_Zx81qK3vPq0s"
READER_KEY = "mxgw_reader_9fJd2LmQ7tYw"
KEYS = {
    ADMIN_KEY: ["admin"],
    READER_KEY: ["session:open", "session:close", "invoke:read"],
}


@pytest.fixture
async def secured(anyio_backend: object) -> AsyncIterator[Simulator]:
    async with Simulator(update_rate_hz=0, api_keys=KEYS) as sim:
        yield sim


def everything_printed(err: BaseException) -> str:
    return "".join(traceback.format_exception(type(err), err, err.__traceback__)) + repr(err) + str(err)


async def test_the_key_travels_as_a_bearer_token(secured: Simulator) -> None:
    async with GatewayClient.connect(secured.endpoint, api_key=ADMIN_KEY, plaintext=True) as client:
        session = await client.open_session("authorized")
        server = await session.register("x")
        async with session.events() as stream:
            await stream.wait_connected()
            item = await session.add_item(server, "Tank_001.Name")
            await session.write(server, item, "with key")
            event = await stream.__anext__()
        assert event.raw.family == 2  # an OnWriteComplete came through the authorized stream
        await session.close()


@pytest.mark.parametrize("key", [None, "mxgw_unknown_secretvalue"])
async def test_missing_or_unknown_key(
    secured: Simulator, key: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with GatewayClient.connect(secured.endpoint, api_key=key or "", plaintext=True) as client:
        with pytest.raises(MxGatewayAuthenticationError) as info:
            await client.open_session("anonymous")
    printed = everything_printed(info.value)
    assert "UNAUTHENTICATED" in printed
    if key:
        assert key not in printed
        assert key not in caplog.text


async def test_missing_scope_is_named(secured: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    async with GatewayClient.connect(secured.endpoint, api_key=READER_KEY, plaintext=True) as client:
        session = await client.open_session("reader")
        (result,) = await session.read(["Tank_001.Level"])
        assert result.ok
        server = await session.default_server_handle()
        item = await session.add_item(server, "Tank_001.Name")
        with pytest.raises(MxGatewayPermissionError) as info:
            await session.write(server, item, "nope")
        assert info.value.scope == "invoke:write"
        with pytest.raises(MxGatewayPermissionError) as streamed:
            async for _ in session.events():
                pass
        assert streamed.value.scope == "events:read"
        with pytest.raises(MxGatewayPermissionError) as secure:
            await session.authenticate_user(server, "operator", "operator")
        assert secure.value.scope == "invoke:secure"
        for err in (info.value, streamed.value, secure.value):
            print(everything_printed(err))
        await session.close()
    assert READER_KEY not in capsys.readouterr().out


async def test_the_key_never_shows(secured: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with GatewayClient.connect(secured.endpoint, api_key=ADMIN_KEY, plaintext=True) as client:
        session = await client.open_session("quiet")
        texts = [repr(client), str(client), repr(client.options), str(client.options), repr(session)]
        secured.faults.fail_next(1, message=f"echoing {ADMIN_KEY}", methods=["Invoke"])
        with pytest.raises(MxGatewayUnavailableError) as info:
            await session.register("x")
        texts.append(everything_printed(info.value))
        texts.append(info.value.details)
        await session.close()
    assert "<redacted>" in texts[0]
    assert "<redacted>" in texts[2]
    for text in [*texts, caplog.text]:
        assert ADMIN_KEY not in text


def test_plaintext_key_to_a_remote_host_is_refused() -> None:
    async def connect() -> None:
        await GatewayClient.connect("gateway.plant.example:5000", api_key=ADMIN_KEY, plaintext=True)

    import asyncio

    with pytest.raises(ValueError, match="plaintext") as info:
        asyncio.run(connect())
    assert ADMIN_KEY not in str(info.value)


# ---------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_files(ca: trustme.CA, tmp_path: Path, *names: str) -> tuple[Path, Path]:
    cert = ca.issue_cert(*names)
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    return cert_file, key_file


def ca_file(ca: trustme.CA, tmp_path: Path, name: str = "ca.pem") -> Path:
    path = tmp_path / name
    ca.cert_pem.write_to_path(str(path))
    return path


async def test_tls_with_the_right_ca(ca: trustme.CA, tmp_path: Path, anyio_backend: object) -> None:
    cert, key = server_files(ca, tmp_path, "127.0.0.1", "localhost")
    async with Simulator(update_rate_hz=0, tls_cert_file=cert, tls_key_file=key, api_keys=KEYS) as sim:
        async with GatewayClient.connect(
            sim.endpoint, api_key=ADMIN_KEY, ca_file=ca_file(ca, tmp_path)
        ) as client:
            session = await client.open_session("tls")
            assert (await session.read(["Tank_001.Level"]))[0].ok
            await session.close()
        # A client certificate from the same CA is presented without trouble.
        client_cert = ca.issue_cert("client@plant.example")
        chain, client_key = tmp_path / "client.pem", tmp_path / "client.key"
        client_cert.cert_chain_pems[0].write_to_path(str(chain))
        client_cert.private_key_pem.write_to_path(str(client_key))
        async with GatewayClient.connect(
            sim.endpoint,
            api_key=ADMIN_KEY,
            ca_file=ca_file(ca, tmp_path),
            client_cert_file=chain,
            client_key_file=client_key,
        ) as client:
            await (await client.open_session("mutual")).close()


async def test_tls_with_the_wrong_ca_fails_typed(
    ca: trustme.CA, tmp_path: Path, anyio_backend: object
) -> None:
    cert, key = server_files(ca, tmp_path, "127.0.0.1")
    other = ca_file(trustme.CA(), tmp_path, "other-ca.pem")
    async with (
        Simulator(update_rate_hz=0, tls_cert_file=cert, tls_key_file=key) as sim,
        GatewayClient.connect(sim.endpoint, ca_file=other, default_timeout=5) as client,
    ):
        with pytest.raises(MxGatewayUnavailableError) as info:
            await client.open_session("untrusted")
        # Its own type, still an outage for code that catches those.
        assert type(info.value) is MxGatewayTlsError
        session = client.attach_session("session-x")
        with pytest.raises(MxGatewayTlsError):
            await session.read(["Tank_001.Level"])
    assert "TLS" in str(info.value)
    assert "ca_file" in str(info.value)


async def test_server_name_override(ca: trustme.CA, tmp_path: Path, anyio_backend: object) -> None:
    cert, key = server_files(ca, tmp_path, "gateway.plant.test")
    trusted = ca_file(ca, tmp_path)
    async with Simulator(update_rate_hz=0, tls_cert_file=cert, tls_key_file=key) as sim:
        async with GatewayClient.connect(sim.endpoint, ca_file=trusted, default_timeout=5) as client:
            with pytest.raises(MxGatewayUnavailableError):
                await client.open_session("wrong name")  # the certificate names gateway.plant.test
        async with GatewayClient.connect(
            sim.endpoint, ca_file=trusted, server_name_override="gateway.plant.test"
        ) as client:
            await (await client.open_session("right name")).close()


async def test_missing_ca_file_is_a_clear_error(tmp_path: Path, anyio_backend: object) -> None:
    with pytest.raises(ValueError, match="ca_file"):
        await GatewayClient.connect("127.0.0.1:1", ca_file=tmp_path / "missing.pem")


async def test_plaintext_client_to_tls_server_fails_typed(
    ca: trustme.CA, tmp_path: Path, anyio_backend: object
) -> None:
    cert, key = server_files(ca, tmp_path, "127.0.0.1")
    async with (
        Simulator(update_rate_hz=0, tls_cert_file=cert, tls_key_file=key) as sim,
        GatewayClient.connect(sim.endpoint, plaintext=True, default_timeout=5) as client,
    ):
        with pytest.raises(MxGatewayError):
            await client.open_session("mismatch")


async def test_a_key_the_gateway_echoes_reaches_no_error_attribute(secured: Simulator) -> None:
    secured.faults.fail_next(
        1, grpc_code=grpc.StatusCode.INVALID_ARGUMENT, message=f"rejected key {ADMIN_KEY}", methods=["Invoke"]
    )
    async with GatewayClient.connect(secured.endpoint, api_key=ADMIN_KEY) as client:
        session = await client.open_session("echo")
        with pytest.raises(MxGatewayError) as info:
            await session.register("x")
    error = info.value
    assert ADMIN_KEY not in str(error)
    assert ADMIN_KEY not in error.details
    assert ADMIN_KEY not in everything_printed(error)
    # Neither chained nor as context: a traceback printer would show either.
    assert error.__cause__ is None
    assert error.__context__ is None


# ------------------------------------------------- a key echoed in another case

ECHOES = [ADMIN_KEY.upper(), ADMIN_KEY.lower(), ADMIN_KEY.swapcase()]


def every_text(err: BaseException) -> str:
    """What any printer could show of ``err``: its traceback, and every error chained to it."""
    texts, pending, seen = [everything_printed(err)], [err], set()
    for _ in range(20):  # a chain is short; bounded all the same
        if not pending:
            break
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts += [repr(current), str(current), str(getattr(current, "reply", ""))]
        if isinstance(current, MxGatewayError):
            texts.append(current.details)
        pending += [current.__cause__, current.__context__]
    return "\n".join(texts)


def holds_key(text: str) -> bool:
    return ADMIN_KEY.casefold() in text.casefold()


@pytest.mark.parametrize("echo", ECHOES, ids=["upper", "lower", "swapped"])
async def test_a_key_echoed_in_any_letter_case_never_shows(
    secured: Simulator, echo: str, caplog: pytest.LogCaptureFixture
) -> None:
    from mxgateway.galaxy import GalaxyRepositoryClient

    caplog.set_level(logging.DEBUG)
    faults = secured.faults
    failures: list[BaseException] = []
    async with GatewayClient.connect(secured.endpoint, api_key=ADMIN_KEY) as client:
        session = await client.open_session("echo")
        faults.fail_next(
            1, grpc_code=grpc.StatusCode.INVALID_ARGUMENT, message=f"key {echo}", methods=["Invoke"]
        )
        with pytest.raises(MxGatewayError) as invoke:
            await session.register("x")
        failures.append(invoke.value)
        faults.fail_next(
            1, grpc_code=grpc.StatusCode.UNAUTHENTICATED, message=f"key {echo}", methods=["OpenSession"]
        )
        with pytest.raises(MxGatewayAuthenticationError) as opened:
            await client.open_session("again")
        failures.append(opened.value)
        faults.fail_next(
            1, grpc_code=grpc.StatusCode.PERMISSION_DENIED, message=f"key {echo}", methods=["StreamEvents"]
        )
        with pytest.raises(MxGatewayPermissionError) as streamed:
            async for _ in session.events():
                pass
        failures.append(streamed.value)
        await session.close()
    async with GalaxyRepositoryClient.connect(secured.endpoint, api_key=ADMIN_KEY) as galaxy:
        faults.fail_next(1, grpc_code=grpc.StatusCode.INTERNAL, message=f"key {echo}")
        with pytest.raises(MxGatewayError) as browsed:
            await galaxy.discover_hierarchy()
        failures.append(browsed.value)
        faults.fail_next(
            1, grpc_code=grpc.StatusCode.INTERNAL, message=f"key {echo}", methods=["WatchDeployEvents"]
        )
        with pytest.raises(MxGatewayError) as watched:
            async with galaxy.watch_deploy_events() as deploys:
                await deploys.__anext__()
        failures.append(watched.value)
    assert len(failures) == 5
    for failure in failures:
        printed = every_text(failure)
        assert "<redacted>" in printed
        assert not holds_key(printed), printed
    assert not holds_key(caplog.text)
