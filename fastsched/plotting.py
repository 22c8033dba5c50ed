"""Drawing schedules: a matplotlib figure (PNG, SVG, PDF, ...) or a compact character plot for the terminal.

matplotlib is an optional dependency (``pip install 'fastsched[plot]'``): only :func:`save_figure` imports it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# One character per curve in the text plot, in this order (then again from the start).
MARKERS = "*+ox#@%&=~"


@dataclass(frozen=True)
class Curve:
    """One line of a plot: the lr at each of `steps` (increasing)."""

    label: str
    steps: np.ndarray
    lrs: np.ndarray


def _tick(value: float) -> str:
    return f"{value:.3g}"


def _fraction(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Where each value lies from `low` (0) to `high` (1); halved first so that no difference overflows, even
    between -1e308 and 1e308."""
    return np.clip((values / 2 - low / 2) / (high / 2 - low / 2), 0.0, 1.0)


def text_plot(curves: Sequence[Curve], *, title: str, y_label: str, width: int = 72, height: int = 14) -> str:
    """The curves drawn with characters on a `width` x `height` canvas, with axes, ticks and a legend."""
    x_first = min(float(c.steps[0]) for c in curves)
    x_last = max(float(c.steps[-1]) for c in curves)
    y_low = min(0.0, *(float(c.lrs.min()) for c in curves))
    y_high = max(float(c.lrs.max()) for c in curves)
    if y_high <= y_low:  # a flat line (all zeros, say) still needs a y range
        y_high = y_low + max(1.0, abs(y_low))
    canvas = [[" "] * width for _ in range(height)]
    for marker, curve in zip(itertools.cycle(MARKERS), curves):
        x_fraction = (curve.steps.astype(np.float64) - x_first) / max(x_last - x_first, 1.0)
        columns = np.rint(x_fraction * (width - 1)).astype(np.intp)
        rows = np.rint(_fraction(curve.lrs, y_low, y_high) * (height - 1)).astype(np.intp)  # 0: bottom
        bounds = np.searchsorted(columns, np.arange(width + 1))  # columns is non-decreasing: steps are sorted
        previous_row: int | None = None
        for column in range(width):
            in_column = rows[bounds[column] : bounds[column + 1]]
            if in_column.size == 0:
                continue
            # Span from the previous column's last value to this column's extremes: drops and steep
            # warmups stay connected instead of becoming scattered dots.
            low, high = int(in_column.min()), int(in_column.max())
            if previous_row is not None:
                low, high = min(low, previous_row), max(high, previous_row)
            for row in range(low, high + 1):
                canvas[height - 1 - row][column] = marker
            previous_row = int(in_column[-1])

    y_ticks = {0: _tick(y_high), (height - 1) // 2: _tick(y_low / 2 + y_high / 2), height - 1: _tick(y_low)}
    label_width = max(map(len, y_ticks.values()))
    lines = [title, y_label] if title else [y_label]
    for row, cells in enumerate(canvas):
        lines.append(f"{y_ticks.get(row, ''):>{label_width}} |{''.join(cells).rstrip()}")
    lines.append(f"{'':>{label_width}} +{'-' * width}")
    first, middle, last = (str(round(step)) for step in (x_first, (x_first + x_last) / 2, x_last))
    x_axis = [" "] * (width + 1)
    for position, text in ((0, first), ((width - len(middle)) // 2, middle), (width + 1 - len(last), last)):
        x_axis[position : position + len(text)] = text
    lines.append(f"{'':>{label_width}}  {''.join(x_axis).rstrip()}  step")
    lines.extend(f"  {marker} {curve.label}" for marker, curve in zip(itertools.cycle(MARKERS), curves) if curve.label)
    return "\n".join(lines)


def supported_formats() -> dict[str, str]:
    """{file extension: description} of what matplotlib can save; raises ImportError without matplotlib."""
    from matplotlib.backend_bases import FigureCanvasBase

    return FigureCanvasBase.get_supported_filetypes()


def save_figure(
    curves: Sequence[Curve], path: str | Path, *, title: str, y_label: str, format: str | None = None
) -> None:
    """Draw the curves as overlaid lines with matplotlib's Agg renderer (no display needed) and save to `path`,
    in `format` (an extension: "png", "svg"...), by default the one `path` ends with."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import EngFormatter

    figure = Figure(figsize=(8, 4.5), layout="constrained")
    FigureCanvasAgg(figure)  # Agg whatever the user's default backend: works headless, never opens a window
    axes = figure.add_subplot()
    for curve in curves:
        axes.plot(curve.steps, curve.lrs, label=curve.label or None, linewidth=1.5)
    axes.set_xlabel("step")
    axes.xaxis.set_major_formatter(EngFormatter(sep=""))  # 200k, 2M: steps read better than 0.2 x 1e7
    axes.set_ylabel(y_label)
    axes.set_title(title, fontsize="medium", wrap=True)
    axes.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    axes.margins(x=0)
    axes.set_ylim(bottom=min(0.0, *(float(c.lrs.min()) for c in curves)))
    axes.grid(alpha=0.3)
    if any(curve.label for curve in curves):
        axes.legend(fontsize="small")
    # Lrs near the float64 limit (1e308) overflow inside matplotlib's tick search, which still finds its ticks.
    with np.errstate(over="ignore", invalid="ignore"):
        figure.savefig(path, dpi=150, format=format)
