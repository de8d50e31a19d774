"""Command-line values converted without pydantic when the conversion is plain.

Typer (0.26 and later) converts every parameter, including the ones left at their
default, through a pydantic ``TypeAdapter``: importing pydantic and building the
adapters costs a one-shot ``mxgw-py read`` about a third of its time. Almost every
parameter of this CLI is a ``str``, an ``int``, a ``float`` or a list of those,
whose conversion is exact without pydantic. :func:`install` gives Typer's
parameters a converter that handles exactly those and hands everything else (a
``Path``, a choice, a bound that is not met, text that is not a plain number) to
Typer's own pydantic path, so results and error messages stay Typer's.

Text that is not valid UTF-8 (bytes the shell passed through ``surrogateescape``),
or longer than :data:`MAX_TEXT`, is refused here for every parameter except a
path: no other value can carry it to the gateway, and a path may name any file
the system can open.

This uses Typer's private ``typer.core._TyperParameter`` and ``typer._coercion``,
which is why pyproject.toml caps the typer version; a test checks both paths agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args, get_origin

import typer.core
from typer._click.exceptions import BadParameter
from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param

from mxgateway.cli.text_limits import MAX_TEXT, text_problem

__all__ = ["MAX_TEXT", "install", "light_converter"]

#: A converter's answer when it cannot decide: Typer's own conversion then runs.
UNDECIDED: Any = object()

# Only forms whose int()/float() result is certainly what pydantic's lax mode gives;
# anything else (spaces, underscores, exponents, "inf") goes the pydantic way.
_INT = re.compile(r"-?[0-9]{1,18}")
_FLOAT = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?")

Converter = Callable[[Any], Any]


def _as_str(value: Any) -> Any:
    return value if type(value) is str else UNDECIDED


def _bounded(convert: Callable[[str], Any], kind: type, pattern: re.Pattern[str], info: Any) -> Converter:
    low, high = info.min, info.max

    def number(value: Any) -> Any:
        if type(value) is kind:
            result = value
        elif type(value) is str and pattern.fullmatch(value):
            result = convert(value)
        elif type(value) is str and ("_" in value or not value.isascii()):
            # int() and pydantic take "1_000" and other scripts' digits; a typo on a
            # command line should not become a number.
            raise BadParameter(f"{value!r} is not a number written with the digits 0-9")
        else:
            return UNDECIDED
        if (low is not None and result < low) or (high is not None and result > high):
            return UNDECIDED  # Typer reports the bound (or clamps) in its own words
        return result

    return number


def _as_bool(value: Any) -> Any:
    return value if type(value) is bool else UNDECIDED


def _undecided(value: Any) -> Any:
    return UNDECIDED


def _leaf(annotation: Any, info: Any) -> Converter:
    # Any other type still converts a missing value (None) without pydantic: Typer's
    # RuntimeParam.coerce answers that before asking the converter.
    if info.parser is not None or getattr(info, "clamp", False):
        return _undecided
    if annotation is str:
        return _as_str
    if annotation is bool:
        return _as_bool
    if annotation is int:
        return _bounded(int, int, _INT, info)
    if annotation is float:
        return _bounded(float, float, _FLOAT, info)
    return _undecided


def light_converter(descriptor: TypeDescriptor) -> Converter:
    """A pydantic-free converter for a parameter's type; it answers UNDECIDED when Typer's is needed."""
    annotation: Any = descriptor.annotation
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None:
        return _undecided
    if get_origin(annotation) is list:
        args = get_args(annotation)
        if len(args) != 1:
            return _undecided
        convert_item = _leaf(args[0], info)

        def many(value: Any) -> Any:
            if not isinstance(value, (list, tuple)):
                return UNDECIDED
            result = [convert_item(v) for v in value]
            return UNDECIDED if any(r is UNDECIDED for r in result) else result

        return many
    return _leaf(annotation, info)


@dataclass(frozen=True)
class _LightRuntimeParam(RuntimeParam):
    convert: Converter
    descriptor: TypeDescriptor

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        problem = None if self.descriptor.is_path else text_problem(value)
        if problem is not None:
            # Else protobuf fails to encode it, or the gateway's reply is too large to arrive.
            raise BadParameter(problem, ctx=ctx, param=param)
        result = self.convert(value)
        if result is UNDECIDED:
            return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)
        return result


def _get_runtime_param(self: Any) -> RuntimeParam:
    if self._runtime_param is None:
        descriptor = self.type_descriptor
        self._runtime_param = _LightRuntimeParam(
            parameter_info=descriptor.parameter_info,
            annotation=descriptor.annotation,
            convert=light_converter(descriptor),
            descriptor=descriptor,
        )
    runtime: RuntimeParam = self._runtime_param
    return runtime


def install() -> None:
    """Give every Typer parameter the light converter (idempotent)."""
    typer.core._TyperParameter.get_runtime_param = _get_runtime_param  # type: ignore[method-assign]
