"""The connection and output options of a command, without Typer: what a command runs with.

``CommonOptions`` is what every gateway command gets; :func:`run_command` runs a
command body the way every command runs (output mode set, failures reported
once as an exit code). ``mxgateway.cli.options`` declares the same options for
Typer; the one-shot fast path (``mxgateway.cli.fast``) uses this module alone,
so it never imports Typer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mxgateway.cli.context import ENV_ENDPOINT, JSON_MODE, SESSION_ORIGIN, SIMULATOR_ENDPOINT
from mxgateway.cli.credentials import read_api_key
from mxgateway.cli.errors import CliUsageError, guarded
from mxgateway.cli.hints import CONNECTION_ORIGIN, ConnectionOrigin, endpoint_origin, key_origin
from mxgateway.cli.human import TAG_WIDTH, tag_width
from mxgateway.options import MAX_TIMEOUT_S

if TYPE_CHECKING:
    from pathlib import Path

    from mxgateway.options import ClientOptions

__all__ = ["BATCH_DEFAULTS", "CommonOptions", "build_common_options", "run_command"]

#: The shortest --timeout: a millisecond.
_MIN_TIMEOUT_S = 0.001


@dataclass(frozen=True)
class CommonOptions:
    """The connection and output options every gateway command takes.

    ``api_key`` is already resolved from its source; it never appears in a repr.
    ``plaintext`` None means: plaintext for a loopback endpoint or the embedded
    simulator, TLS otherwise.
    """

    endpoint: str | None = None
    api_key: str | None = field(default=None, repr=False)
    plaintext: bool | None = None
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    server_name_override: str | None = None
    timeout: float | None = None
    json: bool = False
    simulator: bool = False
    allow_insecure_api_key: bool = False

    @property
    def resolved_endpoint(self) -> str:
        """The endpoint to dial: ``simulator``, the flag, ``MXGATEWAY_ENDPOINT`` or the default."""
        if self.simulator:
            return SIMULATOR_ENDPOINT
        if self.endpoint:
            return self.endpoint
        from mxgateway.options import DEFAULT_ENDPOINT

        return os.environ.get(ENV_ENDPOINT) or DEFAULT_ENDPOINT

    @property
    def embedded(self) -> tuple[str, str] | None:
        """``(name, argument)`` when the endpoint names an embedded gateway (``simulator``), else None."""
        if self.simulator:
            return SIMULATOR_ENDPOINT, ""
        from mxgateway._transport.endpoints import embedded_gateway_name

        return embedded_gateway_name(self.resolved_endpoint)

    def client_options(self, endpoint: str | None = None) -> ClientOptions:
        """The core's ``ClientOptions`` (``endpoint`` replaces the resolved one, e.g. an embedded gateway's).

        Raises ``CliUsageError`` when the flags contradict each other.
        """
        from mxgateway.options import ClientOptions, endpoint_host

        target = endpoint or self.resolved_endpoint
        try:
            options = ClientOptions(
                endpoint=target,
                # "" means "no key" to ClientOptions: the CLI has resolved the environment itself.
                api_key=self.api_key or "",
                # None: the core's rule, plaintext on loopback without TLS settings.
                plaintext=self.plaintext,
                ca_file=self.ca_file,
                client_cert_file=self.client_cert,
                client_key_file=self.client_key,
                server_name_override=self.server_name_override,
                default_timeout=self.timeout if self.timeout is not None else 30.0,
                allow_insecure_api_key=self.allow_insecure_api_key,
            )
        except ValueError as exc:
            raise CliUsageError(str(exc)) from None
        try:
            options.check_key_transport()
        except ValueError:
            # The core's message names its Python keyword; a shell user needs the flag.
            raise CliUsageError(
                f"refusing to send the API key in plaintext to {endpoint_host(target)!r}: "
                "use TLS (drop --plaintext), or pass --allow-insecure-api-key"
            ) from None
        return options


#: The options given to ``batch`` itself: the defaults of each of its lines.
BATCH_DEFAULTS: ContextVar[CommonOptions | None] = ContextVar("mxgw_py_batch_defaults", default=None)


def build_common_options(values: dict[str, Any]) -> CommonOptions:
    """``CommonOptions`` from the raw option values (resolves the API key)."""
    endpoint = values.get("endpoint")
    if endpoint is not None and not endpoint.strip():
        # An unset shell variable, most likely: it must not quietly mean localhost:5000.
        raise CliUsageError(
            "--endpoint is empty: give the gateway's host:port, or leave it out for"
            f" {ENV_ENDPOINT} (else localhost:5000)"
        )
    timeout = values.get("timeout")
    if timeout is not None and not _MIN_TIMEOUT_S <= timeout <= MAX_TIMEOUT_S:
        raise CliUsageError(
            f"--timeout must be from {_MIN_TIMEOUT_S} to {MAX_TIMEOUT_S} seconds (a year), not {timeout}"
        )
    if values.get("plaintext") and values.get("tls"):
        raise CliUsageError("--plaintext and --tls contradict each other")
    if values.get("simulator") and values.get("endpoint"):
        raise CliUsageError(
            "--simulator and --endpoint contradict each other: give one (--endpoint simulator is --simulator)"
        )
    if (values.get("client_cert") is None) != (values.get("client_key") is None):
        raise CliUsageError("--client-cert and --client-key go together")
    plaintext: bool | None = True if values.get("plaintext") else (False if values.get("tls") else None)
    key_given = any(values.get(n) is not None for n in ("api_key", "api_key_env", "api_key_file"))
    base = BATCH_DEFAULTS.get()
    if base is not None and not key_given:
        api_key = base.api_key
    else:
        api_key = read_api_key(values.get("api_key"), values.get("api_key_env"), values.get("api_key_file"))
    options = CommonOptions(
        endpoint=values.get("endpoint") or None,
        api_key=api_key,
        plaintext=plaintext,
        ca_file=values.get("ca_file"),
        client_cert=values.get("client_cert"),
        client_key=values.get("client_key"),
        server_name_override=values.get("server_name_override") or None,
        timeout=values.get("timeout"),
        json=bool(values.get("json")),
        simulator=bool(values.get("simulator")),
        allow_insecure_api_key=bool(values.get("allow_insecure_api_key")),
    )
    return options if base is None else _merge(base, options)


def _merge(base: CommonOptions, line: CommonOptions) -> CommonOptions:
    """A batch line's options over the batch's: what the line gives wins."""
    return CommonOptions(
        endpoint=line.endpoint or base.endpoint,
        api_key=line.api_key,
        plaintext=line.plaintext if line.plaintext is not None else base.plaintext,
        ca_file=line.ca_file or base.ca_file,
        client_cert=line.client_cert or base.client_cert,
        client_key=line.client_key or base.client_key,
        server_name_override=line.server_name_override or base.server_name_override,
        timeout=line.timeout if line.timeout is not None else base.timeout,
        json=line.json or base.json,
        simulator=line.simulator or (base.simulator and not line.endpoint),
        allow_insecure_api_key=line.allow_insecure_api_key or base.allow_insecure_api_key,
    )


def run_command(
    fn: Callable[..., Any],
    values: dict[str, Any],
    kwargs: dict[str, Any],
    *,
    connects: bool,
    exit_with: Callable[[int], BaseException] | None = None,
) -> Any:
    """Run ``fn(common=..., **kwargs)`` with the options ``values``, guarded (see ``errors.guarded``).

    ``exit_with`` makes the exception that ends a failed command (default: ``typer.Exit``).
    """
    base = BATCH_DEFAULTS.get()
    json_token = JSON_MODE.set(bool(values.get("json")) or (base is not None and base.json))
    origin_token = SESSION_ORIGIN.set(None)
    tags = kwargs.get("tags")
    width_token = TAG_WIDTH.set(tag_width(tags) if isinstance(tags, list) else 0)
    connection_token = CONNECTION_ORIGIN.set(None)
    try:
        with guarded(exit_with):
            common = build_common_options(values) if connects else CommonOptions(json=bool(values["json"]))
            if connects:
                CONNECTION_ORIGIN.set(
                    ConnectionOrigin(
                        common.resolved_endpoint,
                        endpoint_origin(common.endpoint, common.simulator),
                        key_origin(values, common.api_key),
                    )
                )
            return fn(common=common, **kwargs)
    finally:
        CONNECTION_ORIGIN.reset(connection_token)
        TAG_WIDTH.reset(width_token)
        SESSION_ORIGIN.reset(origin_token)
        JSON_MODE.reset(json_token)
