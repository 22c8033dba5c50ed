"""transformers' Trainer tests of lr schedulers and of resuming, with fastsched's get_scheduler in the Trainer.

Ported from huggingface/transformers (Apache-2.0):

- ``tests/trainer/test_trainer_optimizers.py``, ``TrainerLRTest`` (earlier in ``tests/trainer/test_trainer.py``):
  ``test_lr_scheduler_kwargs``, ``test_cosine_with_min_lr_scheduler``,
  ``test_cosine_with_min_lr_schedule_with_warmup_lr_rate``, ``test_reduce_lr_on_plateau``;
- ``tests/trainer/test_trainer_checkpointing.py``, ``TrainerResumeTrainingTest`` (earlier in ``test_trainer.py``):
  ``test_can_resume_training``, ``test_resume_training_with_gradient_accumulation``,
  ``test_resume_training_with_frozen_params``;
- their helpers, from ``tests/trainer/trainer_test_utils.py``: ``RegressionDataset``, ``RegressionModelConfig``,
  ``RegressionModel``, ``RegressionPreTrainedModel``, ``RegressionTrainingArguments``, ``get_regression_trainer``,
  ``TrainerIntegrationCommon.check_trainer_state_are_the_same``.

Adapted only where the port needs it: pytest functions and ``tmp_path`` for ``TestCasePlus`` and its temporary
directories; the Trainer's ``get_scheduler`` is fastsched's (patched into ``transformers.trainer``) and each test checks
that the Trainer's scheduler is fastsched's; what a test compares with (``test_lr_scheduler_kwargs``' ``sched2``) stays
transformers' own; the Trainer runs on the CPU and reports nowhere; ``test_can_resume_training``'s checks of a bogus or
missing checkpoint (which never reach a scheduler) are left out.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import torch
from torch import nn

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import transformers
import transformers.trainer
from transformers import PreTrainedConfig, PreTrainedModel, Trainer, TrainingArguments

import fastsched


@pytest.fixture(autouse=True)
def fastsched_in_the_trainer(monkeypatch):
    monkeypatch.setattr(transformers.trainer, "get_scheduler", fastsched.get_scheduler)


# -- trainer_test_utils.py ------------------------------------------------------------------------------------------


class RegressionDataset:
    def __init__(self, a=2, b=3, length=64, seed=42, label_names=None):
        np.random.seed(seed)
        self.label_names = ["labels"] if label_names is None else label_names
        self.length = length
        self.x = np.random.normal(size=(length,)).astype(np.float32)
        self.ys = [a * self.x + b + np.random.normal(scale=0.1, size=(length,)) for _ in self.label_names]
        self.ys = [y.astype(np.float32) for y in self.ys]

    def __len__(self):
        return self.length

    def __getitem__(self, i):
        result = {name: y[i] for name, y in zip(self.label_names, self.ys, strict=True)}
        result["input_x"] = self.x[i]
        return result


@dataclasses.dataclass
class RegressionTrainingArguments(TrainingArguments):
    a: float = 0.0
    b: float = 0.0


class RegressionModelConfig(PreTrainedConfig):
    def __init__(self, a=0, b=0, double_output=False, random_torch=True, **kwargs):
        super().__init__(**kwargs)
        self.a = a
        self.b = b
        self.double_output = double_output
        self.random_torch = random_torch
        self.hidden_size = 1


class RegressionModel(nn.Module):
    def __init__(self, a=0, b=0, double_output=False):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a).float())
        self.b = nn.Parameter(torch.tensor(b).float())
        self.double_output = double_output
        self.config = None

    def forward(self, input_x, labels=None, **kwargs):
        y = input_x * self.a + self.b
        if labels is None:
            return (y, y) if self.double_output else (y,)
        loss = nn.functional.mse_loss(y, labels)
        return (loss, y, y) if self.double_output else (loss, y)


class RegressionPreTrainedModel(PreTrainedModel):
    config_class = RegressionModelConfig
    base_model_prefix = "regression"

    def __init__(self, config):
        super().__init__(config)
        self.a = nn.Parameter(torch.as_tensor(config.a).float())
        self.b = nn.Parameter(torch.as_tensor(config.b).float())
        self.double_output = config.double_output
        self.post_init()

    def forward(self, input_x, labels=None, **kwargs):
        y = input_x * self.a + self.b
        if labels is None:
            return (y, y) if self.double_output else (y,)
        loss = nn.functional.mse_loss(y, labels)
        return (loss, y, y) if self.double_output else (loss, y)


def get_regression_trainer(
    a=0, b=0, double_output=False, train_len=64, eval_len=64, pretrained=True, output_dir=None, **kwargs
):
    label_names = kwargs.get("label_names")
    train_dataset = RegressionDataset(length=train_len, label_names=label_names)
    eval_dataset = RegressionDataset(length=eval_len, label_names=label_names)
    if pretrained:
        model = RegressionPreTrainedModel(RegressionModelConfig(a=a, b=b, double_output=double_output))
    else:
        model = RegressionModel(a=a, b=b, double_output=double_output)
    assert output_dir is not None, "output_dir should be specified for testing"
    args = RegressionTrainingArguments(str(output_dir), a=a, b=b, use_cpu=True, report_to=[], **kwargs)
    trainer = Trainer(model, args, train_dataset=train_dataset, eval_dataset=eval_dataset)
    # TODO: loss function defined in RegressionModel doesn't accept num_item_per_batch, to fix later
    trainer.model_accepts_loss_kwargs = False
    return trainer


def remove_nan_logs(log):
    for key in list(log.keys()):
        if log[key] != log[key]:  # Check if the value is NaN
            del log[key]


def check_trainer_state_are_the_same(trainer_state, trainer_state1):
    # We'll pop things so operate on copies.
    state = trainer_state.copy()
    state1 = trainer_state1.copy()
    # Log history main contain different logs for the time metrics (after resuming a training).
    log_history = state.pop("log_history", None)
    log_history1 = state1.pop("log_history", None)
    assert state == state1
    skip_log_keys = ["train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss"]
    for log, log1 in zip(log_history, log_history1, strict=True):
        for key in skip_log_keys:
            _ = log.pop(key, None)
            _ = log1.pop(key, None)
        remove_nan_logs(log)
        remove_nan_logs(log1)
        assert log == log1


def assert_fastsched_scheduler(trainer):
    assert isinstance(trainer.lr_scheduler, fastsched.TableScheduler), type(trainer.lr_scheduler)


# -- TrainerLRTest ----------------------------------------------------------------------------------------------------


def test_lr_scheduler_kwargs(tmp_path):
    from transformers import get_polynomial_decay_schedule_with_warmup

    # test scheduler kwargs passed via TrainingArguments
    train_dataset = RegressionDataset()
    model = RegressionModel()
    num_steps, num_warmup_steps = 10, 2
    extra_kwargs = {"power": 5.0, "lr_end": 1e-5}  # Non-default arguments
    args = TrainingArguments(
        tmp_path,
        lr_scheduler_type="polynomial",
        lr_scheduler_kwargs=extra_kwargs,
        learning_rate=0.2,
        warmup_steps=num_warmup_steps,
        use_cpu=True,
        report_to=[],
    )
    trainer = Trainer(model, args, train_dataset=train_dataset)
    trainer.create_optimizer_and_scheduler(num_training_steps=num_steps)

    # Checking that the scheduler was created
    assert trainer.lr_scheduler is not None
    assert_fastsched_scheduler(trainer)

    # Checking that the correct args were passed
    sched1 = trainer.lr_scheduler
    sched2 = get_polynomial_decay_schedule_with_warmup(
        trainer.optimizer, num_warmup_steps=num_warmup_steps, num_training_steps=num_steps, **extra_kwargs
    )
    assert sched1.lr_lambdas[0].args == sched2.lr_lambdas[0].args
    assert sched1.lr_lambdas[0].keywords == sched2.lr_lambdas[0].keywords


def test_cosine_with_min_lr_scheduler(tmp_path):
    train_dataset = RegressionDataset()
    model = RegressionModel()
    num_steps, num_warmup_steps = 10, 2
    extra_kwargs = {"min_lr": 1e-5}  # Non-default arguments
    args = TrainingArguments(
        tmp_path,
        lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs=extra_kwargs,
        learning_rate=0.2,
        warmup_steps=num_warmup_steps,
        use_cpu=True,
        report_to=[],
    )
    trainer = Trainer(model, args, train_dataset=train_dataset)
    trainer.create_optimizer_and_scheduler(num_training_steps=num_steps)

    # Checking that the scheduler was created
    assert trainer.lr_scheduler is not None
    assert_fastsched_scheduler(trainer)

    # Check the last learning rate
    for _ in range(num_steps):
        trainer.lr_scheduler.step()
    assert trainer.lr_scheduler.get_last_lr()[0] == 1e-5


def test_cosine_with_min_lr_schedule_with_warmup_lr_rate(tmp_path):
    train_dataset = RegressionDataset()
    model = RegressionModel()
    num_steps, num_warmup_steps = 10, 2
    extra_kwargs = {"min_lr": 1e-5}  # Non-default arguments
    args = TrainingArguments(
        tmp_path,
        lr_scheduler_type="cosine_warmup_with_min_lr",
        lr_scheduler_kwargs=extra_kwargs,
        learning_rate=0.2,
        warmup_steps=num_warmup_steps,
        use_cpu=True,
        report_to=[],
    )
    trainer = Trainer(model, args, train_dataset=train_dataset)
    trainer.create_optimizer_and_scheduler(num_training_steps=num_steps)

    # Checking that the scheduler was created
    assert trainer.lr_scheduler is not None
    assert_fastsched_scheduler(trainer)

    # Check the last learning rate
    step_lrs = []
    for _ in range(num_steps):
        step_lrs.append(trainer.optimizer.param_groups[0]["lr"])
        trainer.lr_scheduler.step()
    assert step_lrs[0] == 0.1
    assert step_lrs[1] == 0.2
    assert step_lrs[-1] == 1e-05


def test_reduce_lr_on_plateau(tmp_path):
    # test the ReduceLROnPlateau scheduler

    class TrainerWithLRLogs(Trainer):
        def log(self, logs, *args, **kwargs):
            # the LR is computed after metrics and does not exist for the first epoch
            if hasattr(self.lr_scheduler, "_last_lr"):
                logs["learning_rate"] = self.lr_scheduler._last_lr[0]
            super().log(logs, *args, **kwargs)

    train_dataset = RegressionDataset(length=64)
    eval_dataset = RegressionDataset(length=64)

    args = TrainingArguments(
        tmp_path,
        lr_scheduler_type="reduce_lr_on_plateau",
        eval_strategy="epoch",
        metric_for_best_model="eval_loss",
        num_train_epochs=10,
        learning_rate=0.2,
        use_cpu=True,
        report_to=[],
    )
    model = RegressionModel()
    trainer = TrainerWithLRLogs(model, args, train_dataset=train_dataset, eval_dataset=eval_dataset)
    trainer.train()

    assert isinstance(trainer.lr_scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    patience = trainer.lr_scheduler.patience

    logs = trainer.state.log_history[1:]
    best_loss = logs[0]["eval_loss"]
    bad_epochs = 0
    for i, log in enumerate(logs[:-1]):  # Compare learning rate to next epoch's
        loss = log["eval_loss"]
        just_decreased = False
        if loss > best_loss:
            bad_epochs += 1
            if bad_epochs > patience:
                assert logs[i + 1]["learning_rate"] < log["learning_rate"]
                just_decreased = True
                bad_epochs = 0
        else:
            best_loss = loss
            bad_epochs = 0
        if not just_decreased:
            assert logs[i + 1]["learning_rate"] == log["learning_rate"]


# -- TrainerResumeTrainingTest --------------------------------------------------------------------------------------


def test_can_resume_training(tmp_path):
    # This test will fail for more than 2 GPUs since the batch size will get bigger and with the number of
    # save_steps, the checkpoint will resume training at epoch 2 or more (so the data seen by the model
    # won't be the same since the training dataloader is shuffled).

    tmp_dir = tmp_path / "pretrained"
    kwargs = {
        "output_dir": tmp_dir,
        "train_len": 128,
        "save_steps": 5,
        "learning_rate": 0.1,
        "logging_steps": 5,
    }
    trainer = get_regression_trainer(**kwargs)
    trainer.train()
    assert_fastsched_scheduler(trainer)
    (a, b) = trainer.model.a.item(), trainer.model.b.item()
    state = dataclasses.asdict(trainer.state)

    checkpoint = os.path.join(tmp_dir, "checkpoint-5")

    # Reinitialize trainer
    trainer = get_regression_trainer(**kwargs)

    trainer.train(resume_from_checkpoint=checkpoint)
    (a1, b1) = trainer.model.a.item(), trainer.model.b.item()
    state1 = dataclasses.asdict(trainer.state)
    assert a == a1
    assert b == b1
    check_trainer_state_are_the_same(state, state1)

    # Now check with a later checkpoint that it also works when we span over one epoch
    checkpoint = os.path.join(tmp_dir, "checkpoint-15")

    # Reinitialize trainer and load model
    trainer = get_regression_trainer(**kwargs)

    trainer.train(resume_from_checkpoint=checkpoint)
    (a1, b1) = trainer.model.a.item(), trainer.model.b.item()
    state1 = dataclasses.asdict(trainer.state)
    assert a == a1
    assert b == b1
    check_trainer_state_are_the_same(state, state1)

    # With a regular model that is not a PreTrainedModel
    tmp_dir = tmp_path / "regular"
    kwargs = {
        "output_dir": tmp_dir,
        "train_len": 128,
        "save_steps": 5,
        "learning_rate": 0.1,
        "pretrained": False,
    }

    trainer = get_regression_trainer(**kwargs)
    trainer.train()
    (a, b) = trainer.model.a.item(), trainer.model.b.item()
    state = dataclasses.asdict(trainer.state)

    checkpoint = os.path.join(tmp_dir, "checkpoint-5")

    # Reinitialize trainer and load model
    trainer = get_regression_trainer(**kwargs)

    trainer.train(resume_from_checkpoint=checkpoint)
    (a1, b1) = trainer.model.a.item(), trainer.model.b.item()
    state1 = dataclasses.asdict(trainer.state)
    assert a == a1
    assert b == b1
    check_trainer_state_are_the_same(state, state1)

    # Now check with a later checkpoint that it also works when we span over one epoch
    checkpoint = os.path.join(tmp_dir, "checkpoint-15")

    # Reinitialize trainer and load model
    trainer = get_regression_trainer(**kwargs)

    trainer.train(resume_from_checkpoint=checkpoint)
    (a1, b1) = trainer.model.a.item(), trainer.model.b.item()
    state1 = dataclasses.asdict(trainer.state)
    assert a == a1
    assert b == b1
    check_trainer_state_are_the_same(state, state1)


def test_resume_training_with_gradient_accumulation(tmp_path):
    kwargs = {
        "output_dir": tmp_path,
        "train_len": 128,
        "gradient_accumulation_steps": 2,
        "per_device_train_batch_size": 4,
        "save_steps": 5,
        "learning_rate": 0.1,
    }
    trainer = get_regression_trainer(**kwargs)
    trainer.train()
    assert_fastsched_scheduler(trainer)
    (a, b) = trainer.model.a.item(), trainer.model.b.item()
    state = dataclasses.asdict(trainer.state)

    checkpoint = os.path.join(tmp_path, "checkpoint-5")

    # Reinitialize trainer
    trainer = get_regression_trainer(**kwargs)

    trainer.train(resume_from_checkpoint=checkpoint)
    (a1, b1) = trainer.model.a.item(), trainer.model.b.item()
    state1 = dataclasses.asdict(trainer.state)
    assert a == a1
    assert b == b1
    check_trainer_state_are_the_same(state, state1)


def test_resume_training_with_frozen_params(tmp_path):
    kwargs = {
        "output_dir": tmp_path,
        "train_len": 128,
        "per_device_train_batch_size": 4,
        "save_steps": 5,
        "learning_rate": 0.1,
    }
    trainer = get_regression_trainer(**kwargs)
    trainer.model.a.requires_grad_(False)
    trainer.train()
    assert_fastsched_scheduler(trainer)
    (a, b) = trainer.model.a.item(), trainer.model.b.item()
    state = dataclasses.asdict(trainer.state)

    checkpoint = os.path.join(tmp_path, "checkpoint-5")

    # Reinitialize trainer
    trainer = get_regression_trainer(**kwargs)
    trainer.model.a.requires_grad_(False)

    trainer.train(resume_from_checkpoint=checkpoint)

    assert not trainer.model.a.requires_grad
    (a1, b1) = trainer.model.a.item(), trainer.model.b.item()
    state1 = dataclasses.asdict(trainer.state)
    assert a == a1
    assert b == b1
    check_trainer_state_are_the_same(state, state1)
