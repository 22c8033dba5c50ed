"""Hypothesis strategies: a random valid config of each schedule, as (name, base_lr, params)."""

from __future__ import annotations

from examples import SCHEDULE_NAMES
from hypothesis import strategies as st

warmup = st.integers(0, 300)
training = st.integers(0, 1500)
many_cycles = st.floats(0.0, 100.0, allow_nan=False)
base_lrs = st.sampled_from([1.0, 0.1, 3e-4, 2.5])
shapes = st.sampled_from(["linear", "cosine", "1-sqrt"])


@st.composite
def configs(draw, name: str | None = None):
    """A config of schedule `name` (any precomputable schedule when None) with transformers-valid values."""
    if name is None:
        name = draw(st.sampled_from(SCHEDULE_NAMES))
    base_lr = draw(base_lrs)
    params: dict = {}
    if name != "constant":
        params["num_warmup_steps"] = draw(warmup)
    if name in (
        "linear",
        "cosine",
        "cosine_with_restarts",
        "polynomial",
        "cosine_with_min_lr",
        "cosine_warmup_with_min_lr",
    ):
        params["num_training_steps"] = draw(training)
    if name in ("cosine", "cosine_with_min_lr", "cosine_warmup_with_min_lr"):
        params["num_cycles"] = draw(st.one_of(st.just(0.5), many_cycles))
    if name == "cosine_with_restarts":
        params["num_cycles"] = draw(st.one_of(st.integers(1, 100), many_cycles))
    if name == "polynomial":
        params["lr_end"] = base_lr * draw(st.floats(0.0, 0.99))
        params["power"] = draw(st.sampled_from([1.0, 2.0, 0.5, 3.7]))
    if name == "inverse_sqrt":
        params["timescale"] = draw(st.one_of(st.none(), st.integers(1, 5000)))
    if name in ("cosine_with_min_lr", "cosine_warmup_with_min_lr"):
        if draw(st.booleans()):
            params["min_lr"] = base_lr * draw(st.floats(0.0, 1.0))
        else:
            params["min_lr_rate"] = draw(st.floats(0.0, 1.0))
    if name == "cosine_warmup_with_min_lr" and draw(st.booleans()):
        params["warmup_lr_rate"] = draw(st.floats(0.0, 1.0))
    if name == "warmup_stable_decay":
        params["num_decay_steps"] = draw(st.integers(0, 800))
        if draw(st.booleans()):
            params["num_training_steps"] = draw(training)
        else:
            params["num_stable_steps"] = draw(st.integers(0, 800))
        params["warmup_type"] = draw(shapes)
        params["decay_type"] = draw(shapes)
        params["min_lr_ratio"] = draw(st.floats(0.0, 1.0))
        params["num_cycles"] = draw(st.one_of(st.just(0.5), many_cycles))
    return name, base_lr, params


def schedule_length(params: dict) -> int:
    """The steps a config spans (warmup, training or stable + decay), at least 1."""
    warm = params.get("num_warmup_steps", 0)
    length = max(warm, params.get("num_training_steps") or 0)
    length = max(length, warm + params.get("num_stable_steps", 0) + params.get("num_decay_steps", 0))
    return max(1, length)
