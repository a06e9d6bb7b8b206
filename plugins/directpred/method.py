"""DirectPred (Tian, Chen & Ganguli, 2021): BYOL with a linear predictor set from its input's statistics.

The functional core acts on tensors and modules, without zoo.train:

    F = update_correlation(F, z, rho)             # Eq. 19: F <- rho F + (1 - rho) E_B[z z^T]
    W_p = direct_predictor(F, eps)                # Eq. 18: F = U diag(s) U^T, W_p = U diag(p) U^T,
                                                  #         p_j = sqrt(s_j / max_k s_k) + eps
    loss = byol_loss(p_online, z_target)          # 2 - 2 cos(p, sg(z')), the normalised MSE (Eq. 1)
    ema_update(target, online, tau)               # target <- tau target + (1 - tau) online
    effective_rank(z)                             # exp(entropy of the normalised singular values)

`DirectPred` binds it to zoo.train as an update rule (slot "update-rule", no end-to-end labels): the
user's model is the online encoder; the method owns the projector (Linear-BN-ReLU-Linear), the
predictor (direct: set every `freq` steps with no gradient; linear: trained by gradient, the paper's
baseline; none: the identity, the collapsing ablation) and the target network (EMA copies of encoder
and projector). Each step draws two augmented views (augment.py) with a generator the method owns,
computes the symmetrised loss, steps the run's optimizer (encoder + projector [+ linear predictor]),
then updates the target (EMA) and, for direct, F and W_p.
"""

from __future__ import annotations

import copy
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from zoo.config import Field
from zoo.tasks import Task, TaskInfo
from zoo.training.method import Method, MethodConfig

from .augment import augment

__all__ = ["DirectPredConfig", "DirectPred", "update_correlation", "direct_predictor", "byol_loss", "ema_update",
           "effective_rank", "make_projector", "unlabeled", "features"]


class DirectPredConfig(MethodConfig):
    predictor: Literal["direct", "linear", "none"] = Field("direct", description=(
        "direct: W_p set from the correlation of its input (DirectPred, Eq. 18); linear: a linear predictor "
        "trained by gradient (the paper's baseline); none: no predictor (the ablation that collapses)"))
    rho: float = Field(0.3, ge=0, lt=1, description="rho of the running correlation F (Eq. 19; the authors' runs: 0.3)")
    eps: float = Field(0.01, ge=0, description="eps added to each p_j (Eq. 18; the authors' runs: 0.01)")
    freq: int = Field(1, ge=1, description="recompute W_p every this many steps (the authors' STL-10 runs: 1)")
    ema: float = Field(0.996, ge=0, le=1, description="tau of the target network's moving average (BYOL: 0.996)")
    projector_hidden: int = Field(512, ge=1, le=65536, description="hidden width of the projector (paper: 512)")
    projection_dim: int = Field(128, ge=1, le=65536, description="projector output = predictor size (paper: 128)")
    shift: int = Field(1, ge=0, le=16, description="largest random translation of a view, in pixels")
    cutout: int = Field(3, ge=0, le=64, description="side of the square zeroed in a view (0: none)")
    cutout_prob: float = Field(0.5, ge=0, le=1, description="probability of the cutout square")
    noise: float = Field(0.1, ge=0, description="std of the Gaussian noise added to a view")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the views and of the method's own layers")


# --- the functional core -------------------------------------------------------------------------------


def update_correlation(corr: torch.Tensor, z: torch.Tensor, rho: float) -> torch.Tensor:
    """Eq. 19: rho F + (1 - rho) E_B[z z^T] over the batch's predictor inputs z (no gradient)."""
    z = z.detach()
    return rho * corr + (1 - rho) * (z.T @ z) / z.shape[0]


def direct_predictor(corr: torch.Tensor, eps: float) -> torch.Tensor:
    """Eq. 18: W_p = U diag(p) U^T with F = U diag(s) U^T and p_j = sqrt(s_j / max s) + eps; negative
    eigenvalues (round-off of a PSD matrix) count as 0."""
    s, u = torch.linalg.eigh(corr)
    s = s.clamp(min=0)
    top = s.max()
    p = (s / top).sqrt() + eps if top > 0 else torch.full_like(s, eps)
    return (u * p) @ u.T


def byol_loss(online: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Normalised MSE ||p/|p| - z'/|z'|||^2 = 2 - 2 cos(p, z'), batch mean; the target carries no gradient."""
    return (2 - 2 * F.cosine_similarity(online, target.detach(), dim=-1)).mean()


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """target <- tau target + (1 - tau) online, parameters and floating buffers (BN statistics)."""
    for t, o in zip(target.parameters(), online.parameters()):
        t.mul_(tau).add_(o.detach(), alpha=1 - tau)
    for t, o in zip(target.buffers(), online.buffers()):
        if t.is_floating_point():
            t.mul_(tau).add_(o, alpha=1 - tau)
        else:
            t.copy_(o)


def effective_rank(z: torch.Tensor) -> float:
    """exp(H(sigma / sum sigma)) of the centred embeddings' singular values: d for an isotropic
    embedding, 1 for a collapse onto a line (0 variance: 0)."""
    z = z.detach().double()
    sigma = torch.linalg.svdvals(z - z.mean(0))
    if float(sigma.sum()) == 0:
        return 0.0
    q = sigma / sigma.sum()
    q = q[q > 0]
    return float(torch.exp(-(q * q.log()).sum()))


def make_projector(in_dim: int, hidden: int, out: int) -> nn.Module:
    """BYOL's projector g: Linear - BatchNorm - ReLU - Linear."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, out))


@torch.no_grad()
def features(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """The model's (encoder's) outputs, flattened, in eval mode."""
    was = model.training
    model.eval()
    try:
        return torch.cat([model(x[i:i + batch_size]).flatten(1) for i in range(0, len(x), batch_size)])
    finally:
        model.train(was)


class _Unlabeled(Task):
    """A task's splits read as inputs only: no loss, no metrics (self-supervised training)."""

    def __init__(self, base: Task):
        self.base, self.name, self.kind = base, f"{base.name}-unlabeled", "self-supervised"
        self.info = TaskInfo(kind="self-supervised", input_shape=base.info.input_shape, output_dim=base.info.output_dim,
                             num_classes=base.info.num_classes, extra=dict(base.info.extra))

    def splits(self):
        return self.base.splits()

    def inputs(self, batch):
        return self.base.inputs(batch)

    def targets(self, batch):
        return self.base.targets(batch)


def unlabeled(task) -> Task:
    """`task` (a name or Task) without its labels, for zoo.train with DirectPred: the encoder's output
    is a representation, not class scores, so the task's loss and metrics must not be applied."""
    from zoo.training.data import as_task

    return _Unlabeled(as_task(task))


# --- the method ----------------------------------------------------------------------------------------


def _first_inputs(task) -> torch.Tensor:
    split = task.splits()["train"]
    batch = split[[0, 1]] if getattr(split, "batched_indexing", False) else \
        torch.utils.data.default_collate([split[0], split[1]])
    return task.inputs(batch)[0]


class DirectPred(Method):
    """BYOL with a DirectPred predictor (Tian, Chen & Ganguli, 2021), an update rule on any encoder."""

    name = "directpred"
    Config = DirectPredConfig

    def __init__(self, **options):
        super().__init__(**options)
        self.projector = self.predictor = self.target = None
        self.corr = None
        self.steps = 0
        self.generator = torch.Generator().manual_seed(self.config.seed)

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        if not any(p.requires_grad for p in model.parameters()):
            return "an encoder with trainable parameters"
        if getattr(task, "kind", None) == "classification" and getattr(task.info, "num_classes", None):
            try:
                with torch.no_grad():
                    width = model.eval()(_first_inputs(task).to(next(model.parameters()).device)).flatten(1).shape[1]
                model.train()
            except Exception:  # noqa: BLE001 - a model that cannot read the inputs fails in zoo.train's own check
                return None
            if width != task.info.num_classes:
                return (f"a task without labels (the encoder gives {width} features, not class scores): pass "
                        f"zoo_plugins.directpred.unlabeled({task.name!r})")
        return None

    def setup(self, run) -> None:
        cfg, device = self.config, run.device
        x = _first_inputs(run.task).to(device)
        model = run.model
        was = model.training
        model.eval()
        with torch.no_grad():
            width = model(x).flatten(1).shape[1]
        model.train(was)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed + 1)
            self.projector = make_projector(width, cfg.projector_hidden, cfg.projection_dim).to(device)
            self.predictor = nn.Linear(cfg.projection_dim, cfg.projection_dim, bias=False).to(device)
        if cfg.predictor != "linear":
            self.predictor.weight.requires_grad_(False)
        if cfg.predictor == "none":
            with torch.no_grad():
                self.predictor.weight.copy_(torch.eye(cfg.projection_dim))
        self.target = nn.ModuleDict({"encoder": copy.deepcopy(model), "projector": copy.deepcopy(self.projector)})
        self.target.requires_grad_(False)
        self.corr = torch.zeros(cfg.projection_dim, cfg.projection_dim, device=device)
        self.steps = 0

    def parameters(self) -> list:
        params = list(self.projector.parameters())
        if self.config.predictor == "linear":
            params.append(self.predictor.weight)
        return params

    def training_step(self, batch, run) -> dict:
        cfg, model = self.config, run.model
        x = run.task.inputs(batch)[0]
        views = [augment(x, self.generator, shift=cfg.shift, cutout=cfg.cutout, cutout_prob=cfg.cutout_prob,
                         noise=cfg.noise) for _ in range(2)]
        online = self.projector(model(torch.cat(views)).flatten(1))  # both views in one batch (BN over 2N)
        predicted = self.predictor(online)
        with torch.no_grad():
            target = self.target["projector"](self.target["encoder"](torch.cat(views)).flatten(1))
        n = x.shape[0]
        loss = 0.5 * (byol_loss(predicted[:n], target[n:]) + byol_loss(predicted[n:], target[:n]))
        run.backward(loss)
        run.step()
        ema_update(self.target["encoder"], model, cfg.ema)
        ema_update(self.target["projector"], self.projector, cfg.ema)
        self.steps += 1
        if cfg.predictor == "direct":
            self.corr = update_correlation(self.corr, online, cfg.rho)
            if self.steps % cfg.freq == 0:
                with torch.no_grad():
                    self.predictor.weight.copy_(direct_predictor(self.corr, cfg.eps))
        return {"loss": loss.detach()}

    def state_dict(self) -> dict:
        return {"projector": dict(self.projector.state_dict()), "predictor": self.predictor.weight.detach(),
                "target": dict(self.target.state_dict()), "corr": self.corr, "steps": self.steps,
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            for key, value in self.projector.state_dict().items():
                value.copy_(state["projector"][key])
            for key, value in self.target.state_dict().items():
                value.copy_(state["target"][key])
            self.predictor.weight.copy_(state["predictor"])
            self.corr.copy_(state["corr"])
        self.steps = int(state["steps"])
        self.generator.set_state(state["generator"].to(torch.uint8))
