"""OT model fusion (Singh & Jaggi, 2020): align the neurons of networks layer by layer with optimal transport, then average.

The functional core acts on torch models and tensors and needs no zoo.train:

    layers = chain_layers(model)                    # the Linear/Conv layers, in the order they compute
    acts = pre_activations(model, layers, x)        # their outputs on samples (activation-based cost)
    fused, plans = fuse([a, b], alignment="weights") # Algorithm 1: align b to a, then average
    average([a, b])                                 # vanilla parameter averaging (the paper's baseline)

Per layer l (the paper's Sec. 4, "Aligning neurons"; b is aligned to the anchor a):

    W_b^ = W_b^(l) T^(l-1) diag(1/beta^(l-1))        incoming weights moved to a's previous neurons
    C_ij = || W_b^[i] - W_a^(l)[j] ||                ground cost (weights), or || act_b[i] - act_a[j] ||
    T^(l) = argmin <T, C>  s.t. T 1 = alpha, T^T 1 = beta   exact OT (ot.emd), uniform alpha, beta
    W~_b = diag(1/beta^(l)) T^(l)T W_b^              b's neurons moved onto a's
    W_F = (1 - w) W_a + w W~_b                       fused (w = 1/2 for two models)

The output layer is not transported (its neurons are the classes). A BatchNorm that follows a layer
is moved with that layer's neurons. `OTModelFusion` binds it to the zoo: a method that does not train
(`run` fuses, then optionally fine-tunes the fused model through zoo.train).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from zoo.config import Field
from zoo.errors import ConfigTypeError
from zoo.training.method import Method, MethodConfig, MethodMismatchError

__all__ = ["OTModelFusionConfig", "OTModelFusion", "FusionResult", "ALIGNED", "NORMS", "chain_layers",
           "structure_problem", "pre_activations", "ground_cost", "transport", "fuse", "average",
           "predict_ensemble"]

CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
ALIGNED = (nn.Linear, *CONV)  # layers whose neurons (outputs) are transported
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)  # per-neuron layers moved with the layer before


class OTModelFusionConfig(MethodConfig):
    alignment: Literal["weights", "activations"] = Field("weights", description=(
        "ground cost between neurons: 'weights', the distance between their incoming weights after the previous "
        "layer's transport (Sec. 4, weight-based; needs no data); 'activations', the distance between their "
        "pre-activation outputs on `samples` training inputs (activation-based; the paper's MNIST MLP setting)"))
    samples: int = Field(200, ge=1, description=(
        "training inputs the activation-based cost is measured on (the paper's MNIST setting: 200)"))
    weight: float = Field(0.5, gt=0, lt=1, description=(
        "share of the other model(s) in the fused average, 1 - the anchor's share (the paper's 0.5: the plain "
        "mean of two models); with several other models it is split equally among them"))
    seed: int = Field(0, ge=0, description="seed of the draw of the activation samples")
    finetune_epochs: int = Field(0, ge=0, description=(
        "epochs of zoo.train on the fused model after fusion in run() (0: one-shot fusion, no retraining, the "
        "paper's main setting; > 0: its 'moderate fine-tuning')"))
    verify: bool = Field(True, description=(
        "check that each aligned model computes what it computed before (on a few inputs): it does exactly when "
        "the model is a plain chain of its Linear/Conv layers, which layer-by-layer alignment assumes"))


@dataclass
class FusionResult:
    """What `OTModelFusion.run` returns: `model`, the fused model (a new one: the inputs are left as
    they were); `plans`, per aligned layer the transport maps from each other model to the anchor
    ({layer: [T (n_other x n_anchor) per other model]}); `final`, its test metrics (after the optional
    fine-tuning, whose zoo.train result is `finetune`)."""

    model: nn.Module = field(repr=False)
    plans: dict[str, list[torch.Tensor]] = field(repr=False)
    final: dict[str, float] = field(default_factory=dict)
    finetune: object = field(default=None, repr=False)


# --- the functional core -------------------------------------------------------------------------------


def chain_layers(model: nn.Module) -> dict[str, nn.Module]:
    """{name: module} of the model's Linear and Conv layers in module order: the chain that fusion
    aligns one after the other (the last is the output layer)."""
    return {name: module for name, module in model.named_modules() if isinstance(module, ALIGNED)}


def _norms_after(model: nn.Module, layers: dict[str, nn.Module]) -> dict[str, str]:
    """{layer name: name of the BatchNorm that follows it in module order} (its neurons move with it)."""
    follows, last = {}, None
    for name, module in model.named_modules():
        if isinstance(module, ALIGNED):
            last = name
        elif isinstance(module, NORMS) and last is not None:
            follows[last] = name
    return follows


def structure_problem(a: nn.Module, others: list[nn.Module]) -> str | None:
    """What keeps these models from being fused, in words, or None: every model must have the same
    tensors (names and shapes), at least two Linear/Conv layers, and no parameters outside Linear,
    Conv and BatchNorm layers (others, e.g. a LayerNorm or an embedding, are not moved with the neurons)."""
    layers = chain_layers(a)
    if len(layers) < 2:
        return f"at least two Linear or Conv layers to align (it has {len(layers)})"
    for name, module in a.named_modules():
        if not isinstance(module, (*ALIGNED, *NORMS)) and any(True for _ in module.parameters(recurse=False)):
            return (f"only Linear, Conv and BatchNorm layers to hold parameters (module {name!r} is a "
                    f"{type(module).__name__} with parameters, which the alignment cannot move)")
    previous = None
    for name, module in layers.items():
        n_in = module.in_features if isinstance(module, nn.Linear) else module.in_channels
        if isinstance(module, CONV) and module.groups != 1:
            return f"ungrouped convolutions (layer {name!r} has groups={module.groups})"
        if previous is not None and n_in % previous != 0:
            return (f"a chain of layers, each reading the one before (layer {name!r} reads {n_in} features, not a "
                    f"multiple of the previous layer's {previous} outputs)")
        previous = module.out_features if isinstance(module, nn.Linear) else module.out_channels
    shapes = {k: tuple(v.shape) for k, v in a.state_dict().items()}
    for index, other in enumerate(others):
        if not isinstance(other, nn.Module):
            return f"other= to be torch nn.Module(s) (item {index} is {type(other).__name__})"
        theirs = {k: tuple(v.shape) for k, v in other.state_dict().items()}
        if theirs != shapes:
            differ = sorted(set(shapes) ^ set(theirs)) or [k for k in shapes if shapes[k] != theirs[k]]
            return (f"other models of the same architecture and widths (other model {index} differs at "
                    f"{differ[0]!r}); fusing different widths is not implemented")
    return None


@torch.no_grad()
def pre_activations(model: nn.Module, layers: dict[str, nn.Module], inputs: tuple) -> dict[str, torch.Tensor]:
    """{layer: (neurons, samples * positions)}: each layer's outputs (before its nonlinearity) on the
    inputs, one row per neuron (a Conv neuron's row holds every spatial position of every sample)."""
    captured, handles = {}, []
    for name, module in layers.items():
        def keep(_module, _inputs, output, name=name):
            captured[name] = output.detach().transpose(0, 1).reshape(output.shape[1], -1)
        handles.append(module.register_forward_hook(keep))
    training = model.training
    try:
        model.eval()
        model(*inputs)
    finally:
        model.train(training)
        for handle in handles:
            handle.remove()
    return captured


def ground_cost(rows_other: torch.Tensor, rows_anchor: torch.Tensor) -> np.ndarray:
    """C_ij = || rows_other[i] - rows_anchor[j] ||_2 (Euclidean, not squared, as the authors run it)."""
    return torch.cdist(rows_other.double().flatten(1), rows_anchor.double().flatten(1)).numpy()


def transport(cost: np.ndarray) -> torch.Tensor:
    """The exact optimal transport plan between uniform marginals over the two layers' neurons (ot.emd):
    T (n_other x n_anchor), rows summing to 1/n_other and columns to 1/n_anchor."""
    import ot

    n_other, n_anchor = cost.shape
    alpha, beta = np.full(n_other, 1.0 / n_other), np.full(n_anchor, 1.0 / n_anchor)
    return torch.from_numpy(ot.emd(alpha, beta, np.ascontiguousarray(cost)))


def _move_inputs(weight: torch.Tensor, incoming: torch.Tensor | None) -> torch.Tensor:
    """W^ = W T^(l-1) diag(1/beta^(l-1)): the input axis (dim 1) moved from the other model's previous
    neurons to the anchor's. A Linear after a flatten reads each previous channel at several
    positions (channel-major), so the map is repeated per position (kron(P, I))."""
    if incoming is None:
        return weight
    n_prev = incoming.shape[0]
    if weight.shape[1] != n_prev:
        positions = weight.shape[1] // n_prev
        incoming = torch.kron(incoming, torch.eye(positions, dtype=incoming.dtype))
    moved = torch.tensordot(weight.double(), incoming, dims=([1], [0]))  # (out, *kernel, in_anchor)
    return moved.movedim(-1, 1)


def _move_outputs(tensor: torch.Tensor, plan: torch.Tensor) -> torch.Tensor:
    """diag(1/beta) T^T X: the neuron axis (dim 0) of X moved onto the anchor's neurons."""
    beta = plan.sum(dim=0)
    moved = (plan.T / beta[:, None]) @ tensor.double().reshape(tensor.shape[0], -1)
    return moved.reshape(plan.shape[1], *tensor.shape[1:])


@torch.no_grad()
def align(anchor: nn.Module, other: nn.Module, *, alignment: str = "weights",
          inputs: tuple | None = None) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """`other`'s tensors with its neurons moved onto the anchor's, layer by layer (Algorithm 1), and
    the transport plan of each layer: (aligned state_dict, {layer: T}). alignment="activations"
    needs `inputs` (a tuple of model inputs)."""
    layers_a, layers_b = chain_layers(anchor), chain_layers(other)
    norms = _norms_after(anchor, layers_a)
    names = list(layers_a)
    if alignment == "activations":
        if inputs is None:
            raise ValueError("alignment='activations' needs inputs to measure the activations on")
        acts_a, acts_b = pre_activations(anchor, layers_a, inputs), pre_activations(other, layers_b, inputs)
    state = {k: v.clone() for k, v in other.state_dict().items()}
    plans, incoming = {}, None  # incoming: P^(l-1) = T^(l-1) diag(1/beta^(l-1)), other -> anchor
    for index, name in enumerate(names):
        module_a, module_b = layers_a[name], layers_b[name]
        weight = _move_inputs(module_b.weight, incoming)
        bias = module_b.bias.double() if module_b.bias is not None else None
        if index == len(names) - 1:  # the output layer: its neurons are the outputs, not transported
            state[f"{name}.weight"] = weight.to(module_b.weight.dtype)
            break
        if alignment == "activations":
            cost = ground_cost(acts_b[name], acts_a[name])
        else:
            rows_b, rows_a = weight.flatten(1), module_a.weight.double().flatten(1)
            if bias is not None:  # a neuron's bias is one more incoming weight
                rows_b = torch.cat([rows_b, bias[:, None]], 1)
                rows_a = torch.cat([rows_a, module_a.bias.double()[:, None]], 1)
            cost = ground_cost(rows_b, rows_a)
        plan = transport(cost)
        plans[name] = plan
        state[f"{name}.weight"] = _move_outputs(weight, plan).to(module_b.weight.dtype)
        if bias is not None:
            state[f"{name}.bias"] = _move_outputs(bias, plan).to(module_b.bias.dtype)
        if name in norms:
            for key in ("weight", "bias", "running_mean", "running_var"):
                full = f"{norms[name]}.{key}"
                if full in state and state[full] is not None:
                    state[full] = _move_outputs(state[full], plan).to(state[full].dtype)
        incoming = plan / plan.sum(dim=0, keepdim=True)  # the paper's correction: columns sum to 1
    return state, plans


def _blend(states: list[dict[str, torch.Tensor]], shares: list[float]) -> dict[str, torch.Tensor]:
    """sum_m share_m * state_m for floating tensors; others (BatchNorm's batch counter) from the first."""
    out = {}
    for key, first in states[0].items():
        if first.is_floating_point():
            out[key] = sum(share * s[key].double() for share, s in zip(shares, states)).to(first.dtype)
        else:
            out[key] = first.clone()
    return out


def _shares(count: int, weight: float) -> list[float]:
    return [1.0 - weight] + [weight / (count - 1)] * (count - 1)


@torch.no_grad()
def average(models: list[nn.Module], weight: float = 0.5) -> nn.Module:
    """Vanilla parameter averaging, the paper's baseline: the tensors averaged as they are, without
    aligning the neurons (the anchor models[0] weighs 1 - weight). Returns a new model."""
    fused = copy.deepcopy(models[0])
    fused.load_state_dict(_blend([m.state_dict() for m in models], _shares(len(models), weight)))
    return fused


def _outputs_agree(original: nn.Module, state: dict, inputs: tuple) -> float:
    """Largest |difference| of the model's outputs before and after its tensors are replaced by `state`,
    relative to the outputs' scale."""
    moved = copy.deepcopy(original)
    moved.load_state_dict(state)
    moved.eval()
    training = original.training
    original.eval()
    try:
        before, after = original(*inputs), moved(*inputs)
    finally:
        original.train(training)
    return float((before - after).abs().max() / before.abs().max().clamp_min(1e-12))


@torch.no_grad()
def fuse(models: list[nn.Module], *, alignment: str = "weights", weight: float = 0.5, inputs: tuple | None = None,
         verify: bool = True) -> tuple[nn.Module, dict[str, list[torch.Tensor]]]:
    """OT fusion of `models` (the same architecture and widths) into a new model: every other model
    aligned onto models[0] (the anchor), then all averaged, the anchor weighing 1 - weight.
    inputs: a tuple of model inputs; needed for alignment="activations" and for `verify`, which
    checks that each aligned model still computes its own function (else the model is not a plain
    chain of its Linear/Conv layers, and MethodMismatchError is raised). Returns (fused, plans)."""
    anchor, others = models[0], list(models[1:])
    problem = structure_problem(anchor, others)
    if problem:
        raise MethodMismatchError(f"ot-model-fusion cannot fuse these models: it needs {problem}")
    states, plans = [anchor.state_dict()], {}
    for other in others:
        state, other_plans = align(anchor, other, alignment=alignment, inputs=inputs)
        if verify and inputs is not None:
            error = _outputs_agree(other, state, inputs)
            if error > 1e-4:
                raise MethodMismatchError(
                    f"ot-model-fusion cannot act on model {type(anchor).__name__!r}: its neurons cannot be permuted "
                    f"layer by layer without changing what it computes (outputs changed by {error:.2g} of their "
                    f"scale): it needs a plain chain of its Linear/Conv layers, each reading the previous one's "
                    f"outputs (no skip connections, no layers used twice or out of module order)")
        states.append(state)
        for name, plan in other_plans.items():
            plans.setdefault(name, []).append(plan)
    fused = copy.deepcopy(anchor)
    fused.load_state_dict(_blend(states, _shares(len(models), weight)))
    return fused, plans


@torch.no_grad()
def predict_ensemble(models: list[nn.Module], inputs: tuple) -> torch.Tensor:
    """The prediction ensemble (the paper's reference): the mean of the models' softmax outputs."""
    probabilities = []
    for model in models:
        training = model.training
        model.eval()
        probabilities.append(torch.softmax(model(*inputs), dim=-1))
        model.train(training)
    return torch.stack(probabilities).mean(0)


def training_inputs(task, count: int, seed: int) -> tuple:
    """`count` training inputs of the task, drawn without replacement with `seed`, as model inputs."""
    from zoo.training.data import as_task

    task = as_task(task)
    split = task.splits()["train"]
    generator = torch.Generator().manual_seed(seed)
    indices = torch.randperm(len(split), generator=generator)[:count]
    if hasattr(split, "tensors"):
        batch = tuple(t[indices] for t in split.tensors)
    else:
        batch = torch.utils.data.default_collate([split[int(i)] for i in indices])
    return tuple(task.inputs(batch))


# --- the method ----------------------------------------------------------------------------------------


class OTModelFusion(Method):
    """OT model fusion (Singh & Jaggi, 2020): a method that does not train. `run(model, task)` fuses
    `model` (the anchor) with `other` (one model or a list) by layer-wise optimal transport of the
    neurons, then averaging; with finetune_epochs > 0 it trains the fused model on `task` after."""

    name = "ot-model-fusion"
    Config = OTModelFusionConfig
    layer_types = ALIGNED
    objects = {"other": "the trained model(s) to fuse with this one: an nn.Module of the same architecture and "
                        "widths, or a list of them"}

    def _others(self) -> list:
        return list(self.other) if isinstance(self.other, (list, tuple)) else [self.other]

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        return structure_problem(model, self._others())

    def run(self, model, task, *, out_dir=None, resume: bool = False, overwrite: bool = False,
            **train_options) -> FusionResult:
        """Fuse `model` with `other` (OT alignment onto `model`, then the average); the inputs of the
        check and of the activation-based cost are training inputs of `task`. With finetune_epochs > 0
        the fused model then trains as the zoo.train run "finetune" (`train_options`; with out_dir,
        resume=True continues it). Returns a FusionResult with the fused model and its test metrics."""
        import zoo
        from zoo.training.data import as_task
        from zoo.training.procedure import Stages

        if not isinstance(model, nn.Module):
            raise ConfigTypeError(f"ot-model-fusion fuses torch nn.Modules, got {type(model).__name__}")
        task = as_task(task)
        self.require(model, task)
        config = self.config
        needs_inputs = config.alignment == "activations" or config.verify
        inputs = training_inputs(task, config.samples, config.seed) if needs_inputs else None
        device = next(model.parameters()).device
        models = [m.to("cpu") for m in [model, *self._others()]]
        fused, plans = fuse(models, alignment=config.alignment, weight=config.weight, inputs=inputs,
                            verify=config.verify)
        model.to(device)
        finetune = None
        if config.finetune_epochs > 0:
            with Stages(out_dir, resume, procedure=self, overwrite=overwrite) as stages:
                finetune = stages.train("finetune", fused, task, **{"epochs": config.finetune_epochs,
                                                                     **train_options})
        final = zoo.evaluate(fused, task, split="test") if "test" in task.splits() else {}
        return FusionResult(model=fused, plans=plans, final=final, finetune=finetune)
