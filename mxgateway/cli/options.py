"""The connection and output options every ``mxgw-py`` command shares, and the decorators that add them.

A command declares only its own parameters plus ``common: CommonOptions``; the
:func:`gateway_command` decorator adds the connection and output options (from
``mxgateway.cli.option_table``) to its ``--help``, refuses text no call could
carry, resolves the API key, runs the body and turns every expected failure into
an exit code and one error message (``mxgateway.cli.errors``).

Nothing here imports grpc, the core's client or the facade at module level: the
command line must start fast, so they are imported inside the commands.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperArgument, TyperOption

from mxgateway.cli.common import CommonOptions, build_common_options, run_command
from mxgateway.cli.option_table import GATEWAY_OPTIONS, JSON_OPTION, OptionSpec
from mxgateway.cli.text_limits import text_problem

__all__ = [
    "CommonOptions",
    "build_common_options",
    "gateway_command",
    "output_command",
    "refuse_unsendable_text",
    "typer_parameter",
]

F = TypeVar("F", bound=Callable[..., Any])


_ANNOTATIONS: dict[str, Any] = {
    "text": str | None,
    "path": Path | None,
    "flag": bool,
    "seconds": float | None,
}


def typer_parameter(spec: OptionSpec) -> tuple[str, Any, Any]:
    """``(name, annotation, default)`` of ``spec`` as a Typer option."""
    option = typer.Option(
        spec.flag,
        help=spec.help,
        metavar=spec.metavar,
        show_default=spec.show_default,
        min=spec.minimum,
        max=spec.maximum,
    )
    return spec.name, Annotated[_ANNOTATIONS[spec.kind], option], False if spec.kind == "flag" else None


_GATEWAY_PARAMS = [typer_parameter(spec) for spec in GATEWAY_OPTIONS]
_OUTPUT_PARAMS = [typer_parameter(JSON_OPTION)]
_PREFIX = "mxgw_"
#: The keyword of the Typer context a wrapped command gets when it takes none of its own.
_CONTEXT = _PREFIX + "context"


def refuse_unsendable_text(ctx: typer.Context, values: dict[str, Any]) -> None:
    """A usage error naming the parameter whose text no call could carry (``text_limits``).

    ``values`` are the command's converted parameters, by name. A file path may be
    any text the system takes: it arrives as a ``Path``, which is never refused.
    """
    for param in ctx.command.params:
        if not isinstance(param, (TyperArgument, TyperOption)):
            continue  # click's own (--help): never text
        problem = text_problem(values.get(param.name or ""))
        if problem is not None:
            # Else protobuf fails to encode it, or the gateway's reply is too large to arrive.
            raise typer.BadParameter(problem, ctx=ctx, param=param)


def _decorate(fn: F, extra: list[tuple[str, Any, Any]], *, connects: bool) -> F:
    """Give ``fn`` the ``extra`` options in its signature and run it guarded."""
    signature = inspect.signature(fn, eval_str=True)
    own = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in signature.parameters.values()
        if p.name != "common"
    ]
    own_context = next((p.name for p in own if p.annotation is typer.Context), None)
    added = [
        inspect.Parameter(
            _PREFIX + name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
        )
        for name, annotation, default in extra
    ]
    if own_context is None:
        added.append(inspect.Parameter(_CONTEXT, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context))
    new_signature = signature.replace(parameters=[*own, *added], return_annotation=None)

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        ctx = kwargs.pop(_CONTEXT) if own_context is None else kwargs[own_context]
        refuse_unsendable_text(ctx, kwargs)
        values = {name: kwargs.pop(_PREFIX + name) for name, _, _ in extra}
        return run_command(fn, values, kwargs, connects=connects)

    del wrapper.__wrapped__  # Typer must see the new signature, not fn's
    wrapper.__signature__ = new_signature  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in new_signature.parameters.values()}
    return wrapper  # type: ignore[return-value]


def gateway_command(fn: F) -> F:
    """Add the connection and output options to a command taking ``common: CommonOptions``."""
    return _decorate(fn, _GATEWAY_PARAMS, connects=True)


def output_command(fn: F) -> F:
    """Add only ``--json`` to a command that talks to no gateway."""
    return _decorate(fn, _OUTPUT_PARAMS, connects=False)
