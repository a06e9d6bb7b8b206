"""Deeply-supervised nets: companion classifiers on hidden layers and their losses (Eq. 3-5).

The functional core works on any model and tensors without zoo.train:

    layers = hidden_layers(model, inputs)                 # the model's hidden blocks (default choice)
    attach_companions(model, layers, inputs)              # one linear classifier w^(m) per layer
    ...                                                   # forward hooks read Z^(m) during training
    value = companion_objective(head(z.flatten(1)), y)    # l(W, w^(m)) of Eq. 5 (or softmax)
    term = companion_weight(0.1, epoch, epochs) * torch.relu(value - gamma)   # alpha_m [ . - gamma]_+

`DeeplySupervisedNets` binds them to zoo.train's events: `prepare` attaches the heads (a structural
change, saved with the model), `setup` hooks the layers, `loss` adds one named term per companion
("companion/<layer>") and, optionally, replaces the task's output loss by the squared hinge of
Eq. 4.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from zoo.config import Field
from zoo.training.method import Method, MethodConfig, MethodMismatchError

__all__ = ["DSNConfig", "DeeplySupervisedNets", "Companions", "squared_hinge_loss", "companion_objective",
           "companion_weight", "hidden_layers", "attach_companions", "ATTRIBUTE"]

ATTRIBUTE = "dsn_companions"  # where the heads live on the model (saved in its state dict under this name)
LOSS_KINDS = ("hinge", "hinge-ova", "softmax")


class DSNConfig(MethodConfig):
    """Options of deeply-supervised nets; defaults from the paper where it gives one."""

    alpha: float = Field(0.1, ge=0, description="weight alpha_m of every companion objective at the start of "
                                                "training (Eq. 3)")
    gamma: float = Field(0.0, ge=0, description="threshold: a companion counts as alpha_m [value - gamma]_+ and "
                                                "stops acting once its value falls to gamma (Eq. 3); 0: always on")
    decay: Literal["linear", "none"] = Field("linear", description="'linear': alpha_m (1 - t/N) at epoch t of N, "
                                             "as the paper decays the companions; 'none': constant alpha_m")
    decay_epochs: int | None = Field(None, ge=1, description="N of the decay: the companions are off from epoch N "
                                     "on; None: the run's epochs")
    loss: Literal["hinge", "hinge-ova", "softmax"] = Field(
        "hinge", description="companion loss: 'hinge' the squared hinge of Eq. 5 (margin between the true class "
                             "and each other class), 'hinge-ova' the one-vs-all squared hinge of the authors' Caffe "
                             "layer, 'softmax' cross entropy (the paper's DSN-Softmax)")
    output_loss: Literal["task", "hinge", "hinge-ova"] = Field(
        "task", description="output-layer loss: 'task' keeps the task's (cross entropy: DSN-Softmax); 'hinge' "
                            "replaces it by the squared hinge of Eq. 4 (the paper's DSN-SVM), 'hinge-ova' by the "
                            "one-vs-all form")
    head_norm: float = Field(0.0, ge=0, description="coefficient of ||w^(m)||^2 inside each companion objective "
                                                    "(Eq. 3); 0 leaves the heads' norm to the optimizer's "
                                                    "weight decay")
    layers: list[str] | None = Field(None, description="module paths of the hidden layers that get a companion; "
                                                       "None: every hidden block of the model's outermost "
                                                       "sequence of blocks, found by a forward pass")


# --- losses (Eq. 4, 5) and the weight schedule ---------------------------------------------------------


def squared_hinge_loss(scores: torch.Tensor, targets: torch.Tensor, *, pairwise: bool = True) -> torch.Tensor:
    """Mean over the batch of the multi-class squared hinge loss of Eq. 4/5.

    pairwise (the paper's equations): sum over k != y of [1 - (s_y - s_k)]_+^2, with s = <w, phi(Z, .)>
    the class scores. pairwise=False: the one-vs-all form of the authors' Caffe layer,
    sum over k of [1 - t_k s_k]_+^2 with t_k = +1 for the true class and -1 for the others.
    """
    if scores.dim() != 2:
        raise ValueError(f"squared_hinge_loss expects scores of shape (batch, classes), got {tuple(scores.shape)}")
    targets = targets.long()
    true = scores.gather(1, targets.unsqueeze(1))
    if pairwise:
        violations = torch.relu(1.0 - (true - scores)) ** 2
        others = torch.ones_like(scores).scatter_(1, targets.unsqueeze(1), 0.0)  # the sum runs over k != y
        return (violations * others).sum(1).mean()
    signs = torch.full_like(scores, -1.0).scatter_(1, targets.unsqueeze(1), 1.0)
    return (torch.relu(1.0 - signs * scores) ** 2).sum(1).mean()


def companion_objective(scores: torch.Tensor, targets: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    """l(W, w^(m)) of a companion classifier's class scores (Eq. 5, or cross entropy for 'softmax')."""
    if kind == "hinge":
        return squared_hinge_loss(scores, targets, pairwise=True)
    if kind == "hinge-ova":
        return squared_hinge_loss(scores, targets, pairwise=False)
    if kind == "softmax":
        return nn.functional.cross_entropy(scores, targets.long())
    raise ValueError(f"companion loss kind must be one of {LOSS_KINDS}, got {kind!r}")


def companion_weight(alpha: float, epoch: int, epochs: int, decay: str = "linear") -> float:
    """alpha_m at epoch `epoch` (0-based) of `epochs`: alpha (1 - t/N) for 'linear' (0 from epoch N
    on), alpha for 'none'."""
    if decay == "none":
        return float(alpha)
    return float(alpha) * max(0.0, 1.0 - epoch / epochs)


# --- finding hidden layers and attaching the companion classifiers ------------------------------------


def _first_tensor(value):
    """The tensor a layer outputs (the first one, for layers that return tuples)."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    return None


class _Probe:
    """One forward pass of `model` on `inputs` that leaves the model as it was: evaluation mode (no
    dropout draw, no batch-norm statistics update), no gradients, and the global RNG restored."""

    def __init__(self, model: nn.Module, inputs: tuple):
        self.model, self.inputs = model, inputs

    def run(self, watched: dict[str, nn.Module]):
        """(model output, {path: (output, completion order)} of the watched modules that ran, the last
        completion order of any module holding parameters)."""
        seen: dict[str, tuple[torch.Tensor, int]] = {}
        order = [0, -1]  # [counter, last completion of a module with its own parameters]

        def watch(path):
            def hook(module, args, output):
                order[0] += 1
                tensor = _first_tensor(output)
                if tensor is not None:
                    seen[path] = (tensor, order[0])
            return hook

        def count(module, args, output):
            order[0] += 1
            order[1] = order[0]

        model = self.model
        # counted before watched: a watched layer with parameters of its own is not "run after itself"
        handles = [m.register_forward_hook(count) for path, m in model.named_modules()
                   if next(m.parameters(recurse=False), None) is not None and not path.startswith(ATTRIBUTE)]
        handles += [m.register_forward_hook(watch(p)) for p, m in watched.items()]
        modes = {m: m.training for m in model.modules()}
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        inputs = tuple(x.to(device) if isinstance(x, torch.Tensor) else x for x in self.inputs)
        try:
            model.eval()
            with torch.random.fork_rng(devices=[]), torch.no_grad():
                output = model(*inputs)
        finally:
            for handle in handles:
                handle.remove()
            for module, mode in modes.items():
                module.training = mode
        return output, seen, order[1]


def _blocks(container: nn.Module, prefix: str) -> list[str]:
    """The read-out paths of a sequence's blocks: each child that holds parameters starts a block,
    and the parameter-free children after it (activation, pooling, dropout) belong to it, so a block
    is read where it ends."""
    ends, started = [], False
    for name, child in container.named_children():
        path = f"{prefix}.{name}" if prefix else name
        if path == ATTRIBUTE:
            continue
        if next(child.parameters(), None) is not None:
            ends.append(path)
            started = True
        elif started:
            ends[-1] = path
    return ends


def hidden_layers(model: nn.Module, inputs: tuple) -> list[str]:
    """The default layers for companions: the hidden blocks of the model's outermost sequence
    (nn.Sequential or nn.ModuleList) that has at least two of them, else of the one with the most.
    A block is hidden when a layer with parameters runs after it in the forward pass (the output
    layer is not hidden). Deterministic: module order breaks ties. [] when there is none."""
    candidates = [(path, module) for path, module in model.named_modules()
                  if isinstance(module, (nn.Sequential, nn.ModuleList)) and not path.startswith(ATTRIBUTE)]
    reads = {path: _blocks(module, path) for path, module in candidates}
    watched = {p: model.get_submodule(p) for ends in reads.values() for p in ends}
    _, seen, last_parametrized = _Probe(model, inputs).run(watched)
    best: list[str] = []
    best_rank = None
    for path, _ in candidates:
        hidden = [p for p in reads[path] if p in seen and seen[p][1] < last_parametrized]
        if not hidden:
            continue
        depth = path.count(".") + 1 if path else 0
        # sequences of two or more hidden blocks first, the outermost of them; else the most blocks
        rank = (0, depth) if len(hidden) >= 2 else (1, -len(hidden))
        if best_rank is None or rank < best_rank:
            best, best_rank = hidden, rank
    return best


class Companions(nn.Module):
    """The companion classifiers w^(m): one linear map per hidden layer, from the layer's flattened
    output Z^(m) to class scores. `layers` names the hidden layer of each head, in order.

    The heads do not act in the model's forward pass (they read hooked hidden outputs in the loss):
    calling this module is the identity, so a model that is an nn.Sequential computes what it did."""

    def __init__(self, layers: list[str], features: list[int], classes: int):
        super().__init__()
        self.layers = list(layers)
        self.heads = nn.ModuleList(nn.Linear(n, classes) for n in features)

    def forward(self, x):
        return x

    def scores(self, index: int, hidden: torch.Tensor) -> torch.Tensor:
        """Class scores <w^(m), Z^(m)> of head `index` for the hidden output `hidden`."""
        return self.heads[index](hidden.flatten(1))

    def extra_repr(self) -> str:
        return f"layers={self.layers}"


def attach_companions(model: nn.Module, layers: list[str], inputs: tuple) -> Companions:
    """Attach one companion classifier per layer of `layers` to `model` (as ``model.dsn_companions``),
    sized by a forward pass on `inputs` (the hidden sizes and the number of classes, the model's
    last output dimension). Heads start Xavier-uniform with zero bias, as the authors' companion
    layers, drawn without moving the global RNG. The model's own parameters are untouched."""
    modules = {path: model.get_submodule(path) for path in layers}
    output, seen, _ = _Probe(model, inputs).run(modules)
    missing = [p for p in layers if p not in seen]
    if missing:
        raise MethodMismatchError(f"layers {missing} did not output a tensor in a forward pass of the model")
    scores = _first_tensor(output)
    if scores is None or scores.dim() != 2:
        shape = tuple(scores.shape) if scores is not None else type(output).__name__
        raise MethodMismatchError(f"deeply-supervised nets need a model whose output is (batch, classes) scores, "
                                  f"got {shape}")
    features = []
    for path in layers:
        hidden = seen[path][0]
        if hidden.dim() < 2:
            raise MethodMismatchError(f"layer {path!r} outputs {tuple(hidden.shape)}: a companion classifier needs "
                                      f"(batch, features...)")
        features.append(hidden[0].numel())
    sample = seen[layers[0]][0]
    with torch.random.fork_rng(devices=[]):
        companions = Companions(layers, features, scores.shape[1])
        for head in companions.heads:
            nn.init.xavier_uniform_(head.weight)
            nn.init.zeros_(head.bias)
    companions.to(device=sample.device, dtype=sample.dtype if sample.is_floating_point() else None)
    setattr(model, ATTRIBUTE, companions)
    return companions


# --- the method --------------------------------------------------------------------------------------


def _example_batch(task) -> tuple | None:
    """Model inputs for two training samples of `task` (to size the heads), or None."""
    split = task.splits().get("train") if hasattr(task, "splits") else None
    if split is None or not hasattr(split, "__getitem__") or not hasattr(split, "__len__") or len(split) == 0:
        return None
    count = min(2, len(split))
    if getattr(split, "batched_indexing", False):
        batch = split[list(range(count))]
    else:
        from torch.utils.data import default_collate

        batch = default_collate([split[i] for i in range(count)])
    return tuple(task.inputs(batch))


def _spec_inputs(model) -> tuple | None:
    """Example inputs a zoo model's plugin provides (when zoo.load re-applies the method)."""
    identity = getattr(model, "zoo_identity", None)
    if identity is None:
        return None
    from zoo.registry import default_registry

    spec = default_registry().model_spec(identity.architecture)
    if spec.example_inputs is None:
        return None
    with torch.random.fork_rng(devices=[]):
        return tuple(spec.example_inputs(identity.config, 2))


def _module_paths(model: nn.Module) -> list[str]:
    return [p for p, _ in model.named_modules() if p and not p.startswith(ATTRIBUTE)]


class DeeplySupervisedNets(Method):
    """Deeply-supervised nets (Lee et al., 2015): a companion classifier on each hidden layer and
    the total loss of Eq. 3, output loss + sum_m alpha_m [companion_m - gamma]_+, with alpha_m
    decaying over training. Structural: the heads are part of the model and saved with it."""

    name = "deeply-supervised-nets"
    Config = DSNConfig
    structural = True
    task_kinds = ("classification",)

    def __init__(self, **options):
        super().__init__(**options)
        self._inputs: tuple | None = None  # example inputs of the task being checked (to size the heads)
        self._handles: list = []
        self._hidden: dict[str, torch.Tensor] = {}
        self.active_steps = torch.zeros(0, dtype=torch.int64)

    # --- needs ---------------------------------------------------------------------------------------

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        if self.config.output_loss != "task" and callable(getattr(task, "loss_terms", None)):
            return (f"a task with one output loss for output_loss={self.config.output_loss!r} (task "
                    f"{getattr(task, 'name', task)!r} has several loss terms)")
        self._inputs = _example_batch(task)
        if isinstance(getattr(model, ATTRIBUTE, None), Companions):
            return None  # the model carries its heads already (zoo.load); apply_structural compares the options
        if self._inputs is None:
            return "a task whose training split gives example inputs (to size the companion classifiers)"
        paths = _module_paths(model)
        if self.config.layers is not None:
            unknown = [p for p in self.config.layers if p not in paths]
            if unknown:
                shown = ", ".join(paths[:40]) + (f", ... ({len(paths) - 40} more)" if len(paths) > 40 else "")
                from zoo.errors import did_you_mean

                return (f"the hidden layer {unknown[0]!r}, which the model does not have.{did_you_mean(unknown[0], paths)}"
                        f" Its module paths: {shown}")
            if len(set(self.config.layers)) != len(self.config.layers):
                return f"each of layers={self.config.layers} once"
            if not self.config.layers:
                return "at least one hidden layer in layers= (it is empty)"
        if self.config.layers is None and not hidden_layers(model, self._inputs):
            return ("hidden blocks to attach companions to: no nn.Sequential or nn.ModuleList of blocks with a "
                    "layer after them was found; name them with layers=[...]")
        return None

    # --- the structural change ------------------------------------------------------------------------

    def prepare(self, model) -> None:
        inputs = self._inputs if self._inputs is not None else _spec_inputs(model)
        if inputs is None:
            raise MethodMismatchError(f"method {self.name!r} sizes its companion classifiers by a forward pass, "
                                      f"and model {type(model).__name__} has no example inputs: train it with "
                                      f"zoo.train (the task gives them) or call attach_companions(model, layers, "
                                      f"inputs)")
        layers = list(self.config.layers) if self.config.layers is not None else hidden_layers(model, inputs)
        existing = getattr(model, ATTRIBUTE, None)
        if isinstance(existing, Companions) and existing.layers == layers:
            return  # heads attached earlier (attach_companions) are kept, with their trained weights
        attach_companions(model, layers, inputs)

    # --- the run -------------------------------------------------------------------------------------

    def setup(self, run) -> None:
        companions = getattr(run.model, ATTRIBUTE, None)
        if not isinstance(companions, Companions):
            raise MethodMismatchError(f"method {self.name!r}: the model has no companion classifiers "
                                      f"(model.{ATTRIBUTE}); it is applied by zoo.train before the run")
        self.companions = companions
        self.active_steps = torch.zeros(len(companions.layers), dtype=torch.int64)
        self._hidden = {}
        for path in companions.layers:
            self._handles.append(run.model.get_submodule(path).register_forward_hook(self._keeper(path)))

    def _keeper(self, path: str):
        def keep(module, args, output):
            if torch.is_grad_enabled():  # training forward passes only; evaluation keeps nothing
                self._hidden[path] = _first_tensor(output)
        return keep

    def weight(self, run) -> float:
        """alpha_m at the run's current epoch."""
        epochs = self.config.decay_epochs or run.config.epochs
        return companion_weight(self.config.alpha, run.epoch, epochs, self.config.decay)

    def loss(self, terms: dict, output, batch, run) -> dict:
        terms = dict(terms)
        targets = run.task.targets(batch)
        config = self.config
        if config.output_loss != "task":
            scores = _first_tensor(output)
            terms["task"] = squared_hinge_loss(scores, targets, pairwise=config.output_loss == "hinge")
        alpha = self.weight(run)
        for index, path in enumerate(self.companions.layers):
            hidden = self._hidden.pop(path, None)
            if hidden is None:
                raise MethodMismatchError(f"method {self.name!r}: layer {path!r} did not run in the forward pass, "
                                          f"so its companion has no input")
            head = self.companions.heads[index]
            value = companion_objective(self.companions.scores(index, hidden), targets, config.loss)
            if config.head_norm:
                value = value + config.head_norm * head.weight.pow(2).sum()
            above = torch.relu(value - config.gamma)  # Eq. 3: no gradient once the companion is at gamma
            if alpha > 0 and bool(above.detach() > 0):
                self.active_steps[index] += 1
            terms[f"companion/{path}"] = alpha * above
        return terms

    def end(self, run) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles, self._hidden = [], {}

    def state_dict(self) -> dict:
        return {"active_steps": self.active_steps}

    def load_state_dict(self, state: dict) -> None:
        self.active_steps.copy_(torch.as_tensor(state["active_steps"]))
