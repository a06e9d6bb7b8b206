"""TrainConfig: every hyperparameter of `zoo.train`, validated before any work starts (a bad value is
a ConfigError naming it and listing the valid fields), stored in checkpoints and metrics.json."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from ..config import Config, Field

__all__ = ["TrainConfig", "RESUME_MAY_CHANGE", "BUILTIN_OPTIMIZERS"]

BUILTIN_OPTIMIZERS = ("adamw", "adam", "sgd", "lbfgs")

# fields a resumed run may change without breaking exact continuation
RESUME_MAY_CHANGE = frozenset({"epochs", "max_steps", "progress", "num_workers", "checkpoint_every",
                               "keep_checkpoints", "patience", "log_with", "log_every"})


class TrainConfig(Config):
    epochs: int = Field(10, ge=1, description="passes over the training split")
    max_steps: int | None = Field(None, ge=1, description="stop after this many optimizer steps (None: no limit)")
    batch_size: int = Field(64, ge=1, description="samples per optimizer step and micro-batch, summed over all processes")
    lr: float = Field(1e-3, gt=0, description="learning rate (peak rate when a schedule is used)")
    optimizer: str = Field("adamw", min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$",
                           description="adamw, adam, sgd, lbfgs, or a training method that provides an optimizer "
                                       "(zoo list --methods); for models without configure_optimizers")
    weight_decay: float = Field(0.0, ge=0, description="decoupled weight decay (adamw) or L2 penalty (adam, sgd)")
    momentum: float = Field(0.9, ge=0, lt=1, description="momentum of sgd")
    schedule: Literal["constant", "cosine", "linear"] = Field(
        "constant", description="learning-rate schedule over all optimizer steps, after warmup")
    warmup_steps: int = Field(0, ge=0, description="optimizer steps of linear warmup from 0 to lr")
    grad_accumulation: int = Field(1, ge=1, description="micro-batches whose gradients are summed per optimizer step")
    clip_grad_norm: float | None = Field(None, gt=0, description="clip the global gradient norm to this value")
    device: str = Field("auto", description="auto (cuda, mps, xpu, ... else cpu), cpu, cuda, mps, xpu")
    precision: Literal["fp32", "bf16", "fp16", "auto"] = Field(
        "fp32", description="mixed precision; auto = bf16/fp16 where the device supports it, else fp32")
    compile: bool | str = Field(False, description="torch.compile the model: True (inductor) or a backend name")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="seeds python, numpy and torch, and the data order")
    shuffle: bool = Field(True, description="reshuffle the training split every epoch")
    drop_last: bool = Field(False, description="drop the last incomplete training batch")
    num_workers: int = Field(0, ge=0, le=256, description="DataLoader worker processes")
    eval_splits: list[str] | None = Field(
        None, description="splits evaluated after each epoch (default: val if the task has one, else test)")
    eval_every: int = Field(1, ge=1, description="evaluate every this many epochs")
    final_splits: list[str] | None = Field(
        None, description="splits evaluated once after training for `final` and metrics.json "
                          "(default: every split the task has; [] skips the final evaluation)")
    patience: int | None = Field(None, ge=1, description="early stopping: epochs without improvement of `monitor`")
    monitor: str | None = Field(None, description="history key for early stopping (default: <first eval split>_loss)")
    mode: Literal["min", "max"] | None = Field(None, description="whether monitor improves down or up (default: by name)")
    restore_best: bool = Field(True, description="with patience set, end with the best epoch's weights (also when all epochs ran)")
    checkpoint_every: int | None = Field(None, ge=1, description="also checkpoint every this many optimizer steps")
    keep_checkpoints: int = Field(1, ge=1, description="checkpoints kept in <out_dir>/checkpoints")
    progress: bool | None = Field(None, description="progress bars (default: when stderr is a terminal)")
    log_with: list[str] = Field([], description="experiment trackers that also receive the metrics: tensorboard, "
                                                "mlflow (a name, comma-separated names or a list; needs out_dir)")
    log_every: int = Field(50, ge=1, description="send the mean training loss to the trackers every this many "
                                                 "optimizer steps")

    @field_validator("log_with", mode="before")
    @classmethod
    def _tracker_list(cls, value):
        from .trackers import tracker_names

        return tracker_names(value)

    @model_validator(mode="after")
    def _consistent(self) -> "TrainConfig":
        if self.optimizer == "lbfgs" and self.grad_accumulation > 1:
            raise ValueError("lbfgs re-evaluates the loss inside its step; it cannot accumulate gradients "
                             f"(grad_accumulation={self.grad_accumulation})")
        if self.optimizer == "lbfgs" and self.precision in ("fp16",):
            raise ValueError("lbfgs does not work with fp16 loss scaling; use precision='fp32' or 'bf16'")
        for name in ("eval_splits", "final_splits"):
            unknown = set(getattr(self, name) or ()) - {"train", "val", "test"}
            if unknown:
                raise ValueError(f"{name} must name train, val or test, got {sorted(unknown)}")
        return self
