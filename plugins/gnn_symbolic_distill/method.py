"""GNN symbolic distillation (Cranmer et al., 2020): L1-sparse edge messages, then symbolic regression of them.

The functional core works on tensors and arrays, without zoo.train:

    message_l1(messages)                       mean over edges of sum_k |m_k|: the L1 term of Sec. 3
    top_components(messages, k)                the k message components of largest std (Sec. 4)
    linear_fit(components, forces)             m_k ~ a_k . F + b_k per component, and its R^2
    force_estimate(components, fit)            F^ = A^+ (m - b): the force the messages encode
    symbolic_law(features, target, names, seed)   gplearn symbolic regression of a force law
    edge_data(model, states, system)           messages, true forces, separations of every edge

`GNNSymbolicDistill` binds it to zoo.train: its `loss` adds l1_weight times the L1 term of the
messages, read with a forward hook on the model's message module (set up in setup, removed in
end). `run(model, task)` is the paper's whole pipeline: train with the penalty, then fit the top
messages to the true forces and distil the force law by symbolic regression.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from zoo.config import Field
from zoo.errors import ConfigTypeError
from zoo.training.method import Method, MethodConfig, MethodMismatchError

__all__ = ["GNNSymbolicDistillConfig", "GNNSymbolicDistill", "DistillResult", "message_l1", "top_components",
           "linear_fit", "force_estimate", "symbolic_law", "edge_data", "distill"]


class GNNSymbolicDistillConfig(MethodConfig):
    l1_weight: float = Field(0.24, ge=0, description=(
        "w in loss = mean |a^ - a| + w * mean over edges of sum_k |m_k|; 0 is the paper's 'standard' model. 0.24 is "
        "the authors' 1e-2 in their normalization (summed absolute errors against 1e-2 * batch * sum|m| / n) at their "
        "batch of 64 graphs of 4 bodies in 2D"))
    message_module: str = Field("edge_model", description=(
        "module path (named_modules) whose output is the edge messages, (..., message_dim)"))
    components: int = Field(2, ge=1, description=(
        "message components analysed in run(): the most significant by std, as many as spatial dimensions"))
    sr_generations: int = Field(10, ge=1, description="generations of the symbolic regression (gplearn) in run()")
    sr_population: int = Field(500, ge=10, description="population of the symbolic regression in run()")
    sr_parsimony: float = Field(0.01, ge=0, description="parsimony coefficient of the symbolic regression")
    seed: int = Field(0, ge=0, description="seed of the symbolic regression")


@dataclass
class DistillResult:
    """What `GNNSymbolicDistill.run` returns: the trained `model` (in place), its zoo.train result
    `train`, and the analysis on the test split: `r2` per top component (linear in the true force),
    `law`, the symbolic expression found for the force along the separation, `law_r2`, its R^2
    against the true law, `stds`, every message component's std (sorted, largest first), and
    `analysis`, everything `distill` returned."""

    model: nn.Module = field(repr=False)
    train: object = field(repr=False)
    r2: list[float] = field(default_factory=list)
    law: str = ""
    law_r2: float = float("nan")
    stds: list[float] = field(default_factory=list, repr=False)
    analysis: dict = field(default_factory=dict, repr=False)


# --- the functional core -------------------------------------------------------------------------------


def message_l1(messages: torch.Tensor) -> torch.Tensor:
    """The L1 term of Sec. 3: sum_k |m_k| per edge, averaged over the edges (all leading axes)."""
    return messages.abs().sum(-1).mean()


def top_components(messages: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices of the k components of largest std over the edges, every component's std)."""
    stds = messages.reshape(-1, messages.shape[-1]).std(0)
    return np.argsort(stds)[::-1][:k].copy(), stds


def linear_fit(components: np.ndarray, forces: np.ndarray) -> dict:
    """Least squares m_k = a_k . F + b_k for each column k of `components` (edges, k) on the true
    forces (edges, d): {"A": (k, d), "b": (k,), "r2": [R^2 per component]} (Sec. 4, Fig. 3)."""
    design = np.concatenate([forces, np.ones((len(forces), 1))], 1)
    coef, *_ = np.linalg.lstsq(design, components, rcond=None)
    predicted = design @ coef
    residual = ((components - predicted) ** 2).sum(0)
    total = ((components - components.mean(0)) ** 2).sum(0)
    return {"A": coef[:-1].T, "b": coef[-1], "r2": list(1 - residual / np.maximum(total, 1e-300))}


def force_estimate(components: np.ndarray, fit: dict) -> np.ndarray:
    """The force the messages encode, F^ = A^+ (m - b), through the linear fit (pseudo-inverse)."""
    return (components - fit["b"]) @ np.linalg.pinv(fit["A"]).T


def r_squared(predicted: np.ndarray, target: np.ndarray) -> float:
    return float(1 - ((target - predicted) ** 2).sum() / max(((target - target.mean()) ** 2).sum(), 1e-300))


def symbolic_law(features: np.ndarray, target: np.ndarray, names: list[str], *, generations: int = 20,
                 population: int = 1000, parsimony: float = 0.01, seed: int = 0):
    """Symbolic regression (gplearn's genetic programming over +, -, *, /) of target(features):
    (the fitted SymbolicRegressor, its expression with the feature names)."""
    from gplearn.genetic import SymbolicRegressor

    regressor = SymbolicRegressor(population_size=population, generations=generations,
                                  function_set=("add", "sub", "mul", "div"), parsimony_coefficient=parsimony,
                                  metric="mse", random_state=seed, n_jobs=1, verbose=0)
    regressor.fit(features, target)
    expression = str(regressor._program)
    for index in reversed(range(len(names))):  # X10 before X1
        expression = expression.replace(f"X{index}", names[index])
    return regressor, expression


@torch.no_grad()
def edge_data(model: nn.Module, states: torch.Tensor, system: str, module: str = "edge_model") -> dict:
    """Every edge of `states` (batch, n, 6): its message (the output of `module`), the true force on
    the receiver from the sender, their separation r and the bodies' charges and masses."""
    from .data import pair_forces

    n = states.shape[1]
    receiver, sender = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    keep = receiver != sender
    receiver, sender = receiver[keep], sender[keep]
    captured = []
    handle = dict(model.named_modules())[module].register_forward_hook(
        lambda _m, _i, output: captured.append(output.detach()))
    training = model.training
    try:
        model.eval()
        model(states)
    finally:
        handle.remove()
        model.train(training)
    messages = captured[0].reshape(-1, captured[0].shape[-1]).double().numpy()
    r_i, s_j = states[:, receiver].double().numpy(), states[:, sender].double().numpy()
    delta = r_i[..., :2] - s_j[..., :2]
    return {"messages": messages, "forces": pair_forces(system, r_i, s_j).reshape(-1, 2),
            "delta": delta.reshape(-1, 2), "r": np.sqrt((delta ** 2).sum(-1)).reshape(-1),
            "q_i": r_i[..., 4].reshape(-1), "q_j": s_j[..., 4].reshape(-1),
            "m_i": r_i[..., 5].reshape(-1), "m_j": s_j[..., 5].reshape(-1)}


def distill(edges: dict, system: str, *, components: int = 2, fit_edges: int = 1000, **sr_options) -> dict:
    """The paper's analysis on edge data: the top message components fitted linearly to the true
    forces (R^2), then symbolic regression of the encoded force along the separation,
    f = F^ . r_hat, over (r, q_i, q_j, m_i, m_j) on `fit_edges` edges, judged against the true law
    on all of them."""
    from .data import radial_force

    top, stds = top_components(edges["messages"], components)
    chosen = edges["messages"][:, top]
    fit = linear_fit(chosen, edges["forces"])
    unit = edges["delta"] / np.maximum(edges["r"], 1e-12)[:, None]
    encoded = (force_estimate(chosen, fit) * unit).sum(1)
    names = ["r", "q_i", "q_j", "m_i", "m_j"]
    features = np.stack([edges[k] for k in names], 1)
    rng = np.random.default_rng(sr_options.get("seed", 0))
    subset = rng.permutation(len(features))[:fit_edges]
    regressor, law = symbolic_law(features[subset], encoded[subset], names, **sr_options)
    truth = radial_force(system, edges["r"], edges["q_i"], edges["q_j"], edges["m_i"], edges["m_j"])
    return {"top": top.tolist(), "stds": sorted(stds.tolist(), reverse=True), "r2": [float(v) for v in fit["r2"]],
            "law": law, "law_r2": r_squared(regressor.predict(features), truth),
            "encoded_r2": r_squared(encoded, truth)}


# --- the method ----------------------------------------------------------------------------------------


class GNNSymbolicDistill(Method):
    """L1-sparse messages for symbolic distillation (Cranmer et al., 2020). In zoo.train: adds
    l1_weight * mean_edges sum_k |m_k| to the loss, m the output of `message_module`. As a procedure,
    `run(model, task)`: that training, then the linear fit of the top messages to the true forces
    and the symbolic regression of the force law (tasks nbody/<system> of this plugin)."""

    name = "gnn-symbolic-distill"
    Config = GNNSymbolicDistillConfig

    def __init__(self, **options):
        super().__init__(**options)
        self._handle = None
        self._messages = None

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        module = dict(model.named_modules()).get(self.config.message_module)
        if module is None:
            return (f"a module named {self.config.message_module!r} whose output is the edge messages (the graph "
                    f"network of zoo.create('nbody-gn') has 'edge_model'; set message_module= for another model)")
        return None

    def setup(self, run) -> None:
        module = dict(run.model.named_modules())[self.config.message_module]
        self._handle = module.register_forward_hook(self._keep)

    def _keep(self, _module, _inputs, output) -> None:
        self._messages = output

    def loss(self, terms: dict, output, batch, run) -> dict:
        if self._messages is None:
            raise MethodMismatchError(f"method {self.name!r}: module {self.config.message_module!r} was not called "
                                      f"in the forward pass, so there are no messages to penalise")
        penalty = self.config.l1_weight * message_l1(self._messages)
        self._messages = None
        return {**terms, "messages_l1": penalty}

    def end(self, run) -> None:
        if self._handle is not None:
            self._handle.remove()
        self._handle, self._messages = None, None

    def run(self, model, task, *, out_dir=None, resume: bool = False, overwrite: bool = False,
            **train_options) -> DistillResult:
        """Train `model` on `task` with the penalty (the zoo.train run "train"; with out_dir, resume=True
        continues it), then analyse its messages on the test split (see `distill`). The task must
        be an n-body task of this plugin (nbody/<system>), whose law the analysis compares with."""
        from zoo.training.data import as_task
        from zoo.training.procedure import Stages

        if not isinstance(model, nn.Module):
            raise ConfigTypeError(f"gnn-symbolic-distill trains a torch nn.Module, got {type(model).__name__}")
        task = as_task(task)
        system = task.info.extra.get("system") if hasattr(task, "info") else None
        if system is None:
            raise MethodMismatchError(f"method {self.name!r}: run() needs an n-body task of this plugin (nbody/spring, "
                                      f"nbody/r1, nbody/r2, nbody/charge), whose force law it distils; task "
                                      f"{getattr(task, 'name', task)!r} has none")
        with Stages(out_dir, resume, procedure=self, overwrite=overwrite) as stages:
            trained = stages.train("train", model, task, methods=[self], **train_options)
        states = task.splits()["test"].tensors[0]
        analysis = distill(edge_data(model, states, system, self.config.message_module), system,
                           components=self.config.components, generations=self.config.sr_generations,
                           population=self.config.sr_population, parsimony=self.config.sr_parsimony,
                           seed=self.config.seed)
        return DistillResult(model=model, train=trained, r2=analysis["r2"], law=analysis["law"],
                             law_r2=analysis["law_r2"], stds=analysis["stds"], analysis=analysis)
