"""Lottery-ticket pruning: layer-wise magnitude masks, rewinding to theta_0, and the iterative procedure.

The functional core acts on any torch model and needs no zoo.train:

    layers = prunable_layers(model)               # {name: Linear/Conv module}
    attach_masks(model, layers)                   # w = w_orig * m, m = 1 (torch.nn.utils.prune)
    theta0 = dense_state(model)                   # the initialisation, step 1 of the paper's algorithm
    ... train ...
    prune_by_magnitude(model, layer_rates(layers, config))   # step 3: p% of each layer's survivors
    rewind(model, theta0)                         # step 4: survivors back to theta_0, m * theta_0
    reinitialize(model, seed)                     # the control: survivors take a fresh draw instead

`LotteryTicket` binds it to zoo.train (a structural method: the masks stay on the model, held at zero
after every optimizer step, saved by zoo.save and re-attached by zoo.load) and, as a procedure,
runs the paper's iterative pruning (Sec. 1, "Identifying winning tickets"; Sec. 2 for LeNet, Sec. 3
for Conv-2/4/6): train, prune, rewind, retrain, one zoo.train run per round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn
from torch.nn.utils import prune

from zoo.config import Field
from zoo.errors import ConfigTypeError
from zoo.training.method import Method, MethodConfig, apply_structural

__all__ = ["LotteryTicketConfig", "LotteryTicket", "LotteryTicketResult", "RoundResult", "PRUNABLE",
           "prunable_layers", "output_layer_name", "layer_rates", "attach_masks", "masks_of", "apply_masks",
           "prune_by_magnitude", "dense_state", "rewind", "reinitialize", "remaining"]

CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
PRUNABLE = (nn.Linear, *CONV)
TENSOR = "weight"  # the paper prunes weights; biases stay dense


class LotteryTicketConfig(MethodConfig):
    rounds: int = Field(10, ge=0, le=100, description=(
        "pruning rounds of the procedure (train, prune, rewind, retrain): n in Sec. 1; 10 rounds at 20% leave "
        "10.7% of a fully-connected layer, the size of the paper's tickets"))
    prune_rate: float = Field(0.2, ge=0, lt=1, description=(
        "fraction of the surviving weights of each fully-connected layer pruned per round, p^(1/n) in Sec. 1 "
        "(LeNet and the fc layers of Conv-2/4/6: 20%)"))
    conv_prune_rate: float = Field(0.1, ge=0, lt=1, description=(
        "the same for convolutional layers (Conv-2 and Conv-4: 10%; Conv-6: 15%)"))
    output_prune_rate: float | None = Field(None, ge=0, lt=1, description=(
        "the same for the output layer; None: half its layer type's rate (the paper's 10% for the fc output)"))
    output_layer: str | None = Field(None, description=(
        "module name of the output layer; None: the last prunable layer in the model's module order"))
    layers: list[str] | None = Field(None, description=(
        "module names (Linear or Conv) whose weights are pruned; None: every Linear and Conv layer (not inside "
        "nn.MultiheadAttention, which reads its weights without calling the layer)"))
    rewind: Literal["init", "random"] = Field("init", description=(
        "what the survivors start each retraining from: init, the original theta_0 (the paper's winning "
        "ticket); random, a fresh draw from each layer's initializer (the paper's random-reinit control)"))


# --- the functional core -------------------------------------------------------------------------------


def prunable_layers(model: nn.Module, names: list[str] | None = None) -> dict[str, nn.Module]:
    """{module name: module} of the layers whose weights are pruned: `names`, or every Linear and Conv
    module outside nn.MultiheadAttention (it reads out_proj.weight directly, past the mask's hook)."""
    modules = dict(model.named_modules())
    if names is not None:
        return {name: modules[name] for name in names}
    inside_attention = {id(child) for module in modules.values() if isinstance(module, nn.MultiheadAttention)
                        for child in module.modules()}
    return {name: module for name, module in modules.items()
            if isinstance(module, PRUNABLE) and id(module) not in inside_attention}


def output_layer_name(layers: dict[str, nn.Module], output_layer: str | None = None) -> str | None:
    """The output layer among `layers`: `output_layer`, else the last one in module order."""
    if output_layer is not None:
        return output_layer
    return next(reversed(layers), None)


def layer_rates(layers: dict[str, nn.Module], config: LotteryTicketConfig) -> dict[str, float]:
    """Each layer's pruning rate per round: conv_prune_rate for convolutions, prune_rate for
    fully-connected layers, and for the output layer output_prune_rate or half its type's rate
    (Sec. 2: "connections to outputs are pruned at half the rate of the rest of the network")."""
    output = output_layer_name(layers, config.output_layer)
    rates = {}
    for name, module in layers.items():
        rate = config.conv_prune_rate if isinstance(module, CONV) else config.prune_rate
        if name == output:
            rate = config.output_prune_rate if config.output_prune_rate is not None else rate / 2
        rates[name] = rate
    return rates


def attach_masks(model: nn.Module, layers: dict[str, nn.Module]) -> None:
    """Reparametrise each layer's weight as weight_orig * weight_mask with an all-ones mask
    (torch.nn.utils.prune.identity). weight_orig is the layer's own Parameter object, so an
    optimizer built before keeps working; a layer that already has a mask keeps it."""
    for module in layers.values():
        if not hasattr(module, TENSOR + "_mask"):
            prune.identity(module, TENSOR)


def masks_of(model: nn.Module) -> dict[str, torch.Tensor]:
    """{module name: mask} of every masked layer (the mask buffers themselves, not copies)."""
    return {name: module.weight_mask for name, module in model.named_modules() if hasattr(module, TENSOR + "_mask")}


@torch.no_grad()
def apply_masks(model: nn.Module) -> None:
    """Zero the pruned entries of each masked layer's weight_orig (and its forward weight), so the
    stored parameters, not only the masked forward, hold m * theta: weight decay or an optimizer's
    momentum cannot bring a pruned weight back."""
    for module in model.modules():
        if hasattr(module, TENSOR + "_mask"):
            module.weight_orig.mul_(module.weight_mask)
            module.weight = module.weight_orig * module.weight_mask


@torch.no_grad()
def prune_by_magnitude(model: nn.Module, rates: dict[str, float]) -> None:
    """Step 3 of the algorithm: in each layer, remove the `rate` fraction of its surviving weights
    with the smallest magnitude (layer-wise, as in the paper), by torch.nn.utils.prune.l1_unstructured,
    which on a masked layer ranks the survivors only (its PruningContainer)."""
    modules = dict(model.named_modules())
    for name, rate in rates.items():
        module = modules[name]
        if rate == 0:
            continue
        scores = (module.weight_orig * module.weight_mask).abs()
        prune.l1_unstructured(module, TENSOR, amount=rate, importance_scores=scores)
    apply_masks(model)


def dense_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state with dense names (weight, not weight_orig) and no masks, cloned: theta_0
    when taken before training. Buffers (e.g. batch-norm statistics) are kept, and rewound too."""
    state = {}
    for key, value in model.state_dict().items():
        if key.endswith("_mask"):
            continue
        state[key.removesuffix("_orig")] = value.detach().clone()
    return state


@torch.no_grad()
def rewind(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Step 4: set every tensor of the model to `state` (dense names, from dense_state) and apply the
    masks, so each masked layer holds m * theta_0. Copies into the existing tensors, which an
    optimizer may hold."""
    own = model.state_dict()
    for key, value in state.items():
        target = own.get(key)
        if target is None:
            target = own.get(key + "_orig")
        if target is None:
            raise KeyError(f"rewind: the model has no tensor {key!r} (nor {key + '_orig'!r})")
        target.copy_(value)
    apply_masks(model)


@torch.no_grad()
def reinitialize(model: nn.Module, seed: int) -> None:
    """The paper's control (Sec. 2, "random reinitialization"): keep the masks, draw the weights anew
    from each layer's own initializer (`reset_parameters`), seeded by `seed`, then apply the masks.
    A masked layer's initializer writes through its forward weight into weight_orig."""
    with torch.random.fork_rng(devices=[p.device for p in model.parameters() if p.is_cuda][:1]):
        torch.manual_seed(seed)
        for module in model.modules():
            reset = getattr(module, "reset_parameters", None)
            if not callable(reset):
                continue
            if hasattr(module, TENSOR + "_mask"):
                module.weight = module.weight_orig.detach()  # shares storage: the initializer fills weight_orig
            reset()
    apply_masks(model)


def remaining(model: nn.Module) -> tuple[float, dict[str, float]]:
    """(fraction of the masked layers' weights that survive, {layer: its fraction}): P_m of the paper."""
    masks = masks_of(model)
    kept = {name: float(mask.sum()) for name, mask in masks.items()}
    sizes = {name: mask.numel() for name, mask in masks.items()}
    total = sum(sizes.values())
    overall = sum(kept.values()) / total if total else 1.0
    return overall, {name: kept[name] / sizes[name] for name in masks}


# --- the procedure's result ----------------------------------------------------------------------------


@dataclass
class RoundResult:
    """One round: its training run on the masks it started with.

    round: 0 trains the dense network; round r trains after r prunings.
    remaining: fraction of the prunable weights that survive (P_m); layers: the same per layer.
    masks: the round's masks ({layer: bool tensor on the CPU}); history / final / steps: its zoo.train run.
    """

    round: int
    remaining: float
    layers: dict[str, float] = field(repr=False)
    masks: dict[str, torch.Tensor] = field(repr=False)
    history: list[dict] = field(repr=False)
    final: dict[str, float] = field(default_factory=dict)
    steps: int = 0


@dataclass
class LotteryTicketResult:
    """What the procedure returns: `model` is the ticket after the last round (masked, trained; the
    same object that was passed in), `rounds` one RoundResult per training run."""

    model: nn.Module = field(repr=False)
    rounds: list[RoundResult] = field(default_factory=list)

    @property
    def remaining(self) -> float:
        return self.rounds[-1].remaining if self.rounds else 1.0

    def __repr__(self) -> str:
        rows = ", ".join(f"{r.round}: {100 * r.remaining:.1f}% left" for r in self.rounds)
        final = self.rounds[-1].final if self.rounds else {}
        return f"LotteryTicketResult(rounds {{{rows}}}, ticket final {final})"


# --- the method ----------------------------------------------------------------------------------------


class LotteryTicket(Method):
    """Lottery-ticket pruning (Frankle & Carbin, 2019). As a step method in zoo.train: the model's
    Linear/Conv weights carry masks (all ones at first), held at zero after every optimizer step.
    As a procedure, `run(model, task, ...)`: iterative magnitude pruning with rewinding to theta_0."""

    name = "lottery-ticket"
    Config = LotteryTicketConfig
    structural = True
    layer_types = PRUNABLE
    conflicts = {
        "dorefa": "DoReFa's weight quantizer maps a pruned (zero) weight to a nonzero level, so the pruned "
                  "connections would act again in the quantized network",
    }

    def __init__(self, **options):
        super().__init__(**options)
        self._masked: list[nn.Module] = []

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        modules = dict(model.named_modules())
        names = self.config.layers
        if names is not None:
            if not names:
                return "at least one layer in layers= (it is empty)"
            wrong = [n for n in names if not isinstance(modules.get(n), PRUNABLE)]
            if wrong:
                return (f"layers= to name Linear or Conv modules of the model ({wrong[0]!r} is "
                        f"{type(modules[wrong[0]]).__name__ if wrong[0] in modules else 'not a module of it'})")
        layers = prunable_layers(model, names)
        if not layers:
            return "at least one Linear or Conv layer outside nn.MultiheadAttention"
        output = self.config.output_layer
        if output is not None and output not in layers:
            return f"output_layer= to be one of the pruned layers ({output!r} is not among {list(layers)[:6]})"
        return None

    def prepare(self, model) -> None:
        attach_masks(model, prunable_layers(model, self.config.layers))

    def setup(self, run) -> None:
        self._masked = [m for m in run.model.modules() if hasattr(m, TENSOR + "_mask")]

    def after_step(self, run) -> None:
        with torch.no_grad():
            for module in self._masked:
                module.weight_orig.mul_(module.weight_mask)

    def end(self, run) -> None:
        self._masked = []

    # --- the procedure -----------------------------------------------------------------------------

    def structure(self) -> LotteryTicket:
        """The step method the procedure trains with and leaves on the model (zoo.save records it):
        only `layers` decides the model's structure (which layers carry masks); the other options shape
        the procedure, so a ticket trains on under zoo.method("lottery-ticket") whatever rounds made it."""
        return LotteryTicket(layers=self.config.layers)

    def run(self, model, task, *, out_dir=None, resume: bool = False, overwrite: bool = False,
            **train_options) -> LotteryTicketResult:
        """Iterative magnitude pruning (the paper's Sec. 1 algorithm, with n = rounds): train the model
        from theta_0 (round 0), then per round prune each layer's smallest surviving weights at its rate,
        rewind the survivors to theta_0 (rewind="random": a fresh draw) and train again. Each round is a
        zoo.train run (`train_options`: epochs, lr, optimizer, batch_size, seed, ...) named round-<r>;
        with out_dir, theta_0 is kept in init.safetensors and resume=True continues where it stopped.
        Returns the ticket (the model itself) and each round's masks and results."""
        from zoo.training.config import TrainConfig
        from zoo.training.method import check_methods
        from zoo.training.procedure import Stages

        if not isinstance(model, nn.Module):
            raise ConfigTypeError(f"lottery-ticket runs on a torch nn.Module (e.g. zoo.create(...)), got "
                                  f"{type(model).__name__}")
        check_methods([self], model, task, TrainConfig())
        step = self.structure()
        apply_structural(model, [step])
        layers = prunable_layers(model, self.config.layers)
        rates = layer_rates(layers, self.config)
        seed = train_options.get("seed", 0)
        result = LotteryTicketResult(model=model)
        with Stages(out_dir, resume, procedure=self, overwrite=overwrite) as stages:
            theta0 = stages.keep("init", dense_state(model))
            for r in range(self.config.rounds + 1):
                if r > 0:
                    prune_by_magnitude(model, rates)
                if r > 0 and self.config.rewind == "random":
                    reinitialize(model, seed=_round_seed(seed, r))
                else:
                    rewind(model, theta0)
                trained = stages.train(f"round-{r}", model, task, methods=[step], **train_options)
                overall, per_layer = remaining(model)
                result.rounds.append(RoundResult(
                    round=r, remaining=overall, layers=per_layer,
                    masks={n: m.detach().to("cpu", torch.bool) for n, m in masks_of(model).items()},
                    history=trained.history, final=trained.final, steps=trained.steps))
        return result


def _round_seed(seed: int, round_index: int) -> int:
    """A seed per round for rewind="random", apart from the training seed's own stream."""
    return (seed * 1_000_003 + round_index * 7919 + 1) % (2**63 - 1)

