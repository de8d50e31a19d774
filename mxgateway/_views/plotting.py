"""Pictures of a recording: one step line per numeric tag, bad quality and gaps marked.

matplotlib is imported only here (the ``notebook`` extra). Figures are made
without pyplot, so drawing one never opens a window nor touches pyplot's global
state, and works on any thread; in IPython a PNG formatter is registered for
them so a figure displays inline.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mxgateway._views.markers import RecordingGap, RecordingRecovery

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["figure_png", "import_matplotlib", "plot_recording", "show_figures_inline"]

INSTALL_HINT = "pip install 'mxgateway[notebook]' (or: pip install matplotlib)"


def import_matplotlib() -> Any:
    """``matplotlib.figure``, or an ``ImportError`` that says what to install."""
    try:
        from matplotlib import figure
    except ImportError:
        raise ImportError(f"plotting needs matplotlib: {INSTALL_HINT}") from None
    return figure


def _is_number(value: object) -> bool:
    # bool is an int: a discrete tag draws as a 0/1 step line.
    return isinstance(value, (int, float))


def _series(items: Iterable[Any]) -> tuple[dict[str, list[Any]], list[Any], list[str]]:
    by_tag: dict[str, list[Any]] = {}
    markers: list[Any] = []
    skipped: list[str] = []
    for item in items:
        if isinstance(item, (RecordingGap, RecordingRecovery)):
            markers.append(item)
            continue
        tag = getattr(item, "tag", None)
        stamp = getattr(item, "source_timestamp", None)
        if tag is None or stamp is None or not getattr(item, "ok", True):
            continue
        if not _is_number(item.value):
            if tag not in skipped:
                skipped.append(str(tag))
            continue
        by_tag.setdefault(str(tag), []).append(item)
    return by_tag, markers, [t for t in skipped if t not in by_tag]


def _good(item: Any) -> bool:
    quality = getattr(item, "quality", None)
    name = getattr(quality, "name", "good")
    return str(name).lower().startswith("good")


#: Up to this many tags get a panel each (their own scale); more share one panel.
MAX_PANELS = 6


def plot_recording(items: Iterable[Any], *, title: str | None = None, width: float = 9.0) -> Figure:
    """A figure of ``items`` (changes or reads, and recording markers), one step line per numeric tag.

    Each tag gets a panel of its own scale (up to ``MAX_PANELS`` tags; more share
    one), over a shared time axis. Values hold until their next change (steps, drawn
    on to the end of the recording). A sample whose quality is not good gets a red
    cross; a gap or a session recovery a dashed vertical line. Tags with text
    values are named in the footnote, not drawn.
    """
    figure_module = import_matplotlib()
    from matplotlib import dates

    by_tag, markers, skipped = _series(items)
    panels = len(by_tag) if 0 < len(by_tag) <= MAX_PANELS else 1
    figure: Figure = figure_module.Figure(figsize=(width, 1.2 + 1.5 * panels), layout="constrained")
    axes_list = figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    last_time = max((s.source_timestamp for samples in by_tag.values() for s in samples), default=None)
    bad_label = "quality not good"
    marker_label = {RecordingGap: "gap (events lost)", RecordingRecovery: "session recovered"}
    for index, (tag, samples) in enumerate(by_tag.items()):
        axes = axes_list[index if panels > 1 else 0]
        samples.sort(key=lambda s: s.source_timestamp)
        times = [s.source_timestamp for s in samples]
        values = [float(s.value) for s in samples]
        color = f"C{index % 10}"
        axes.plot([*times, last_time], [*values, values[-1]], drawstyle="steps-post", label=tag, color=color)
        bad = [(t, v) for s, t, v in zip(samples, times, values, strict=True) if not _good(s)]
        if bad:
            axes.plot([t for t, _ in bad], [v for _, v in bad], "x", color="tab:red", label=bad_label)
            bad_label = "_nolegend_"
    for marker in markers:
        label = marker_label.pop(type(marker), "_nolegend_")
        for axes in axes_list:
            axes.axvline(marker.noticed_at, color="tab:gray", linestyle="--", linewidth=1, label=label)
            label = "_nolegend_"
    for axes in axes_list:
        axes.grid(True, alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(loc="upper left", fontsize="small", framealpha=0.8)
    if not by_tag:
        axes_list[0].text(
            0.5, 0.5, "no numeric values (yet)", ha="center", va="center", transform=axes_list[0].transAxes
        )
    bottom = axes_list[-1]
    locator = dates.AutoDateLocator(tz=dt.timezone.utc)  # type: ignore[no-untyped-call]
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(
        dates.ConciseDateFormatter(locator, tz=dt.timezone.utc)  # type: ignore[no-untyped-call]
    )
    bottom.set_xlabel("source time (UTC)")
    count = sum(len(s) for s in by_tag.values())
    figure.suptitle(title or _default_title(count, len(by_tag)), fontsize="medium")
    if skipped:
        figure.text(0.01, 0.005, "not drawn (not numeric): " + ", ".join(skipped), fontsize="x-small")
    return figure


def _default_title(count: int, tags: int) -> str:
    return f"{count} value{'s' * (count != 1)} of {tags} tag{'s' * (tags != 1)}"


def figure_png(figure: Figure, *, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def show_figures_inline() -> None:
    """In IPython, display matplotlib figures as PNG (pyplot's inline backend does it only once loaded)."""
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return
    figure_module = import_matplotlib()
    formatter = shell.display_formatter.formatters["image/png"]
    if not _has_printer(formatter, figure_module.Figure):
        formatter.for_type(figure_module.Figure, figure_png)


def _has_printer(formatter: Any, cls: type) -> bool:
    try:
        formatter.lookup_by_type(cls)
    except KeyError:
        return False
    return True
