"""fastsched's schedulers inside real clients: transformers' Trainer (with resume), torch.compile, Accelerate.

Everything is built locally from configs (no downloads) and kept tiny: the whole module runs in ~15 s on 2 cores.
"""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import transformers

import fastsched

# transformers' model code touches torch.jit.script_method, deprecated in torch 2.13: their noise, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")

NUM_STEPS = 12
WARMUP_STEPS = 3
LEARNING_RATE = 1e-3


class RandomTokens(torch.utils.data.Dataset):
    """Random token ids as inputs and labels (a causal LM's loss needs nothing else)."""

    def __init__(self, num_samples: int = 64, length: int = 8, vocab_size: int = 32):
        generator = torch.Generator().manual_seed(0)
        self.tokens = torch.randint(0, vocab_size, (num_samples, length), generator=generator)

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, index: int) -> dict:
        return {"input_ids": self.tokens[index], "labels": self.tokens[index]}


def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=32, n_positions=16, n_embd=8, n_layer=1, n_head=1)
    return transformers.GPT2LMHeadModel(config)


def two_group_adamw(model: torch.nn.Module) -> torch.optim.Optimizer:
    """Trainer's usual split: weight decay on matrices, none on biases and norms (two lrs, to tell them apart)."""
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0, "lr": 5e-4}]
    return torch.optim.AdamW(groups, lr=LEARNING_RATE)


def train(output_dir, make_scheduler, resume_from_checkpoint=None) -> list[float]:
    """Train NUM_STEPS steps (checkpoint every 6) and return the learning rates the Trainer logged."""
    model = tiny_model()
    optimizer = two_group_adamw(model)
    args = transformers.TrainingArguments(
        output_dir=str(output_dir),
        max_steps=NUM_STEPS,
        per_device_train_batch_size=4,
        logging_steps=1,
        save_steps=6,
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=0,
    )
    trainer = transformers.Trainer(
        model=model,
        args=args,
        train_dataset=RandomTokens(),
        optimizers=(optimizer, make_scheduler(optimizer)),
    )
    trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    return [entry["learning_rate"] for entry in trainer.state.log_history if "learning_rate" in entry]


def cosine(module):
    return lambda optimizer: module.get_cosine_schedule_with_warmup(optimizer, WARMUP_STEPS, NUM_STEPS, num_cycles=0.7)


@pytest.mark.slow
def test_trainer_logs_transformers_learning_rates_also_after_resume(tmp_path):
    expected = train(tmp_path / "transformers", cosine(transformers))
    assert len(expected) == NUM_STEPS

    assert train(tmp_path / "fastsched", cosine(fastsched)) == expected

    # Resume from fastsched's own checkpoint, and from one saved with transformers' LambdaLR.
    for source in ("fastsched", "transformers"):
        checkpoint = tmp_path / source / "checkpoint-6"
        resumed = train(tmp_path / f"resumed-{source}", cosine(fastsched), resume_from_checkpoint=str(checkpoint))
        # log_history restarts from the checkpoint's: steps 1-6 come from the file, 7-12 from the resumed run
        assert len(resumed) == NUM_STEPS
        assert resumed[6:] == expected[6:], source


def test_compiled_optimizer_step_with_tensor_lr_does_not_recompile():
    """torch's recipe "compiled optimizer with an LR scheduler": the lr is a tensor, updated in place."""
    import torch._dynamo

    def compiled_steps(lr) -> torch.Tensor | float:
        torch._dynamo.reset()
        model = torch.nn.Linear(4, 4)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        scheduler = fastsched.get_cosine_schedule_with_warmup(optimizer, 2, 10)

        # The "eager" backend: recompilation is decided by Dynamo's guards, not by the backend (and no C++ build).
        @torch.compile(fullgraph=False, backend="eager")
        def optimizer_step():
            optimizer.step()

        inputs = torch.randn(2, 4)
        with torch._dynamo.config.patch(error_on_recompile=True):
            for _ in range(6):
                model(inputs).sum().backward()
                optimizer_step()
                scheduler.step()
        return optimizer.param_groups[0]["lr"]

    lr_tensor = torch.tensor(0.01)
    assert compiled_steps(lr_tensor) is lr_tensor  # updated in place, never replaced
    # The control: a float lr is baked into the graph, so the changing lr does recompile.
    with pytest.raises(torch._dynamo.exc.RecompileError):
        compiled_steps(0.01)


def test_accelerate_prepare_wraps_the_scheduler_without_changing_its_values():
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState

    def lrs_over_training(module, prepare: bool) -> list[list[float]]:
        model = torch.nn.Linear(4, 2)
        optimizer = torch.optim.AdamW([{"params": [model.weight]}, {"params": [model.bias], "lr": 5e-4}], lr=1e-3)
        scheduler = module.get_linear_schedule_with_warmup(optimizer, 3, 10)
        accelerator = Accelerator(cpu=True) if prepare else None
        if accelerator is not None:
            model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
            assert type(scheduler).__name__ == "AcceleratedScheduler"
        lrs = []
        for _ in range(15):
            loss = model(torch.ones(3, 4)).sum()
            accelerator.backward(loss) if accelerator is not None else loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            lrs.append(scheduler.get_last_lr())
        return lrs

    try:
        assert lrs_over_training(fastsched, prepare=True) == lrs_over_training(transformers, prepare=False)
    finally:
        AcceleratorState._reset_state(True)
        GradientState._reset_state()
