"""The example configs the deterministic tests share, one table for every test file (the hypothesis strategies in
strategies.py draw many more).

- EXAMPLES: one config per transformers schedule, short enough to step side by side with transformers.
- EDGE_CASES: more configs per path the kernels specialise or cut rows at: many cycles, a stable phase and every
  warmup/decay shape of warmup_stable_decay, polynomial powers (1: its own loop; W == T: transformers divides by
  zero there), hard restarts' tails.
"""

from __future__ import annotations

from typing import Any

EXAMPLES: dict[str, dict] = {
    "constant": {},
    "constant_with_warmup": {"num_warmup_steps": 7},
    "linear": {"num_warmup_steps": 7, "num_training_steps": 40},
    "cosine": {"num_warmup_steps": 7, "num_training_steps": 40, "num_cycles": 1.3},
    "cosine_with_restarts": {"num_warmup_steps": 7, "num_training_steps": 40, "num_cycles": 3},
    "polynomial": {"num_warmup_steps": 7, "num_training_steps": 40, "lr_end": 1e-4, "power": 2.0},
    "inverse_sqrt": {"num_warmup_steps": 7, "timescale": 11},
    "cosine_with_min_lr": {"num_warmup_steps": 7, "num_training_steps": 40, "min_lr": 1e-4},
    "cosine_warmup_with_min_lr": {
        "num_warmup_steps": 7,
        "num_training_steps": 40,
        "min_lr_rate": 0.1,
        "warmup_lr_rate": 0.05,
    },
    "warmup_stable_decay": {
        "num_warmup_steps": 7,
        "num_decay_steps": 20,
        "num_stable_steps": 13,
        "decay_type": "linear",
    },
}

EDGE_CASES: list[tuple[str, dict]] = [
    ("constant_with_warmup", {"num_warmup_steps": 37}),
    ("linear", {"num_warmup_steps": 37, "num_training_steps": 500}),
    ("cosine", {"num_warmup_steps": 37, "num_training_steps": 500}),
    ("cosine", {"num_warmup_steps": 0, "num_training_steps": 333, "num_cycles": 100}),
    ("cosine_with_restarts", {"num_warmup_steps": 20, "num_training_steps": 700, "num_cycles": 7}),
    ("cosine_with_restarts", {"num_warmup_steps": 0, "num_training_steps": 1000, "num_cycles": 100}),
    ("polynomial", {"num_warmup_steps": 50, "num_training_steps": 400, "lr_end": 1e-4, "power": 1.0}),
    ("polynomial", {"num_warmup_steps": 50, "num_training_steps": 400, "lr_end": 0.0, "power": 0.5}),
    ("polynomial", {"num_warmup_steps": 0, "num_training_steps": 3, "lr_end": 0.0, "power": 0.1}),
    ("polynomial", {"num_warmup_steps": 20, "num_training_steps": 20, "lr_end": 1e-4, "power": 2.0}),
    ("inverse_sqrt", {"num_warmup_steps": 40}),
    ("cosine_with_min_lr", {"num_warmup_steps": 37, "num_training_steps": 500, "num_cycles": 3, "min_lr_rate": 0.1}),
    ("cosine_warmup_with_min_lr", {"num_warmup_steps": 37, "num_training_steps": 500, "min_lr_rate": 0.05}),
    *[
        (
            "warmup_stable_decay",
            {
                "num_warmup_steps": 60,
                "num_stable_steps": 100,
                "num_decay_steps": 240,
                "warmup_type": warmup,
                "decay_type": decay,
                "min_lr_ratio": 0.01,
                "num_cycles": cycles,
            },
        )
        for warmup in ("linear", "cosine", "1-sqrt")
        for decay, cycles in (("linear", 0.5), ("cosine", 0.5), ("cosine", 100.0), ("1-sqrt", 0.5))
    ],
]

SCHEDULE_NAMES = list(EXAMPLES)


# Megatron-core's lr decay styles checked by hand: (lr_decay_style, other parameters, {step: lr}) on top of
# MEGATRON_BASE (lr_warmup_steps 2, lr_decay_steps 10, min_lr 0.1): the harness and the preset both answer to it.
MEGATRON_BASE = {"init_lr": 0.0, "max_lr": 1.0, "min_lr": 0.1, "lr_warmup_steps": 2, "lr_decay_steps": 10}
MEGATRON_HAND_CHECKED = [
    ("linear", {}, {6: 0.55, 10: 0.1, 11: 0.1}),
    ("cosine", {}, {6: 0.55, 10: 0.1, 11: 0.1}),
    ("constant", {}, {6: 1.0, 11: 1.0}),
    (
        "WSD",
        {"wsd_decay_steps": 4, "lr_wsd_decay_style": "exponential"},
        {6: 1.0, 8: 0.1 + 0.9 * (2 * 0.5**0.5 - 1), 10: 0.1},
    ),
    ("WSD", {"wsd_decay_steps": 4, "lr_wsd_decay_style": "minus_sqrt"}, {7: 0.1 + 0.9 * 0.5, 10: 0.1}),
    ("WSD", {"wsd_decay_steps": 0}, {10: 1.0, 11: 0.1}),  # never anneals: max_lr to lr_decay_steps, then min_lr
]


def stacked(*parts: Any) -> Any:
    """Segment tables of different schedules as one (a mixed sweep): rows padded to the longest with segments that
    never start."""
    import numpy as np
    from fastsched.kernels import layout

    from fastsched import table as tables

    width = max(p.codes.shape[1] for p in parts)
    codes, cols = [], []
    for p in parts:
        pad = width - p.codes.shape[1]
        codes.append(np.pad(p.codes, ((0, 0), (0, pad)), constant_values=p.codes[0, -1]))
        padded = np.pad(p.cols, ((0, 0), (0, pad), (0, 0)))
        padded[:, p.codes.shape[1] :, layout.START] = np.inf
        cols.append(padded)
    return tables.SegmentTable(
        np.concatenate(codes),
        np.concatenate(cols),
        np.concatenate([p.counts for p in parts]),
        np.concatenate([p.base_lrs for p in parts]),
    )
