"""The example configs the deterministic tests share, one table for every test file (the hypothesis strategies in
strategies.py draw many more).

- EXAMPLES: one config per transformers schedule, short enough to step side by side with transformers.
- EDGE_CASES: more configs per path the kernels specialise or cut rows at: many cycles, a stable phase and every
  warmup/decay shape of warmup_stable_decay, polynomial powers (1: its own loop; W == T: transformers divides by
  zero there), hard restarts' tails.
"""

from __future__ import annotations

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
