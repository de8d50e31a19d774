"""What text a command-line parameter may carry: valid UTF-8, at most ``MAX_TEXT`` characters.

Shared by the commands Typer runs (``options.refuse_unsendable_text``) and the
Typer-free ``read`` path (``fast``, which leaves such values to Typer), so both
refuse the same values in the same words.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_TEXT", "text_problem"]

#: The longest text a parameter takes: gRPC refuses headers past 16 KiB, and the
#: gateway echoes a refused name in its status, which travels as a header.
MAX_TEXT = 8192


def text_problem(value: Any) -> str | None:
    """Why ``value`` (a string, or a list of them) cannot be passed on; None when it can."""
    if isinstance(value, (list, tuple)):
        return next((p for p in map(text_problem, value) if p is not None), None)
    if type(value) is not str:
        return None
    if len(value) > MAX_TEXT:
        return f"longer than {MAX_TEXT} characters ({len(value)})"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid UTF-8 text (check the terminal's encoding)"
    return None
