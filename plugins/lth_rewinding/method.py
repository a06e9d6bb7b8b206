"""LTH with rewinding: iterative magnitude pruning whose survivors restart from theta_k, the weights after
k early iterations, instead of theta_0 (Frankle et al., "Stabilizing the Lottery Ticket Hypothesis").

The functional core is the lottery-ticket plugin's (masks, layer-wise magnitude pruning, rewind); this
module adds the rewinding point and the procedure:

    theta_k = rewind_point(model, task, k, **train_options)      # k steps of training, then a snapshot
    for each round: prune_by_magnitude(...); rewind(model, theta_k); train

`LTHRewinding` is a procedure (`.run(model, task, ...)`), each of its runs a zoo.train run through
`Stages`, so that an interrupted procedure resumes at the right run; theta_k is kept with `stages.keep`.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from zoo.config import Field
from zoo.errors import ConfigTypeError
from zoo.training.method import Method, MethodConfig, apply_structural
from zoo_plugins.lottery_ticket.method import (
    PRUNABLE, LotteryTicket, LotteryTicketResult, RoundResult, dense_state, layer_rates, masks_of, prunable_layers,
    prune_by_magnitude, remaining, rewind)

__all__ = ["LTHRewindingConfig", "LTHRewinding", "LTHRewindingResult"]


class LTHRewindingConfig(MethodConfig):
    rewind_iteration: int = Field(500, ge=0, description=(
        "k: the training iteration (optimizer step) the survivors are rewound to; 0 is the original lottery "
        "ticket (theta_0). The paper finds k at 0.1-7% of training enough (e.g. 500 of 30K-112K iterations)"))
    rounds: int = Field(10, ge=0, le=100, description="pruning rounds (train, prune, rewind to theta_k, retrain)")
    prune_rate: float = Field(0.2, ge=0, lt=1, description=(
        "fraction of the surviving weights of each fully-connected layer pruned per round (the paper: 20%)"))
    conv_prune_rate: float = Field(0.2, ge=0, lt=1, description=(
        "the same for convolutional layers (the paper's deeper conv nets: 20% per round)"))
    output_prune_rate: float | None = Field(None, ge=0, lt=1, description=(
        "the output layer's rate; None: half its layer type's rate"))
    output_layer: str | None = Field(None, description=(
        "module name of the output layer; None: the last prunable layer in module order"))
    layers: list[str] | None = Field(None, description=(
        "module names (Linear or Conv) whose weights are pruned; None: every Linear and Conv layer"))


@dataclass(repr=False)
class LTHRewindingResult(LotteryTicketResult):
    """The procedure's result: `model` is the last round's subnetwork (the model passed in), `rounds` one
    RoundResult per round (0: dense, trained from theta_k like the others), `rewind_iteration` k."""

    rewind_iteration: int = 0


class LTHRewinding(Method):
    """IMP with rewinding to iteration k (a procedure: call `.run(model, task, ...)`)."""

    name = "lth-rewinding"
    Config = LTHRewindingConfig
    layer_types = PRUNABLE
    standalone = True  # a procedure of several zoo.train runs: zoo.train refuses it, `run` drives it

    def _lottery(self) -> LotteryTicket:
        c = self.config
        return LotteryTicket(prune_rate=c.prune_rate, conv_prune_rate=c.conv_prune_rate,
                             output_prune_rate=c.output_prune_rate, output_layer=c.output_layer, layers=c.layers)

    def check(self, model, task) -> str | None:
        return super().check(model, task) or self._lottery().check(model, task)

    def run(self, model, task, *, out_dir=None, resume: bool = False, overwrite: bool = False,
            **train_options) -> LTHRewindingResult:
        """Train k steps from theta_0 and keep theta_k (stage "rewind-point"); round 0 trains the dense model
        from theta_k; each later round prunes each layer's smallest surviving weights at its rate, rewinds
        the survivors to theta_k and trains again (stages round-<r>). `train_options` are zoo.train's
        (epochs, lr, optimizer, batch_size, seed, ...), the same for every round."""
        from zoo.training.procedure import Stages

        if not isinstance(model, nn.Module):
            raise ConfigTypeError(f"lth-rewinding runs on a torch nn.Module, got {type(model).__name__}")
        self.require(model, task)  # a procedure does not pass through zoo.train's own check
        step = LotteryTicket(layers=self.config.layers)
        apply_structural(model, [step])
        rates = layer_rates(prunable_layers(model, self.config.layers), self._lottery().config)
        k = self.config.rewind_iteration
        result = LTHRewindingResult(model=model, rewind_iteration=k)
        with Stages(out_dir, resume, procedure=self, overwrite=overwrite) as stages:
            if k > 0:
                warmup = {**train_options, "max_steps": k, "epochs": max(train_options.get("epochs", 1), 10**6)}
                warmup["final_splits"] = []
                # zoo.train's schedule spans max_steps, i.e. only these k steps; the first k steps of a
                # decaying schedule over a whole round are at (nearly) the full learning rate, so keep it
                warmup["schedule"] = "constant"
                stages.train("rewind-point", model, task, methods=[step], **warmup)
            theta_k = stages.keep("rewind", dense_state(model))
            for r in range(self.config.rounds + 1):
                if r > 0:
                    prune_by_magnitude(model, rates)
                rewind(model, theta_k)
                trained = stages.train(f"round-{r}", model, task, methods=[step], **train_options)
                overall, per_layer = remaining(model)
                result.rounds.append(RoundResult(
                    round=r, remaining=overall, layers=per_layer,
                    masks={n: m.detach().to("cpu").bool() for n, m in masks_of(model).items()},
                    history=trained.history, final=trained.final, steps=trained.steps))
        return result
