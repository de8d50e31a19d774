"""How results look: one-line reprs, IPython pretty printing, Jupyter tables, pandas frames.

Results and events keep only small hooks (``__repr__``, ``_repr_pretty_``) that
call into this module; ``ResultList`` (what ``read()`` and the Galaxy queries
return) adds an HTML table for notebooks, ``to_pandas()`` and ``plot()``. pandas
and matplotlib are imported only by those (the ``pandas`` and ``notebook`` extras).
"""

from __future__ import annotations

import datetime as dt
import reprlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    import pandas
    from matplotlib.figure import Figure

__all__ = [
    "ResultList",
    "TableTuple",
    "client_html",
    "galaxy_object_html",
    "alarm_repr",
    "data_change_repr",
    "format_time",
    "format_value",
    "provider_status_repr",
    "read_result_repr",
    "result_line",
    "rows_of",
    "transition_repr",
    "write_complete_repr",
]

T = TypeVar("T")

#: Rows an HTML table shows before it says how many more there are.
HTML_MAX_ROWS = 200

_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlist = 8
_short.maxtuple = 8


def format_time(stamp: dt.datetime | None, *, now: dt.datetime | None = None) -> str:
    """``08:05:56Z`` for a time of today (UTC), else ``2026-01-02T08:05:56Z``; '' for None."""
    if stamp is None:
        return ""
    utc = stamp.astimezone(dt.timezone.utc)
    today = (now or dt.datetime.now(dt.timezone.utc)).date()
    clock = utc.strftime("%H:%M:%SZ")
    return clock if utc.date() == today else f"{utc.date().isoformat()}T{clock}"


def format_value(value: object) -> str:
    """A value as a short Python literal: strings quoted, long lists and strings shortened."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.timedelta):
        return f"{value.total_seconds():g}s"
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return _short.repr(value)


def _quality_name(quality: object) -> str:
    return "" if quality is None else str(getattr(quality, "name", quality))


def result_line(
    target: str,
    *,
    ok: bool,
    value: object = None,
    quality: object = None,
    timestamp: dt.datetime | None = None,
    error: str = "",
) -> str:
    """``Tank_001.Level = 60.0 (good, 08:05:56Z)``, or ``Tank_001.Nope: failed: <why>``."""
    if not ok:
        return f"{target}: failed: {error or 'no reason given'}"
    details = ", ".join(p for p in (_quality_name(quality), format_time(timestamp)) if p)
    return f"{target} = {format_value(value)}" + (f" ({details})" if details else "")


def read_result_repr(result: Any) -> str:
    """The one-line repr of a ``ReadResult``."""
    return result_line(
        result.tag,
        ok=result.ok,
        value=result.value,
        quality=result.quality,
        timestamp=result.source_timestamp,
        error=result.error_message,
    )


def data_change_repr(change: Any) -> str:
    """The one-line repr of a ``DataChange``: ``#12 Tank_001.Level = 60.0 (good, 08:05:56Z)``."""
    target = change.tag or f"item {change.server_handle}/{change.item_handle}"
    line = result_line(
        target, ok=True, value=change.value, quality=change.quality, timestamp=change.source_timestamp
    )
    return f"#{change.worker_sequence} {line}"


def write_complete_repr(outcome: Any) -> str:
    """``WriteComplete(#3 Tank_001.Volume succeeded)``, or the failed statuses."""
    target = outcome.tag or f"item {outcome.server_handle}/{outcome.item_handle}"
    if outcome.ok:
        result = "succeeded"
    else:
        failed = "; ".join(s.readable for s in outcome.statuses if s.is_failure)
        hresult = f"hresult 0x{outcome.hresult & 0xFFFFFFFF:08X}" if outcome.hresult else ""
        result = "failed: " + (", ".join(p for p in (hresult, failed) if p) or "no reason given")
    return f"WriteComplete(#{outcome.worker_sequence} {target} {result})"


def _alarm_details(alarm: Any, stamp: dt.datetime | None) -> str:
    parts = [f"severity {alarm.severity}"]
    if alarm.current_value is not None:
        limit = f" (limit {format_value(alarm.limit_value)})" if alarm.limit_value is not None else ""
        parts.append(f"value {format_value(alarm.current_value)}{limit}")
    if alarm.operator_user:
        parts.append(f"acknowledged by {alarm.operator_user}")
    if alarm.degraded:
        parts.append("degraded")
    if stamp is not None:
        parts.append(format_time(stamp))
    return ", ".join(parts)


def alarm_repr(alarm: Any) -> str:
    """``Alarm(G!Intake.Tank_001.Level.Hi ACTIVE, severity 500, value 92.0 (limit 90.0), 08:05:56Z)``."""
    details = _alarm_details(alarm, alarm.last_transition_time)
    return f"Alarm({alarm.reference} {alarm.state.name}, {details})"


def transition_repr(transition: Any) -> str:
    """``AlarmTransition(RAISE G!Intake.Tank_001.Level.Hi, severity 500, ..., 08:05:56Z)``."""
    alarm = transition.alarm
    synthetic = ", synthetic" if transition.synthetic else ""
    details = _alarm_details(alarm, transition.transition_time)
    return f"AlarmTransition({transition.kind.name} {alarm.reference}, {details}{synthetic})"


def provider_status_repr(status: Any) -> str:
    """``AlarmProviderStatus(ALARMMGR, 'alarm manager connected', since 08:05:56Z)``."""
    degraded = " degraded" if status.degraded else ""
    since = f", since {format_time(status.since)}" if status.since is not None else ""
    return f"AlarmProviderStatus({status.mode.name}{degraded}, {status.reason!r}{since})"


# ------------------------------------------------------------------ rows of known result types

Row = dict[str, Any]


def _read_row(result: Any) -> Row:
    return {
        "tag": result.tag,
        "ok": result.ok,
        "value": result.value,
        "quality": _quality_name(result.quality) if result.ok else "",
        "source_timestamp": result.source_timestamp,
        "error": result.error_message,
    }


def _change_row(change: Any) -> Row:
    return {
        "worker_sequence": change.worker_sequence,
        "tag": change.tag or f"{change.server_handle}/{change.item_handle}",
        "value": change.value,
        "quality": _quality_name(change.quality),
        "source_timestamp": change.source_timestamp,
    }


def _object_row(obj: Any) -> Row:
    return {
        "tag_name": obj.tag_name,
        "gobject_id": obj.gobject_id,
        "parent_gobject_id": obj.parent_gobject_id,
        "template": obj.template,
        "contained_path": obj.contained_path,
        "attributes": len(obj.attributes),
    }


def _attribute_row(attribute: Any) -> Row:
    return {
        "tag": attribute.tag,
        "data_type": attribute.data_type_name,
        "flags": " ".join(attribute.flags),
        "security_classification": attribute.security_classification,
    }


def _node_row(node: Any) -> Row:
    return {**_object_row(node.object), "has_children": node.has_children}


def _alarm_row(alarm: Any) -> Row:
    return {
        "reference": alarm.reference,
        "state": alarm.state.name,
        "severity": alarm.severity,
        "alarm_type": alarm.alarm_type,
        "current_value": alarm.current_value,
        "limit_value": alarm.limit_value,
        "last_transition_time": alarm.last_transition_time,
        "operator_user": alarm.operator_user,
        "degraded": alarm.degraded,
    }


def _transition_row(transition: Any) -> Row:
    return {
        "kind": transition.kind.name,
        **_alarm_row(transition.alarm),
        "transition_time": transition.transition_time,
        "synthetic": transition.synthetic,
    }


def _marker_row(marker: Any) -> Row:
    return {"marker": repr(marker), "source_timestamp": marker.noticed_at}


_ROWS: dict[str, Callable[[Any], Row]] = {
    "RecordingGap": _marker_row,
    "RecordingRecovery": _marker_row,
    "ReadResult": _read_row,
    "DataChange": _change_row,
    "GalaxyObject": _object_row,
    "GalaxyAttribute": _attribute_row,
    "BrowseNode": _node_row,
    "Alarm": _alarm_row,
    "AlarmTransition": _transition_row,
}


def _row(item: object) -> Row:
    for cls in type(item).__mro__:
        make = _ROWS.get(cls.__name__)
        if make is not None:
            return make(item)
    return {"item": repr(item)}


def rows_of(items: Iterable[object]) -> list[Row]:
    """One dict per item, with the columns of its type (``{"item": repr}`` for others)."""
    return [_row(item) for item in items]


def _cell(value: object) -> str:
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return format_value(value)


def html_table(items: list[Any]) -> str:
    """An HTML table of ``items`` (the first ``HTML_MAX_ROWS``), columns by item type."""
    import html  # here: only notebooks render HTML

    rows = rows_of(items[:HTML_MAX_ROWS])
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(row.get(c)))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    more = len(items) - len(rows)
    note = f"<p>... {more} more</p>" if more > 0 else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


class ResultList(list[T]):
    """A list of results that also displays well: one per line in IPython, a table in Jupyter.

    ``to_pandas()`` gives a ``pandas.DataFrame`` with one row per result, or with
    ``wide=True`` one column per tag over a time index; ``plot()`` draws the values.
    """

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        if cycle or not self:
            printer.text("[...]" if cycle else "[]")
            return
        with printer.group(1, "[", "]"):
            for index, item in enumerate(self):
                if index:
                    printer.text(",")
                    printer.breakable()
                printer.pretty(item)

    def _repr_html_(self) -> str:
        return html_table(self)

    def to_pandas(self, wide: bool = False) -> pandas.DataFrame:
        """The results as a ``pandas.DataFrame`` (needs pandas: ``pip install 'mxgateway[pandas]'``).

        By default one row per result. With ``wide=True`` (changes or reads): a
        timezone-aware index of source times and one column per tag, ready for
        ``frame.resample("1s").last().ffill()``; a cell is NaN where its tag did
        not change at that time; a recording's gap markers are in
        ``frame.attrs["markers"]``.
        """
        from mxgateway._views import frames

        if wide:
            return frames.wide_frame(self)
        return frames.import_pandas().DataFrame.from_records(rows_of(self))

    def plot(self, *, title: str | None = None) -> Figure:
        """A matplotlib figure of the numeric values, one step line per tag (shown inline in Jupyter).

        Samples whose quality is not good are marked, so are a recording's gaps.
        Needs matplotlib: ``pip install 'mxgateway[notebook]'``.
        """
        from mxgateway._views import plotting

        figure = plotting.plot_recording(self, title=title)
        plotting.show_figures_inline()
        return figure


class TableTuple(tuple[T, ...], Generic[T]):
    """An immutable sequence of results that shows as a table in Jupyter (a Galaxy object's attributes)."""

    __slots__ = ()

    def _repr_html_(self) -> str:
        return html_table(list(self))


def _facts(pairs: Iterable[tuple[str, object]]) -> str:
    import html

    return "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(_cell(v))}</td></tr>"
        for k, v in pairs
    )


def galaxy_object_html(obj: Any) -> str:
    """A Galaxy object for Jupyter: its identity, then its attributes as a table."""
    facts = _facts(
        [
            ("gobject_id", obj.gobject_id),
            ("template", obj.template),
            ("contained_path", obj.contained_path),
            ("parent_gobject_id", obj.parent_gobject_id),
            ("attributes", len(obj.attributes)),
        ]
    )
    import html

    head = f"<p><b>{html.escape(obj.tag_name)}</b> (GalaxyObject)</p><table>{facts}</table>"
    return head + (html_table(list(obj.attributes)) if obj.attributes else "")


def client_html(kind: str, endpoint: str, state: str, session_id: str, session_name: str) -> str:
    """A client for Jupyter: endpoint, state and session (never a credential)."""
    facts = _facts(
        [
            ("endpoint", endpoint),
            ("state", state),
            ("session", session_id or "none yet"),
            ("name", session_name),
        ]
    )
    return f"<p><b>{kind}</b></p><table>{facts}</table>"
