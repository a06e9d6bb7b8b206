"""Sparse evolutionary training (SET): Erdos-Renyi sparse Linear layers whose connections evolve each epoch.

The functional core acts on any torch model and needs no zoo.train:

    layers = sparse_layers(model)                      # {name: nn.Linear}, by default all but the last
    attach_erdos_renyi_masks(model, layers, epsilon)   # Eq. (1): p = eps (n_in + n_out) / (n_in n_out)
    ... train an epoch ...
    changed = evolve(module, zeta, generator)          # Algorithm 1: remove zeta of the smallest positive
                                                       # and largest negative weights, add as many at random
    active_parameters(model)                           # what the sparse network really holds

`SparseEvolutionaryTraining` binds it to zoo.train: a structural method (masks are buffers of the
model, saved by zoo.save and re-attached by zoo.load) that holds the masked weights at zero after
every optimizer step and evolves the topology between epochs (at the start of every epoch but the first).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.nn.utils import prune

from zoo.config import Field
from zoo.training.method import Method, MethodConfig

__all__ = ["SETConfig", "SparseEvolutionaryTraining", "erdos_renyi_density", "sparse_layers",
           "attach_erdos_renyi_masks", "evolve", "clear_optimizer_state", "active_parameters", "masked_layers"]

TENSOR = "weight"
REGROW_STD = 0.1  # N(0, 0.1^2): the authors' sparse implementation's initial weights


class SETConfig(MethodConfig):
    epsilon: float = Field(20.0, gt=0, description=(
        "epsilon of the Erdos-Renyi density eps (n_in + n_out) / (n_in n_out) of each sparse layer (the paper's "
        "MLPs: 20); a layer whose density would reach 1 stays dense"))
    zeta: float = Field(0.3, ge=0, lt=1, description=(
        "fraction of the positive and of the negative weights of each sparse layer removed (smallest positive, "
        "largest negative) and replaced by random new connections after every epoch (the paper: 0.3)"))
    layers: list[str] | None = Field(None, description=(
        "module names of the nn.Linear layers made sparse; None: every nn.Linear (but the last when dense_output)"))
    dense_output: bool = Field(True, description=(
        "with layers=None, keep the last nn.Linear in module order (the output layer) dense, as the authors' MLP code"))
    init_std: float | None = Field(0.1, gt=0, description=(
        "standard deviation of the normal draw the sparse layers' surviving weights start from (the authors' "
        "sparse implementation: 0.1, whatever the layer size); None keeps the layer's own initialisation, which "
        "for a dense fan-in is far too small for a layer with a few dozen inputs per neuron"))
    regrow_init: Literal["zero", "normal"] = Field("zero", description=(
        "value of a new connection: zero (the authors' Keras code for the MLP experiments) or a draw from "
        "N(0, 0.1^2) (their sparse-matrix implementation's initial weights)"))


# --- the functional core -------------------------------------------------------------------------------


def erdos_renyi_density(n_in: int, n_out: int, epsilon: float) -> float:
    """Eq. (1): the probability of a connection between the n_in and n_out neurons of a sparse layer,
    eps (n_in + n_out) / (n_in n_out), so the layer holds about eps (n_in + n_out) connections (capped at 1)."""
    return min(1.0, epsilon * (n_in + n_out) / (n_in * n_out))


def sparse_layers(model: nn.Module, names: list[str] | None = None, dense_output: bool = True) -> dict[str, nn.Linear]:
    """{module name: nn.Linear} of the layers SET makes sparse: `names`, or every nn.Linear (outside
    nn.MultiheadAttention, which reads its weights directly) but the last one when dense_output."""
    modules = dict(model.named_modules())
    if names is not None:
        return {name: modules[name] for name in names}
    inside_attention = {id(child) for module in modules.values() if isinstance(module, nn.MultiheadAttention)
                        for child in module.modules()}
    found = {name: m for name, m in modules.items() if isinstance(m, nn.Linear) and id(m) not in inside_attention}
    if dense_output and found:
        found.pop(next(reversed(found)))
    return found


def masked_layers(model: nn.Module) -> dict[str, nn.Module]:
    """{module name: module} of the layers that carry a SET mask."""
    return {name: m for name, m in model.named_modules() if hasattr(m, TENSOR + "_mask")}


@torch.no_grad()
def attach_erdos_renyi_masks(model: nn.Module, layers: dict[str, nn.Module], epsilon: float,
                             init_std: float | None = None, generator: torch.Generator | None = None) -> None:
    """Make each layer an Erdos-Renyi random bipartite graph: every weight is kept with probability
    erdos_renyi_density(n_in, n_out, epsilon) (torch.nn.utils.prune.custom_from_mask; weight_orig stays
    the layer's own Parameter) and the removed weights are zeroed in weight_orig too. init_std: the kept
    weights are drawn anew from N(0, init_std^2) (None: they keep their values)."""
    for module in layers.values():
        if hasattr(module, TENSOR + "_mask"):
            continue
        n_out, n_in = module.weight.shape
        density = erdos_renyi_density(n_in, n_out, epsilon)
        draw = torch.rand(module.weight.shape, generator=generator, device="cpu")
        mask = (draw < density).to(module.weight.dtype).to(module.weight.device)
        if init_std is not None:
            fresh = torch.randn(module.weight.shape, generator=generator, device="cpu") * init_std
            module.weight.copy_(fresh.to(module.weight.device, module.weight.dtype))
        prune.custom_from_mask(module, TENSOR, mask)
        module.weight_orig.mul_(module.weight_mask)


@torch.no_grad()
def evolve(module: nn.Module, zeta: float, generator: torch.Generator, regrow_init: str = "zero") -> torch.Tensor:
    """One step of the paper's Algorithm 1 on a masked layer: remove the fraction zeta of its positive
    weights with the smallest values and of its negative weights with the largest values (and any active
    weight that is exactly zero), then add as many connections at random among the absent ones, so the
    layer keeps its number of connections. Returns the bool tensor of the entries that changed."""
    mask, weight = module.weight_mask, module.weight_orig
    active = mask.bool()
    values = weight[active]
    remove = torch.zeros_like(values, dtype=torch.bool)
    positive, negative = (values > 0).nonzero().squeeze(1), (values < 0).nonzero().squeeze(1)
    k_pos, k_neg = int(zeta * positive.numel()), int(zeta * negative.numel())
    if k_pos:
        remove[positive[values[positive].topk(k_pos, largest=False).indices]] = True
    if k_neg:
        remove[negative[values[negative].topk(k_neg, largest=True).indices]] = True
    remove |= values == 0
    flat_active = active.flatten().nonzero().squeeze(1)
    removed = flat_active[remove]
    new_mask = mask.flatten().clone()
    new_mask[removed] = 0
    absent = (new_mask == 0).nonzero().squeeze(1)
    order = torch.randperm(absent.numel(), generator=generator)[:removed.numel()].to(absent.device)
    added = absent[order]
    new_mask[added] = 1
    new_mask = new_mask.view_as(mask)
    changed = new_mask != mask
    flat_weight = weight.view(-1)
    flat_weight[removed] = 0
    if regrow_init == "normal":
        draw = torch.randn(added.numel(), generator=generator) * REGROW_STD
        flat_weight[added] = draw.to(weight.device, weight.dtype)
    else:
        flat_weight[added] = 0
    mask.copy_(new_mask)
    weight.mul_(mask)
    module.weight = weight * mask
    return changed


@torch.no_grad()
def clear_optimizer_state(optimizer: torch.optim.Optimizer, parameter: torch.Tensor, changed: torch.Tensor) -> None:
    """Zero the optimizer's per-entry state (momentum, moments) of the entries of `parameter` whose
    connection was removed or added: a new connection starts without the history of an old one."""
    state = optimizer.state.get(parameter, {})
    for value in state.values():
        if isinstance(value, torch.Tensor) and value.shape == parameter.shape:
            value[changed] = 0


def active_parameters(model: nn.Module) -> int:
    """Parameters the network really holds: the masked weights count only their connections."""
    total = 0
    for name, p in model.named_parameters():
        module_name, _, leaf = name.rpartition(".")
        module = model.get_submodule(module_name) if module_name else model
        mask = getattr(module, leaf.removesuffix("_orig") + "_mask", None) if leaf.endswith("_orig") else None
        total += int(mask.sum()) if mask is not None else p.numel()
    return total


# --- the method ----------------------------------------------------------------------------------------


class SparseEvolutionaryTraining(Method):
    """SET (Mocanu et al., 2018): sparse Erdos-Renyi Linear layers (prepare), held sparse after every
    step, whose topology evolves at the end of every epoch but the last (remove zeta, regrow at random)."""

    name = "sparse-evolutionary-training"
    Config = SETConfig
    structural = True
    layer_types = (nn.Linear,)
    conflicts = {
        "lottery-ticket": "both hold pruning masks on the same Linear weights (weight_orig * weight_mask); "
                          "one masking scheme per layer",
        "dorefa": "DoReFa's weight quantizer maps an absent (zero) weight to a nonzero level, so removed "
                  "connections would act again",
    }

    def __init__(self, **options):
        super().__init__(**options)
        self._layers: dict[str, nn.Module] = {}
        self.generator = torch.Generator()
        self.rewired: list[dict] = []
        self.epochs_evolved = 0  # the last epoch whose start evolved the topology

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        modules = dict(model.named_modules())
        names = self.config.layers
        if names is not None:
            if not names:
                return "at least one layer in layers= (it is empty)"
            wrong = [n for n in names if not isinstance(modules.get(n), nn.Linear)]
            if wrong:
                return (f"layers= to name nn.Linear modules of the model ({wrong[0]!r} is "
                        f"{type(modules[wrong[0]]).__name__ if wrong[0] in modules else 'not a module of it'})")
        if not sparse_layers(model, names, self.config.dense_output):
            return "an nn.Linear layer besides the output layer (or dense_output=False)"
        return None

    def prepare(self, model) -> None:
        # the global RNG: zoo.train seeds it before preparing, so the graph follows the run's seed
        attach_erdos_renyi_masks(model, sparse_layers(model, self.config.layers, self.config.dense_output),
                                 self.config.epsilon, self.config.init_std)

    def setup(self, run) -> None:
        self._layers = masked_layers(run.model)
        self.generator = torch.Generator().manual_seed(_regrow_seed(run.config.seed))
        self.rewired = []
        self.epochs_evolved = 0

    def after_step(self, run) -> None:
        with torch.no_grad():
            for module in self._layers.values():
                module.weight_orig.mul_(module.weight_mask)

    def transform_batch(self, batch, run):
        # the evolution "after each epoch" is done when the next epoch starts: the last epoch's network is the
        # trained one, and a run resumed (or extended) from an end-of-epoch checkpoint evolves exactly as an
        # uninterrupted run would
        if run.epoch > self.epochs_evolved:
            self.evolve_all(run)
            self.epochs_evolved = run.epoch
        return batch

    def evolve_all(self, run) -> None:
        """Algorithm 1 on every sparse layer, and the optimizer state of the changed entries cleared."""
        if self.config.zeta == 0:
            return
        optimizers = [getattr(o, "optimizer", o) for o in run.optimizers.values()]
        counts = {}
        for name, module in self._layers.items():
            changed = evolve(module, self.config.zeta, self.generator, self.config.regrow_init)
            for optimizer in optimizers:
                clear_optimizer_state(optimizer, module.weight_orig, changed)
            counts[name] = int(changed.sum()) // 2
        self.rewired.append(counts)

    def end(self, run) -> None:
        self._layers = {}

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "epochs_evolved": self.epochs_evolved}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"].to(torch.uint8).cpu())
        self.epochs_evolved = int(state["epochs_evolved"])


def _regrow_seed(seed: int) -> int:
    """The regrowth generator's seed, apart from the run's own random stream."""
    return (int(seed) * 1_000_003 + 7919) % (2**63 - 1)
