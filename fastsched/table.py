"""The segment table: a schedule's segments packed into the arrays every kernel takes, one row per config.

``pack`` validates base_lr, builds the schedule's items for n configs and packs them: ``codes`` (n, S) int64 shape
codes, ``cols`` (n, S, NUM_COLUMNS) float64, ``counts`` (n,) segments in use, ``base_lrs`` (n,). Top-level
segments' starts are made non-decreasing (a segment that starts before the one in front of it is empty), and a
limited cycle's end is computed by the kernels' own cycle index, so packing never restates a formula.
"""

from __future__ import annotations

import enum
import functools
import math
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import segments
from .kernels import layout as L
from .schedules import Context, Schedule, as_schedule, schedule
from .segments import Cycle, Segment
from .validation import as_numeric, check_float, scalar_number

_SEGMENT_COLUMN_INDEX = {name: L.COLUMN_NAMES.index(name) for name in segments.DEFAULTS}
_CYCLE_DEFAULT_ROW = [0.0] * L.NUM_COLUMNS
_CYCLE_DEFAULT_ROW[L.POST_SCALE] = 1.0
_CYCLE_DEFAULT_ROW[L.LOW] = -math.inf
_CYCLE_DEFAULT_ROW[L.END] = math.inf
_CYCLE_DEFAULT_ROW[L.SPAN] = 1.0
_CYCLE_DEFAULT_ROW[L.SCALE] = 1.0
_CYCLE_DEFAULT_ROW[L.P1] = 1.0


@dataclass
class SegmentTable:
    """The kernels' input for n configs."""

    codes: np.ndarray  # (n, S) int64
    cols: np.ndarray  # (n, S, NUM_COLUMNS) float64
    counts: np.ndarray  # (n,) int64
    base_lrs: np.ndarray  # (n,) float64
    # one config without cycles: (|cycles|, origin, span) of each cosine segment, read once (max_cosine_turns)
    _cosines: list[tuple[float, float, float]] | None = field(default=None, compare=False, repr=False)
    _shapes: tuple[int, ...] | None = field(default=None, compare=False, repr=False)
    _form: int | None = field(default=None, compare=False, repr=False)
    # max_abs_value's last (first_step, last_step, bound): a table the pack cache hands out again is checked once
    _last_bound: tuple[float, float, float] | None = field(default=None, compare=False, repr=False)

    @property
    def shapes(self) -> tuple[int, ...]:
        """The sorted shape codes the table uses (the CPU kernels are specialized on them)."""
        if self._shapes is None:
            from .kernels import cpu

            self._shapes = cpu.shapes_of(self.codes)
        return self._shapes

    @property
    def form(self) -> int:
        """The form of the CPU kernels' loops that computes this table (kernels.cpu.form_of)."""
        if self._form is None:
            from .kernels import cpu

            self._form = cpu.form_of(self.codes, self.cols, self.shapes)
        return self._form

    @property
    def num_configs(self) -> int:
        return self.codes.shape[0]

    def rows(self, rows: slice) -> SegmentTable:
        return SegmentTable(
            self.codes[rows], self.cols[rows], self.counts[rows], self.base_lrs[rows], None, self._shapes, self._form
        )

    def top_level(self) -> list[int]:
        """The indices of the top-level segments (a CYCLE's repeated segments are not)."""
        indices, j, codes = [], 0, self.codes[0]
        while j < self.codes.shape[1]:
            indices.append(j)
            j += 1 + (int(self.cols[0, j, L.CYCLE_SEGMENTS]) if codes[j] == _shape_code("cycle") else 0)
        return indices

    def constant_from(self, row: int = 0) -> int | None:
        """The first step (>= 0) from which config `row`'s value never changes, or None where it keeps changing."""
        last = self.top_level()[-1]
        if self.codes[row, last] != _shape_code("constant"):
            return None
        return int(max(0.0, math.ceil(max(self.cols[row, last, L.START], 0.0))))

    def nominal_length(self, row: int = 0) -> int:
        """Steps that hold every segment's declared start and end (a schedule's num_training_steps, say): at least 1."""
        top = self.top_level()
        marks = np.concatenate([self.cols[row, top, L.START], self.cols[row, top, L.END]])
        finite = marks[np.isfinite(marks)]
        return int(max(1.0, math.ceil(finite.max(initial=0.0)) + 1.0))

    def max_cosine_turns(self, last_step: float) -> float:
        """An upper bound of cycles * progress over the cosine segments up to `last_step` (what bounds the angle
        of the cosines whose argument keeps growing; the other cosine shapes take cosines of at most pi)."""
        code = _shape_code("cosine")
        cycle_code = _shape_code("cycle")
        cols = self.cols
        if cols.shape[0] == 1 and cycle_code not in self.codes[0]:  # one config: plain floats
            if self._cosines is None:
                rows = [cols[0, j].tolist() for j, row_code in enumerate(self.codes[0].tolist()) if row_code == code]
                self._cosines = [(abs(c[L.P0]), c[L.ORIGIN] - c[L.SHIFT], c[L.SPAN]) for c in rows]
            turns = 0.0
            for cycles, origin, span in self._cosines:
                turns = max(turns, cycles * max(0.0, last_step + 1.0 - origin) / span)
            return turns
        mask = self.codes == code
        if not mask.any():
            return 0.0
        reach = np.maximum(0.0, last_step + 1.0 - cols[:, :, L.ORIGIN] + cols[:, :, L.SHIFT])
        # a cycled segment's progress stays within its cycle (positions and span stretch alike)
        for j in range(self.codes.shape[1]):
            if self.codes[0, j] == cycle_code:
                members = slice(j + 1, j + 1 + int(cols[0, j, L.CYCLE_SEGMENTS]))
                local = cols[:, j, None, L.CYCLE_PERIOD] - cols[:, members, L.ORIGIN] + cols[:, members, L.SHIFT]
                reach[:, members] = np.maximum(0.0, local)
        turns = np.abs(cols[:, :, L.P0]) * reach / cols[:, :, L.SPAN]
        return float(np.where(mask, turns, 0.0).max())

    def max_abs_value(self, first_step: float, last_step: float) -> float:
        """An upper bound of |value| (before base_lr) over steps first_step .. last_step, every config: what a
        float32 output must hold. Conservative, and cheap: inf for a shape it can't bound (the caller then
        computes the values to know)."""
        if self._last_bound is not None and self._last_bound[:2] == (first_step, last_step):
            return self._last_bound[2]
        bound = self._max_abs_value(first_step, last_step)
        self._last_bound = (first_step, last_step, bound)
        return bound

    def _max_abs_value(self, first_step: float, last_step: float) -> float:
        bound = 0.0
        top = self.top_level()
        for position, j in enumerate(top):
            # the whole steps the segment holds in [first_step, last_step]: from ceil(START) to ceil(next START) - 1
            region_first = np.maximum(np.ceil(self.cols[:, j, L.START]), first_step)
            following = top[position + 1] if position + 1 < len(top) else None
            if following is None:
                region_last = np.full(self.num_configs, float(last_step))
            else:
                region_last = np.minimum(np.ceil(self.cols[:, following, L.START]) - 1.0, last_step)
            live = region_first <= region_last
            if not live.any():
                continue
            if self.codes[0, j] == _shape_code("cycle"):
                head = self.cols[:, j]
                decay = np.abs(head[:, L.CYCLE_DECAY])
                cycles_reached = np.maximum(0.0, (region_last - head[:, L.START]) / head[:, L.CYCLE_PERIOD]) + 1.0
                growth = np.where(
                    decay <= 1.0, 1.0, np.where(head[:, L.CYCLE_MUL] >= 1.0, decay**cycles_reached, np.inf)
                )
                for m in range(j + 1, j + 1 + int(head[0, L.CYCLE_SEGMENTS])):
                    member = self._segment_bound(m, None, None) * growth
                    bound = max(bound, float(np.where(live, member, 0.0).max()))
                continue
            segment = self._segment_bound(j, region_first, region_last)
            bound = max(bound, float(np.where(live, segment, 0.0).max()))
        return bound

    def _segment_bound(self, j: int, first: Any, last: Any) -> np.ndarray:
        c = self.cols[:, j]
        code = self.codes[:, j]
        scale, offset = np.abs(c[:, L.SCALE]), np.abs(c[:, L.OFFSET])
        with np.errstate(all="ignore"):
            fraction = np.ones(c.shape[0])  # cosines, square roots, constants: a fraction within [0, 1]
            if first is not None:  # linear shapes: their progress (or what remains) at the region's ends
                ends = np.stack(np.broadcast_arrays(first, last, np.zeros(c.shape[0]))[:2])
                progress = np.abs((ends - c[:, L.ORIGIN] + c[:, L.SHIFT]) / c[:, L.SPAN]).max(axis=0)
                remaining = np.abs((c[:, L.END] - ends) / c[:, L.SPAN]).max(axis=0)
                linear = np.isin(code, [_shape_code(name) for name in ("linear", "linear_one_minus", "linear_lerp")])
                fraction = np.where(linear, np.maximum(1.0, progress), fraction)
                fraction = np.where(code == _shape_code("linear_remaining"), np.maximum(1.0, remaining), fraction)
                fraction = np.nan_to_num(fraction, nan=np.inf, posinf=np.inf)
            value = fraction * scale + offset
            value = np.where(code == _shape_code("polynomial"), (scale + offset) / np.abs(c[:, L.P1]), value)
            if first is not None:
                # its progress is largest there
                at_first = (np.asarray(first) - c[:, L.ORIGIN] + c[:, L.SHIFT]) / c[:, L.SPAN]
                inverse_sqrt = scale / np.sqrt(np.maximum(at_first, 0.0)) + offset
                value = np.where(code == _shape_code("inverse_sqrt"), inverse_sqrt, value)
            from .kernels.shapes import BOUNDED_SHAPES

            known = np.isin(code, [_shape_code(name) for name in BOUNDED_SHAPES])
            value = np.where(known, value, np.inf)
            low = np.where(np.isfinite(c[:, L.LOW]), np.abs(c[:, L.LOW]), 0.0)
            return np.maximum(value, low) * np.abs(c[:, L.POST_SCALE]) + np.abs(c[:, L.POST_OFFSET])


_CODES: dict[str, int] = {}


def _shape_code(name: str) -> int:
    code = _CODES.get(name)
    if code is None:
        from .kernels.shapes import SHAPE_NAMES

        if name not in SHAPE_NAMES:
            raise ValueError(f"no segment shape called {name!r}; shapes: {', '.join(SHAPE_NAMES)}")
        code = _CODES[name] = SHAPE_NAMES.index(name)
    return code


def _codes_of(shape: Any, n: int) -> Any:
    if isinstance(shape, str):
        return _shape_code(shape)
    return np.array([_shape_code(str(s)) for s in shape], dtype=np.int64).reshape(n)


def _base_lrs(base_lr: Any) -> Any:
    number = scalar_number(base_lr)
    if number is not None and math.isfinite(number) and number >= 0:
        return number
    checked = check_float("base_lr", as_numeric("base_lr", base_lr))
    return float(checked) if checked.ndim == 0 else checked


def pack(schedule: Any, base_lr: Any = 1.0, *, reference_lr: Any = None, allow_arrays: bool = True) -> SegmentTable:
    """Validate and pack `schedule` (a schedule object, a preset name or a spec) for the kernels.

    `base_lr` (a scalar, or one per config) multiplies every value; `reference_lr` is what absolute parameters
    (polynomial's lr_end, min_lr, ...) are relative to (default: base_lr). Without `allow_arrays`, exactly one
    config is allowed (trajectory, the schedulers).
    """
    schedule = as_schedule(schedule)
    lrs = _base_lrs(base_lr)
    n = schedule.num_configs
    if segments.is_array(lrs):
        if n not in (1, len(lrs)):
            listed = ", ".join(f"`{name}` has {length}" for name, length in schedule.array_parameters().items())
            raise ValueError(f"sweep parameters must have one common length; `base_lr` has {len(lrs)}, {listed}")
        n = len(lrs)
    if n != 1 and not allow_arrays:
        arrays = {"base_lr": n} if segments.is_array(lrs) else schedule.array_parameters()
        names = ", ".join(f"`{name}`" for name in arrays)
        raise ValueError(
            f"{names} must be a scalar here (a single trajectory takes one config): use fastsched.sweep for arrays "
            "of parameters"
        )
    if reference_lr is None:
        reference_lr = lrs
    elif segments.is_array(reference_lr) and n == 1:
        n = len(reference_lr)  # a composition's part, packed against the whole sweep's lrs
    context = Context(n, reference_lr, lambda inner, step: evaluate(inner, step, n, reference_lr))
    table = _pack_items(schedule.build(context), n)
    table.base_lrs = np.full(n, lrs) if not segments.is_array(lrs) else np.ascontiguousarray(lrs, dtype=np.float64)
    return table


# One-config tables packed from a preset name and scalar parameters, most recently used last: a repeated call (a
# training loop's trajectory, a benchmark, a scheduler rebuilt per run) skips validation and packing. Only builds
# that warned nothing are kept, so a cached call behaves as a fresh one.
PACKED_CACHE_SIZE = 256
_packed: OrderedDict[tuple, SegmentTable] = OrderedDict()
_packed_lock = threading.Lock()
_SCALAR_TYPES = (int, float, str, np.integer, np.floating)


def _cache_key(name: Any, params: dict[str, Any], base_lr: Any, reference_lr: Any) -> tuple | None:
    values = (name, base_lr, reference_lr, *params.values())
    if not all(v is None or type(v) in _SCALAR_TYPES or isinstance(v, _SCALAR_TYPES) for v in values):
        return None
    if isinstance(name, bool) or not isinstance(name, (str, enum.Enum)):
        return None
    # types are part of the key: True == 1 == 1.0 hash alike but don't validate alike
    return (
        name.value if isinstance(name, enum.Enum) else name,
        type(base_lr),
        base_lr,
        type(reference_lr),
        reference_lr,
        *((key, type(value), value) for key, value in params.items()),
    )


def pack_one(name: Any, params: dict[str, Any], base_lr: Any = 1.0, *, reference_lr: Any = None) -> SegmentTable:
    """pack(schedule(name, **params), base_lr, allow_arrays=False), from a cache when all are scalars.

    The table returned may be shared: callers must not modify it."""
    key = _cache_key(name, params, base_lr, reference_lr)
    if key is not None:
        with _packed_lock:
            table = _packed.get(key)
            if table is not None:
                _packed.move_to_end(key)
                return table
    if key is None:
        return pack(schedule_of(name, params), base_lr, reference_lr=reference_lr, allow_arrays=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = pack(schedule_of(name, params), base_lr, reference_lr=reference_lr, allow_arrays=False)
    for warning in caught:  # as they were raised, at the line they point to
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if not caught:
        with _packed_lock:
            _packed[key] = table
            while len(_packed) > PACKED_CACHE_SIZE:
                _packed.popitem(last=False)
    return table


def schedule_of(name: Any, params: dict[str, Any]) -> Schedule:
    """A schedule object from a name (with its parameters), a spec, or a schedule object (without parameters)."""
    if isinstance(name, (Schedule, dict)) or (isinstance(name, str) and name.lstrip().startswith("{")):
        if params:
            raise TypeError(
                f"parameters {', '.join(map(repr, params))} go into the schedule object, not beside it: "
                "fastsched.schedule(name, **params)"
            )
        return schedule(name)
    return schedule(name, **params)


def _rows(items: list[Any]) -> tuple[list[tuple[Any, dict[str, Any] | None, Cycle | None]], list[int]]:
    """(shape, segment columns, cycle) per table row (a cycle's head row, then its segments), and the indices of the
    top-level rows (those a cycle does not repeat)."""
    rows: list[tuple[Any, dict[str, Any] | None, Cycle | None]] = []
    top: list[int] = []
    for item in items:
        top.append(len(rows))
        if isinstance(item, Segment):
            rows.append((item.shape, item.columns, None))
        else:
            rows.append(("cycle", None, item))
            rows.extend((member.shape, member.columns, None) for member in item.segments)
    return rows, top


def _cycle_columns(cycle: Cycle) -> dict[int, Any]:
    return {
        L.START: cycle.start,
        L.CYCLE_SEGMENTS: float(len(cycle.segments)),
        L.CYCLE_PERIOD: cycle.period,
        L.CYCLE_MUL: cycle.mul,
        L.CYCLE_DECAY: cycle.decay,
        L.CYCLE_LIMIT: cycle.limit,
        L.CYCLE_FORM: float(cycle.form),
    }


def _row_values(columns: dict[str, Any] | None, cycle: Cycle | None) -> tuple[list[Any], list[tuple[int, Any]]]:
    """A table row's NUM_COLUMNS values with 0.0 where a column holds per-config arrays, and those (index, array)."""
    row = list(_CYCLE_DEFAULT_ROW)
    per_config = []
    given = _cycle_columns(cycle).items() if cycle is not None else columns.items()
    for key, value in given:
        index = key if cycle is not None else _SEGMENT_COLUMN_INDEX[key]
        if type(value) is not float and segments.is_array(value):
            per_config.append((index, value))
            value = 0.0
        row[index] = value
    return row, per_config


def _pack_items(items: list[Any], n: int) -> SegmentTable:
    rows, top = _rows(items)
    num_rows = len(rows)
    cycle_code = _shape_code("cycle")
    values = [_row_values(columns, cycle) for _, columns, cycle in rows]
    one_config_of_scalars = n == 1 and not any(per_config for _, per_config in values)
    if one_config_of_scalars and all(isinstance(shape, str) and shape != "cycle" for shape, _, _ in rows):
        # one config without cycles (a trajectory, a scheduler): plain floats, then one array call
        previous = -math.inf
        for row, _ in values:
            row[L.START] = previous = max(float(row[L.START]), previous)
        cols = np.array([[row for row, _ in values]], dtype=np.float64)
        codes = np.array([[_shape_code(shape) for shape, _, _ in rows]])
        _drop_idle_floors(codes, cols, top)
        return _checked(SegmentTable(codes, cols, np.ones(1, dtype=np.int64) * num_rows, np.ones(1)), rows)
    codes = np.empty((n, num_rows), dtype=np.int64)
    for r, (shape, _, _) in enumerate(rows):
        codes[:, r] = cycle_code if isinstance(shape, str) and shape == "cycle" else _codes_of(shape, n)
    # the scalars in one broadcast, then the per-config arrays column by column
    cols = np.empty((n, num_rows, L.NUM_COLUMNS), dtype=np.float64)
    cols[:] = [row for row, _ in values]
    for r, (_, per_config) in enumerate(values):
        for index, value in per_config:
            cols[:, r, index] = value
    _order_starts(codes, cols, top)
    _drop_idle_floors(codes, cols, top)
    return _checked(SegmentTable(codes, cols, np.full(n, num_rows, dtype=np.int64), np.ones(n)), rows)


def _checked(table: SegmentTable, rows: list[Any]) -> SegmentTable:
    if np.isnan(table.cols.min(initial=0.0)):  # (min is NaN where any value is)
        r = int(np.argwhere(np.isnan(table.cols))[0, 1])
        raise ValueError(f"the schedule's parameters give an undefined (NaN) column in its segment {r} ({rows[r][0]})")
    return table


def _drop_idle_floors(codes: np.ndarray, cols: np.ndarray, top: list[int]) -> None:
    """LOW = -inf where a top-level segment's values never go below its LOW: a FRACTION_SHAPES shape with SCALE >= 0
    and OFFSET >= LOW (transformers' max(0.0, ...) around its cosines). The values are the same; the loops skip
    the max. (A cycle's segments keep theirs: the cycle scales them.)"""
    fraction_codes = _fraction_codes()
    first_codes = codes[0].tolist()
    one_shape = (codes == codes[0]).all(axis=0).tolist()  # per segment: every config has the same shape there
    for j in top:
        if one_shape[j] and first_codes[j] not in fraction_codes:
            continue
        c = cols[:, j]
        idle = (c[:, L.SCALE] >= 0.0) & (c[:, L.OFFSET] >= c[:, L.LOW])
        if not one_shape[j]:
            idle &= np.isin(codes[:, j], list(fraction_codes))
        np.copyto(c[:, L.LOW], -np.inf, where=idle)


@functools.cache
def _fraction_codes() -> frozenset[int]:
    from .kernels.shapes import FRACTION_SHAPES

    return frozenset(_shape_code(name) for name in FRACTION_SHAPES)


def _order_starts(codes: np.ndarray, cols: np.ndarray, top: list[int]) -> None:
    """Top-level starts made non-decreasing, and a limited cycle's successor started where its last cycle ends."""
    cycle_code = _shape_code("cycle")
    previous = None
    for position, r in enumerate(top):
        if previous is not None:
            np.maximum(cols[:, r, L.START], previous, out=cols[:, r, L.START])
        previous = cols[:, r, L.START]
        if codes[0, r] == cycle_code and position + 1 < len(top):
            from .kernels import cpu

            limits = cols[:, r, L.CYCLE_LIMIT]
            ends = np.full(cols.shape[0], np.inf)  # configs whose cycles never end keep their successor's start
            for i in np.flatnonzero(np.isfinite(limits)):
                cpu.first_steps_of_cycles(cols[i, r], limits[i : i + 1], ends[i : i + 1])
            following = top[position + 1]
            cols[:, following, L.START] = np.minimum(cols[:, following, L.START], ends)


def evaluate(schedule: Schedule, step: Any, n: int, reference_lr: Any) -> Any:
    """The schedule's value (a multiplier) at `step` (one step, or one per config), computed by the kernels."""
    from .kernels import cpu

    table = pack(schedule, 1.0, reference_lr=reference_lr)
    if table.num_configs not in (1, n):
        raise ValueError(f"a composed schedule has {table.num_configs} configs where {n} are swept")
    steps = np.broadcast_to(np.asarray(step, dtype=np.float64), (n,)).copy()
    codes = np.broadcast_to(table.codes, (n, table.codes.shape[1]))
    cols = np.broadcast_to(table.cols, (n, *table.cols.shape[1:]))
    out = np.empty(n)
    cpu.row_values_at(
        np.ascontiguousarray(codes), np.ascontiguousarray(cols), np.full(n, table.codes.shape[1]), steps, out
    )
    return float(out[0]) if n == 1 else out
