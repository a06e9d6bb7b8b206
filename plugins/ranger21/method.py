"""Ranger21 (Wright & Demeure, arXiv:2106.13731) as a zoo.Method that provides the run's optimizer:
pytorch_optimizer.Ranger21 (AdamW core with adaptive gradient clipping, gradient centralisation,
positive-negative momentum, norm loss, stable weight decay, linear warm-up, explore-exploit
warm-down and lookahead), given the run's total number of optimizer steps, which its schedule needs.

Functional core (usable without zoo.train):

    steps = total_steps(n_train, batch_size=64, epochs=30)        # optimizer steps of a run
    optimizer = build_ranger21(model.parameters(), steps, lr=1e-3, **options)

The Method finds the run's step count at `setup` (from the task's training split and the run's
batch size, accumulation, epochs and max_steps) and builds the optimizer in `build_optimizer`.
"""

from __future__ import annotations

import math

import torch
from pytorch_optimizer import Ranger21

from zoo.config import Field
from zoo.errors import ConfigError
from zoo.training.method import Method, MethodConfig

__all__ = ["Ranger21Config", "Ranger21Method", "CheckpointableRanger21", "build_ranger21", "total_steps", "warm_up_steps", "warm_down_start"]


# --- functional core --------------------------------------------------------------------------------


def total_steps(train_size: int, *, batch_size: int, epochs: int, grad_accumulation: int = 1,
                drop_last: bool = False, max_steps: int | None = None) -> int:
    """Optimizer steps of a zoo.train run over `train_size` samples (as the loop counts them)."""
    batches = train_size // batch_size if drop_last else math.ceil(train_size / batch_size)
    steps = epochs * math.ceil(batches / grad_accumulation)
    return min(steps, max_steps) if max_steps is not None else steps


def warm_up_steps(steps: int, beta2: float) -> int:
    """The linear warm-up length of Ranger21: ceil(2 / (1 - beta2)) steps (Ma & Yarats' untuned
    rule), or 22% of the run when that would exceed 45% of it."""
    untuned = math.ceil(2.0 / (1.0 - beta2))
    return int(0.22 * steps) if untuned / steps > 0.45 else untuned


def warm_down_start(steps: int) -> int:
    """The step where the explore-exploit schedule starts its linear warm-down: 72% of the run."""
    return int(0.72 * steps)


class CheckpointableRanger21(Ranger21):
    """pytorch_optimizer.Ranger21 whose state_dict has torch's plain layout ({"state", "param_groups"}
    with static hyperparameters only), which zoo checkpoints require: its position in the schedule
    (each group's step, the lookahead counter, the current lr) is read and restored separately with
    `schedule_state` / `load_schedule_state` (the Method keeps it in its own checkpointed state)."""

    def state_dict(self) -> dict:
        state = torch.optim.Optimizer.state_dict(self)  # without the library's extra top-level keys
        for group in state["param_groups"]:
            group.pop("step", None)
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        # the plain layout carries no schedule position: keep the current one (Accelerate round-trips
        # the state through state_dict / load_state_dict when it wraps the optimizer)
        kept = self.schedule_state()
        torch.optim.Optimizer.load_state_dict(self, state_dict)
        self.load_schedule_state(kept)

    def schedule_state(self) -> dict:
        return {"group_steps": [int(g.get("step", 0)) for g in self.param_groups],
                "lookahead_step": int(self.lookahead_step), "current_lr": float(self.current_lr),
                "starting_lr": float(self.starting_lr)}

    def load_schedule_state(self, state: dict) -> None:
        for group, step in zip(self.param_groups, state["group_steps"]):
            if step:
                group["step"] = int(step)
        self.lookahead_step = int(state["lookahead_step"])
        self.current_lr, self.starting_lr = float(state["current_lr"]), float(state["starting_lr"])


def build_ranger21(params, steps: int, *, lr: float = 1e-3, **options) -> CheckpointableRanger21:
    """pytorch_optimizer.Ranger21 over `params` for a run of `steps` optimizer steps."""
    return CheckpointableRanger21(params, num_iterations=steps, lr=lr, **options)


# --- the method in zoo.train ------------------------------------------------------------------------


class Ranger21Config(MethodConfig):
    """Options of Ranger21 (defaults: the paper's and pytorch_optimizer's)."""

    beta1: float = Field(0.9, ge=0, lt=1, description="decay of the AdamW first moments")
    beta2: float = Field(0.999, ge=0, lt=1, description="decay of the AdamW second moment")
    beta0: float = Field(0.9, ge=0, lt=1, description="positive-negative momentum: weight of the noise term (amplitude "
                                                      "of the difference of the two alternating moments)")
    weight_decay: float = Field(1e-4, ge=0, description="stable weight decay (scaled by 1 / sqrt(mean second moment)); "
                                                        "zoo.train's weight_decay replaces it when non-zero")
    norm_loss_factor: float = Field(1e-4, ge=0, description="norm loss: pulls each unit's weight vector to norm 1")
    agc_clipping_value: float = Field(1e-2, ge=0, description="adaptive gradient clipping: max ratio of a unit's "
                                                              "gradient norm to its weight norm")
    agc_eps: float = Field(1e-3, ge=0, description="adaptive gradient clipping: floor of the weight norm")
    centralize_gradients: bool = Field(True, description="gradient centralisation (subtract each output unit's mean "
                                                         "gradient; layers with 2+ dims)")
    normalize_gradients: bool = Field(True, description="divide each gradient by its standard deviation (in the "
                                                        "authors' code, not among the paper's components)")
    use_softplus: bool = Field(True, description="softplus (beta_softplus) on the Adam denominator (in the authors' "
                                                 "code, not among the paper's components)")
    beta_softplus: float = Field(50.0, gt=0, description="sharpness of the softplus on the denominator")
    lookahead_merge_time: int = Field(5, ge=1, description="lookahead: steps k between merges with the slow weights")
    lookahead_blending_alpha: float = Field(0.5, ge=0, le=1, description="lookahead: alpha of the merge")
    lr_schedule: bool = Field(True, description="Ranger21's own schedule: linear warm-up and explore-exploit "
                                                "warm-down (then zoo.train's schedule must stay constant)")
    warm_up_steps: int | None = Field(None, ge=0, description="warm-up length (None: ceil(2 / (1 - beta2)), or 22% of "
                                                              "the run when that is over 45% of it)")
    warm_down_steps: int | None = Field(None, ge=0, description="warm-down length (None: the last 28% of the run)")
    warm_down_min_lr: float = Field(3e-5, gt=0, description="learning rate at the end of the warm-down")
    eps: float = Field(1e-8, ge=0, description="added to the Adam denominator")


class Ranger21Method(Method):
    """Ranger21 as the run's optimizer (slot "optimizer"), sized to the run's number of steps."""

    name = "ranger21"
    Config = Ranger21Config

    def setup(self, run) -> None:
        config = run.config
        split = run.task.splits()["train"]
        self.steps = total_steps(len(split), batch_size=config.batch_size, epochs=config.epochs,
                                 grad_accumulation=config.grad_accumulation, drop_last=config.drop_last,
                                 max_steps=config.max_steps)
        self.optimizer = None

    def build_optimizer(self, params: list, config) -> torch.optim.Optimizer:
        if config.optimizer not in ("ranger21", "adamw"):  # adamw: the default, i.e. not chosen
            raise ConfigError(f"method 'ranger21' provides the optimizer, but optimizer={config.optimizer!r} was also "
                              f"given; leave optimizer= out (or set it to 'ranger21')")
        if self.config.lr_schedule and (config.schedule != "constant" or config.warmup_steps):
            raise ConfigError(f"ranger21 runs its own warm-up and warm-down schedule; zoo.train's schedule="
                              f"{config.schedule!r}, warmup_steps={config.warmup_steps} would apply a second one. Keep "
                              f"schedule='constant' and warmup_steps=0, or pass ranger21's lr_schedule=False")
        c = self.config
        self.optimizer = build_ranger21(
            params, self.steps, lr=config.lr, beta0=c.beta0, betas=(c.beta1, c.beta2), use_softplus=c.use_softplus,
            beta_softplus=c.beta_softplus, disable_lr_scheduler=not c.lr_schedule,
            num_warm_up_iterations=c.warm_up_steps, num_warm_down_iterations=c.warm_down_steps,
            warm_down_min_lr=c.warm_down_min_lr, agc_clipping_value=c.agc_clipping_value, agc_eps=c.agc_eps,
            centralize_gradients=c.centralize_gradients, normalize_gradients=c.normalize_gradients,
            lookahead_merge_time=c.lookahead_merge_time, lookahead_blending_alpha=c.lookahead_blending_alpha,
            weight_decay=config.weight_decay if config.weight_decay > 0 else c.weight_decay,
            norm_loss_factor=c.norm_loss_factor, eps=c.eps)
        return self.optimizer

    def state_dict(self) -> dict:
        schedule = self.optimizer.schedule_state() if self.optimizer is not None else {}
        return {"steps": self.steps, **schedule}

    def load_state_dict(self, state: dict) -> None:
        # the warm-up and warm-down were sized for the checkpoint's run length: a resume that changes it
        # (more epochs) would silently change the schedule (without the schedule the length is free)
        if self.config.lr_schedule and int(state["steps"]) != self.steps:
            raise ConfigError(f"ranger21: the checkpoint's run had {state['steps']} optimizer steps, this one has "
                              f"{self.steps}; its warm-down cannot change length on resume")
        if self.optimizer is not None and "group_steps" in state:
            self.optimizer.load_schedule_state(state)
