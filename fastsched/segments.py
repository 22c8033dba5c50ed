"""Segments as presets and compositions build them: records of a shape and its columns, before packing.

A preset's builder (``fastsched.presets.<library>``) returns a list of top-level items, each a :class:`Segment` or
a :class:`Cycle` of segments, in step order. Column values are Python floats for one config, or float64 arrays of
shape (n,) for n configs (a sweep), mixed freely; ``fastsched.table`` packs them. What the columns mean is
``kernels/layout.py``'s; what each shape computes is ``kernels/shapes.py``'s (shapes are named here by their
function's name, so a new shape needs no constant anywhere else).

Importing this module loads neither numpy nor numba: builders stay importable by the light registry.
"""

from __future__ import annotations

import math
from typing import Any

from .kernels import layout as L

INF = math.inf

# Column defaults: a segment that starts at step 0 and whose value is its shape's (x * 1 + 0), unclamped.
DEFAULTS = {
    "start": 0.0,
    "origin": 0.0,
    "end": INF,
    "span": 1.0,
    "p0": 0.0,
    "p1": 1.0,
    "p2": 0.0,
    "scale": 1.0,
    "offset": 0.0,
    "low": -INF,
    "post_scale": 1.0,
    "post_offset": 0.0,
    "shift": 0.0,
}
_SEGMENT_COLUMNS = tuple(DEFAULTS)


def _numpy():
    import numpy

    return numpy


def plain(value: Any) -> Any:
    """A numpy or torch scalar as the Python number it holds (for messages and state dicts)."""
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", 0) == 0 else value


def is_array(value: Any) -> bool:
    return hasattr(value, "shape") and getattr(value, "ndim", 0) > 0


def maximum(a: Any, b: Any) -> Any:
    if is_array(a) or is_array(b):
        return _numpy().maximum(a, b)
    return max(a, b)


def minimum(a: Any, b: Any) -> Any:
    if is_array(a) or is_array(b):
        return _numpy().minimum(a, b)
    return min(a, b)


def where(condition: Any, a: Any, b: Any) -> Any:
    if is_array(condition) or is_array(a) or is_array(b):
        return _numpy().where(condition, a, b)
    return a if condition else b


def floor(value: Any) -> Any:
    return _numpy().floor(value) if is_array(value) else float(math.floor(value))


class Segment:
    """One segment: a shape (its name in kernels/shapes.py, or an array of names, one per config) and columns."""

    __slots__ = ("columns", "shape")

    def __init__(self, shape: Any, start: Any = 0.0, **columns: Any) -> None:
        unknown = set(columns) - set(_SEGMENT_COLUMNS)
        if unknown:
            raise TypeError(f"unknown segment columns: {sorted(unknown)}")
        self.shape = shape
        self.columns = {**DEFAULTS, **columns, "start": start}

    def replace(self, **columns: Any) -> Segment:
        return Segment(self.shape, **{**self.columns, **columns})

    def shifted(self, offset: Any) -> Segment:
        """The same segment moved `offset` steps later."""
        c = self.columns
        return self.replace(start=c["start"] + offset, origin=c["origin"] + offset, end=c["end"] + offset)

    def then_affine(self, scale: Any, offset: Any) -> Segment:
        """The segment whose value is this one's times `scale` plus `offset`."""
        c = self.columns
        return self.replace(post_scale=c["post_scale"] * scale, post_offset=c["post_offset"] * scale + offset)

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.columns.items() if k == "start" or v is not DEFAULTS[k]}
        return f"Segment({self.shape!r}, {', '.join(f'{k}={v!r}' for k, v in changed.items())})"


class Cycle:
    """Segments that repeat from `start`: cycle 0 lasts `period` steps, each next one `mul` times as long, its values
    scaled by `decay` once more (the peak, or with amplitude=True the distance above the segments' OFFSET); after
    `limit` cycles (inf: never) the next item takes over. The segments' positions are relative to a cycle's start.
    `timm_index` computes the cycle index with timm's own expression (and its rounding) instead of the exact one."""

    __slots__ = ("amplitude", "decay", "limit", "mul", "period", "segments", "start", "timm_index")

    def __init__(
        self,
        segments: list[Segment],
        start: Any,
        period: Any,
        *,
        mul: Any = 1.0,
        decay: Any = 1.0,
        limit: Any = INF,
        amplitude: bool = False,
        timm_index: bool = False,
    ) -> None:
        if any(isinstance(s, Cycle) for s in segments):
            raise ValueError("cycles can't repeat segments that cycle themselves")
        self.segments = list(segments)
        self.start, self.period, self.mul, self.decay, self.limit = start, period, mul, decay, limit
        self.amplitude, self.timm_index = amplitude, timm_index

    @property
    def form(self) -> int:
        index = L.CYCLE_INDEX_TIMM if self.timm_index else L.CYCLE_INDEX_EXACT
        return index + (L.CYCLE_DECAY_AMPLITUDE if self.amplitude else 0)

    def replace(self, **changes: Any) -> Cycle:
        fields = {name: getattr(self, name) for name in self.__slots__}
        fields.update(changes)
        segments, start, period = fields.pop("segments"), fields.pop("start"), fields.pop("period")
        return Cycle(segments, start, period, **fields)

    def shifted(self, offset: Any) -> Cycle:
        return self.replace(start=self.start + offset)

    def then_affine(self, scale: Any, offset: Any) -> Cycle:
        return self.replace(segments=[s.then_affine(scale, offset) for s in self.segments])

    def __repr__(self) -> str:
        return f"Cycle({self.segments!r}, start={self.start!r}, period={self.period!r}, mul={self.mul!r})"


Item = Segment | Cycle


def item_start(item: Item) -> Any:
    return item.columns["start"] if isinstance(item, Segment) else item.start


def with_start(item: Item, start: Any) -> Item:
    return item.replace(start=start)
