"""What the command line prints: deterministic JSON on stdout, human extras on stderr.

Machine output is JSON with sorted keys, one document per line. Python values
become JSON as follows: a time is ISO-8601 in UTC with ``Z``, an elapsed time is
seconds, bytes are base64, a non-finite float is the string ``"NaN"``,
``"Infinity"`` or ``"-Infinity"``. Raw protobuf messages use their proto field
names and enum value names (``message_to_dict``).

Progress bars and tables are for people: they go to stderr and only when stderr
is a terminal, so pipes and files receive exactly the machine output.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.protobuf.message import Message

__all__ = [
    "Progress",
    "dumps",
    "format_table",
    "is_terminal",
    "jsonable",
    "message_to_dict",
    "progress_reporter",
    "text_line",
]


def is_terminal(stream: IO[str] | None) -> bool:
    """True when ``stream`` is an interactive terminal."""
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):
        return False


def _time(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    text = value.astimezone(dt.timezone.utc).isoformat()
    return text.removesuffix("+00:00") + "Z"


def _is_message(value: object) -> bool:
    return hasattr(value, "DESCRIPTOR") and hasattr(value, "ListFields")


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (see the module docstring for the rules)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dt.datetime):
        return _time(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if _is_message(value):
        return message_to_dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items, key=dumps) if isinstance(value, (set, frozenset)) else items
    raise TypeError(f"{type(value).__name__} has no JSON form")


def message_to_dict(message: Message) -> dict[str, Any]:
    """A protobuf message as a dict: proto field names, enum names as strings, integers as numbers."""
    from google.protobuf import json_format

    result: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return _numbers(message, result)


#: Field types that protobuf-JSON writes as strings (64-bit integers).
_INT64_TYPES = frozenset({3, 4, 6, 16, 18})  # INT64, UINT64, FIXED64, SFIXED64, SINT64


def _numbers(message: Message, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with 64-bit integers as JSON numbers, like every other integer of the CLI's output."""
    for field in message.DESCRIPTOR.fields:
        if field.name not in data:
            continue
        value = data[field.name]
        if field.type in _INT64_TYPES:
            data[field.name] = [int(v) for v in value] if isinstance(value, list) else int(value)
        elif field.message_type is not None and not field.message_type.GetOptions().map_entry:
            inner = getattr(message, field.name)
            if isinstance(value, list):
                data[field.name] = [
                    _numbers(m, v) if isinstance(v, dict) else v for m, v in zip(inner, value, strict=False)
                ]
            elif isinstance(value, dict) and field.message_type.full_name.startswith(("mxaccess", "galaxy")):
                data[field.name] = _numbers(inner, value)
    return data


def dumps(value: Any) -> str:
    """One line of deterministic JSON (sorted keys, UTF-8 text, no nan)."""
    return json.dumps(jsonable(value), sort_keys=True, ensure_ascii=False, allow_nan=False)


def _text_value(value: Any) -> str:
    plain = jsonable(value)
    if isinstance(plain, str):
        return plain
    if plain is None:
        return "-"
    return json.dumps(plain, sort_keys=True, ensure_ascii=False)


def _logfmt(text: str) -> str:
    """``text`` as a logfmt value: quoted (JSON string escapes) when it holds a space, ``=``, a quote or a control."""
    if any(c in ' ="\\' or c < " " or c == "\x7f" for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


def text_line(record: Mapping[str, Any]) -> str:
    """A record as one logfmt ``key=value`` line (keys sorted; values with spaces quoted)."""
    return " ".join(f"{key}={_logfmt(_text_value(record[key]))}" for key in sorted(record))


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """An aligned text table of ``columns`` (without a trailing newline)."""
    cells = [[_text_value(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells)
    return "\n".join(lines)


class Progress:
    """A one-line progress counter on stderr, drawn only on a terminal: count, rate, elapsed time, ETA.

    ``advance(n)`` counts; ``total`` may be learned later (``set_total``).
    Redraws at most ten times a second; ``close()`` erases the line. Never on
    stdout, never when stderr is not a terminal.
    """

    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        stream: IO[str] | None = None,
        enabled: bool | None = None,
        width: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = is_terminal(self._stream) if enabled is None else enabled
        self.label = label
        self.total = total
        self.count = 0
        self._width = width
        self._clock = clock
        self._started = clock()
        self._drawn_at = 0.0
        self._drawn = False

    def set_total(self, total: int | None) -> None:
        """Set the expected count (None when unknown)."""
        self.total = total

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more items and redraw when due."""
        self.count += n
        now = self._clock()
        if self.enabled and now - self._drawn_at >= 0.1:
            self._drawn_at = now
            self._draw()

    def render(self) -> str:
        """The text of the bar as it would be drawn."""
        elapsed = max(self._clock() - self._started, 0.0)
        rate = self.count / elapsed if elapsed > 0 else 0.0
        timing = f"{_rate(rate)}  {_duration(elapsed)} elapsed"
        if self.total:
            done = min(self.count, self.total)
            filled = self._width * done // self.total
            bar = "#" * filled + "-" * (self._width - filled)
            eta = _duration((self.total - done) / rate) if rate > 0 else "?"
            return f"{self.label} [{bar}] {done}/{self.total}  {timing}  ETA {eta}"
        return f"{self.label} {self.count}  {timing}"

    def _draw(self) -> None:
        self._stream.write("\r\x1b[2K" + self.render())
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Erase the bar (idempotent)."""
        if self.enabled and self._drawn:
            self._stream.write("\r\x1b[2K")
            self._stream.flush()
            self._drawn = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rate(per_second: float) -> str:
    return f"{per_second:,.0f}/s" if per_second >= 10 else f"{per_second:.1f}/s"


def _duration(seconds: float) -> str:
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


@contextlib.contextmanager
def progress_reporter(label: str, *, stream: IO[str] | None = None) -> Iterator[Callable[[int, int], None]]:
    """A ``on_progress(done, total)`` callback that draws a ``Progress`` line (total 0: unknown).

    For long start-ups and transfers outside this module (the bridge connecting
    its tags, for one): the same line, on stderr, only on a terminal, erased at the end.
    """
    with Progress(label, stream=stream) as progress:

        def on_progress(done: int, total: int) -> None:
            progress.set_total(total or None)
            progress.advance(done - progress.count)

        yield on_progress


def iter_with_progress(items: Iterable[Any], progress: Progress) -> Iterable[Any]:
    """Yield ``items``, advancing ``progress`` after each."""
    for item in items:
        yield item
        progress.advance()
