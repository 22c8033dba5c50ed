"""The segment table's layout: shape codes and column indices (plain Python: the Python layer packs with these).

A schedule is a sequence of segments on the step axis. Segment j of a config covers the steps from its
``START`` up to the next segment's ``START`` (the last one: forever). Its value at a step is its shape's formula
(``kernels/shapes.py``) of the step and the segment's columns, then ``max(value, LOW) * POST_SCALE + POST_OFFSET``
(what compositions such as a floor or a scale add). The learning rate is ``base_lr`` times that value.

A ``CYCLE`` segment has no value of its own: the ``CYCLE_SEGMENTS`` segments after it repeat, cycle after
cycle, from its ``START`` until the segment after them starts. Their ``START``, ``ORIGIN``, ``END`` and ``SPAN``
are relative to the start of cycle 0, whose length is ``CYCLE_PERIOD``; cycle i is ``CYCLE_MUL**i`` times as
long (all positions stretched by that much) and its values are scaled by ``CYCLE_DECAY**i`` (``CYCLE_FORM``
says how the cycle index is computed and what the decay scales).
"""

from __future__ import annotations

# -- columns (float64, one row of NUM_COLUMNS per segment) ------------------------------------------------------
START = 0  # first step of the segment (-inf for the first: negative steps belong to it)
ORIGIN = 1  # steps elapsed in the segment are (step - ORIGIN) + SHIFT
END = 2  # steps remaining are END - step
SPAN = 3  # progress = elapsed / SPAN
P0 = 4  # shape parameters (what each means: shapes.py)
P1 = 5
P2 = 6
SCALE = 7  # most shapes: value = fraction * SCALE + OFFSET
OFFSET = 8
LOW = 9  # the value is max(value, LOW)
CYCLE_SEGMENTS = 10  # CYCLE segments: how many of the following segments repeat
CYCLE_PERIOD = 11  # length of cycle 0
CYCLE_MUL = 12  # each cycle is this many times as long as the one before
CYCLE_DECAY = 13  # each cycle's values are scaled by this much more than the one before's
CYCLE_LIMIT = 14  # number of cycles (inf: forever); the segment after the cycled ones starts after the last
CYCLE_FORM = 15  # CYCLE_* constants below
POST_SCALE = 16  # the segment's value is then max(value, LOW) * POST_SCALE + POST_OFFSET
POST_OFFSET = 17
SHIFT = 18  # steps elapsed are (step - ORIGIN) + SHIFT: a reference's own order where it adds a second offset
NUM_COLUMNS = 19

COLUMN_NAMES = (
    "start",
    "origin",
    "end",
    "span",
    "p0",
    "p1",
    "p2",
    "scale",
    "offset",
    "low",
    "cycle_segments",
    "cycle_period",
    "cycle_mul",
    "cycle_decay",
    "cycle_limit",
    "cycle_form",
    "post_scale",
    "post_offset",
    "shift",
)

# -- cycle forms: how the index of the cycle holding a step is computed, and what the decay scales ----------------
CYCLE_INDEX_EXACT = 0  # cycle i starts at PERIOD * (MUL**i - 1) / (MUL - 1) (i * PERIOD when MUL == 1)
CYCLE_INDEX_TIMM = 1  # timm's floor(log(1 - t / PERIOD * (1 - MUL), MUL)), also at its rounding
CYCLE_DECAY_AMPLITUDE = 2  # added to the index form: the decay scales the distance from OFFSET (SCALE), not the peak
