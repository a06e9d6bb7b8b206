"""KAN: Kolmogorov-Arnold Networks (Liu et al., 2024, arXiv:2404.19756).

Every edge (i -> j) of a layer carries a learnable univariate activation (paper Eq. 2.10)

    phi_ji(x) = w_b,ji * silu(x) + w_s,ji * sum_m c_ji,m B_m(x)

where B_m are the order-k B-splines on a grid of G intervals over `grid_range`, extended by k knots
on each side; node j sums its incoming edges: x_{l+1,j} = sum_i phi_ji(x_{l,i}) (Eq. 2.5).

Initialisation follows the paper (Sec. 2.2, "Initialization scales"): w_s = 1, spline(x) ~ 0 by
drawing c ~ N(0, sigma^2) with sigma = 0.1, and w_b by Xavier initialisation. Grids adapt to the
activations that reach them (Sec. 2.2, "Update of spline grids"): `update_grid` places the knots at
sample quantiles, blended with a uniform grid by `grid_eps` as in the authors' pykan, and refits the
coefficients by least squares so the function is kept. It departs from pykan in two small ways:
the k knots added beyond each end continue that end interval's spacing (pykan uses the mean
spacing of the grid), and a 1e-6 relative jitter keeps knots strictly increasing when samples tie.

The paper's toolkit lives here too: grid extension (`KAN.refine`, Sec. 2.4), the sparsification
regulariser (`KAN.regularization`, Sec. 2.5.1; `SparsityTraining` trains on it through `zoo.train`),
and pruning (`KAN.prune`, Sec. 2.5.1). Symbolic snapping is in `symbolic.py`, plots in `plot.py`.

Departures from the paper, none in the maths:
- The layer is evaluated as two GEMMs (silu base, B-spline basis) over per-interval polynomial
  B-splines (`spline.py`, fused C++ kernels on CPU in `native.cpp`), equal to the Cox-de Boor
  recursion within float rounding; the recursion is kept as the oracle.
- Parameters use pykan's layout and names (`coef` (in, out, G+k), `scale_base`, `scale_sp`,
  per-input `grid`, `mask`) so results can be compared edge by edge with the authors' code.
- pykan's symbolic branch is not part of the layer; snapping builds a `SymbolicKAN` instead, so a
  plain KAN's state dict holds only the spline network.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import KANConfig
from .spline import SplineTables, b_spline_basis, extend_grid, kan_linear, uniform_grid

EDGE_SCORES = ("l1", "std")  # see KAN.edge_scores
PENALTY_FORMS = ("paper", "pykan")  # see KAN.regularization

__all__ = ["KAN", "KANLayer", "SparsityTraining", "b_spline_basis", "extend_grid", "uniform_grid", "fit_coefficients"]


def fit_coefficients(x: torch.Tensor, y: torch.Tensor, grid: torch.Tensor, k: int,
                     ridge: float = 1e-8) -> torch.Tensor:
    """Least-squares spline coefficients (in, out, G+k) with sum_m c_m B_m(x) ~ y for x (batch, in),
    y (batch, in, out). A tiny ridge keeps it solvable when an interval holds no samples."""
    basis = b_spline_basis(x.double(), grid.double(), k).permute(1, 0, 2)  # (in, batch, G+k)
    gram = basis.transpose(1, 2) @ basis  # (in, G+k, G+k)
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    scale = gram.diagonal(dim1=1, dim2=2).mean(-1).clamp_min(1e-30)[:, None, None]
    rhs = basis.transpose(1, 2) @ y.double().permute(1, 0, 2)  # (in, G+k, out)
    coef = torch.linalg.solve(gram + ridge * scale * eye, rhs)  # (in, G+k, out)
    return coef.permute(0, 2, 1)


def _check_samples(x: torch.Tensor, n_in: int, what: str) -> None:
    if x.dim() != 2 or x.shape[1] != n_in:
        raise ValueError(f"{what} expects samples of shape (batch, {n_in}), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{what} expects floating-point samples, got {x.dtype}")
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).any(1).sum())
        raise ValueError(f"{what}: {bad} sample(s) contain NaN or inf; grids can only follow finite activations")
    if x.shape[0] < 2:
        raise ValueError(f"{what} needs at least 2 samples, got {x.shape[0]}")


class KANLayer(nn.Module):
    """One KAN layer: in_features x out_features learnable activations, summed per output node."""

    def __init__(self, in_features: int, out_features: int, grid_size: int = 5, k: int = 3,
                 grid_range: tuple[float, float] = (-1.0, 1.0), noise_scale: float = 0.1,
                 grid_eps: float = 0.02):
        super().__init__()
        for name, value, low in (("in_features", in_features, 1), ("out_features", out_features, 1),
                                 ("grid_size", grid_size, 1), ("k", k, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"KANLayer {name} must be an integer >= {low}, got {value!r}")
        if not grid_range[0] < grid_range[1]:
            raise ValueError(f"KANLayer grid_range must be (low, high) with low < high, got {grid_range}")
        self.in_features, self.out_features = in_features, out_features
        self.grid_size, self.k, self.grid_eps = grid_size, k, grid_eps
        self.register_buffer("grid", uniform_grid(in_features, grid_size, grid_range, k))
        self.coef = nn.Parameter(torch.randn(in_features, out_features, grid_size + k) * noise_scale)
        bound = math.sqrt(6.0 / (in_features + out_features))  # Xavier uniform
        self.scale_base = nn.Parameter(torch.empty(in_features, out_features).uniform_(-bound, bound))
        self.scale_sp = nn.Parameter(torch.ones(in_features, out_features))
        self.register_buffer("mask", torch.ones(in_features, out_features))
        self._tables_cache: tuple | None = None

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, grid={self.grid_size}, k={self.k}"

    def tables(self, dtype: torch.dtype) -> SplineTables:
        """Per-interval polynomial tables of the current grid (rebuilt when the grid changes)."""
        key = (self.grid.data_ptr(), self.grid._version, self.grid.device, dtype)
        if self._tables_cache is None or self._tables_cache[0] != key:
            self._tables_cache = (key, SplineTables(self.grid, self.k, dtype))
        return self._tables_cache[1]

    def spline_weight(self) -> torch.Tensor:
        """(in * (G+k), out) matrix so that the spline part is b_spline_basis(x).flatten(1) @ W."""
        w = (self.scale_sp * self.mask).unsqueeze(-1) * self.coef  # (in, out, G+k)
        return w.permute(0, 2, 1).reshape(-1, self.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"KANLayer expects input of shape (batch, {self.in_features}), got {tuple(x.shape)}")
        if x.dtype != self.coef.dtype:
            raise TypeError(f"KANLayer input dtype {x.dtype} differs from its parameters' {self.coef.dtype}")
        if torch.compiler.is_compiling():
            # torch.export / torch.compile trace tensor ops; the fused kernel works on raw pointers
            return self.forward_tensor_ops(x)
        return kan_linear(x, self.coef, self.scale_base, self.scale_sp, self.mask, self.tables(x.dtype))

    def forward_tensor_ops(self, x: torch.Tensor) -> torch.Tensor:
        """forward in plain tensor ops (Cox-de Boor basis, two matmuls): what torch.export and ONNX
        record. Equal to forward up to rounding."""
        basis = b_spline_basis(x, self.grid, self.k).flatten(1)  # (batch, in * (G+k))
        return F.silu(x) @ (self.scale_base * self.mask) + basis @ self.spline_weight()

    def spline(self, x: torch.Tensor) -> torch.Tensor:
        """Per-edge spline values sum_m c_ji,m B_m(x_i): (batch, in, out)."""
        return torch.einsum("bim,iom->bio", b_spline_basis(x, self.grid, self.k), self.coef)

    def activations(self, x: torch.Tensor) -> torch.Tensor:
        """Per-edge activations phi_ji(x_i) (batch, in, out), masked, as summed by forward.

        Materialises a (batch, in, out) tensor: for the toolkit (regulariser, pruning, plots)."""
        spline = torch.einsum("bim,iom->bio", b_spline_basis(x, self.grid, self.k), self.coef)
        base = F.silu(x).unsqueeze(-1) * self.scale_base
        return (base + self.scale_sp * spline) * self.mask

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor) -> None:
        """Move the knots to the sample quantiles of x (batch, in) and refit the coefficients so
        each spline keeps its values at the samples (least squares, in float64)."""
        _check_samples(x, self.in_features, "update_grid")
        x_sorted = torch.sort(x, dim=0).values
        old = self.spline(x_sorted)
        self.grid.copy_(self._adaptive_grid(x_sorted, self.grid_size))
        self.coef.copy_(fit_coefficients(x_sorted, old, self.grid, self.k).to(self.coef.dtype))

    def _adaptive_grid(self, x_sorted: torch.Tensor, grid_size: int) -> torch.Tensor:
        """Knots at sample quantiles blended with a uniform grid by grid_eps, extended by k per side with
        the end intervals' spacing (pykan: the mean spacing)."""
        batch = x_sorted.shape[0]
        ids = [int(batch / grid_size * i) for i in range(grid_size)] + [-1]
        adaptive = x_sorted[ids, :].T  # (in, G+1)
        span = (adaptive[:, -1:] - adaptive[:, :1]).clamp_min(1e-4)  # a constant input still gets a grid
        steps = torch.arange(grid_size + 1, dtype=x_sorted.dtype, device=x_sorted.device)
        uniform = adaptive[:, :1] + span / grid_size * steps
        knots = self.grid_eps * uniform + (1 - self.grid_eps) * adaptive
        # tied samples would give zero-width intervals: keep knots strictly increasing
        knots = knots + 1e-6 * span * steps / grid_size
        return extend_grid(knots, self.k).to(self.grid.dtype)

    @torch.no_grad()
    def refined(self, grid_size: int, x: torch.Tensor | None = None) -> "KANLayer":
        """This layer on a grid of `grid_size` intervals, fitted to reproduce its activations
        (grid extension, paper Sec. 2.4, Eq. 2.16). Knots follow x's quantiles (blended by
        grid_eps) when samples are given, else are uniform over the current grid's range."""
        new = KANLayer(self.in_features, self.out_features, grid_size, self.k, (-1.0, 1.0), 0.0, self.grid_eps)
        new = new.to(device=self.coef.device, dtype=self.coef.dtype)
        low, high = self.grid[:, self.k], self.grid[:, -self.k - 1]
        if x is not None:
            _check_samples(x, self.in_features, "refine")
            knots = self._adaptive_grid(torch.sort(x, dim=0).values, grid_size)
        else:
            steps = torch.linspace(0, 1, grid_size + 1, dtype=self.grid.dtype, device=self.grid.device)
            knots = extend_grid(low[:, None] + (high - low)[:, None] * steps, self.k)
        new.grid.copy_(knots)
        # least squares on dense points over the new grid's range, where its bases are complete
        lo, hi = new.grid[:, self.k], new.grid[:, -self.k - 1]
        points = max(8 * (grid_size + self.k), 64)
        t = torch.linspace(0, 1, points, dtype=self.grid.dtype, device=self.grid.device)
        samples = (lo[None, :] + (hi - lo)[None, :] * t[:, None])
        if x is not None:
            samples = torch.cat([samples, x.to(samples.dtype)])
        new.coef.copy_(fit_coefficients(samples, self.spline(samples), new.grid, self.k).to(self.coef.dtype))
        new.scale_base.copy_(self.scale_base)
        new.scale_sp.copy_(self.scale_sp)
        new.mask.copy_(self.mask)
        return new


class KAN(nn.Module):
    """A stack of KAN layers of widths `config.width` (paper Eq. 2.7: KAN(x) = Phi_L o ... o Phi_0 (x))."""

    def __init__(self, config: KANConfig | None = None):
        super().__init__()
        self.config = config = config or KANConfig()
        self.layers = nn.ModuleList(
            KANLayer(n_in, n_out, config.grid, config.k, tuple(config.grid_range), config.noise_scale,
                     config.grid_eps)
            for n_in, n_out in zip(config.width[:-1], config.width[1:])
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x.shape[-1] != self.config.width[0]:
            raise ValueError(f"KAN expects input of shape (batch, {self.config.width[0]}), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"KAN expects a floating-point input, got {x.dtype}")
        lead = x.shape[:-1]
        x = x.reshape(-1, x.shape[-1])
        for layer in self.layers:
            x = layer(x)
        return x.reshape(*lead, x.shape[-1])

    def layer_inputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The input of every layer for a batch x: [x, x_1, ..., x_{L-1}]."""
        x = x.reshape(-1, self.config.width[0])
        inputs = []
        for layer in self.layers:
            inputs.append(x)
            x = layer(x)
        return inputs

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor) -> None:
        """Adapt every layer's grid to the activations that x produces there (paper Sec. 2.2)."""
        x = x.reshape(-1, self.config.width[0])
        for layer in self.layers:
            layer.update_grid(x)
            x = layer(x)

    # --- the paper's toolkit -------------------------------------------------------------------

    def edge_scores(self, x: torch.Tensor, score: str = "l1") -> list[torch.Tensor]:
        """The score of every edge over the batch x: one (in, out) tensor per layer, differentiable.

        score="l1": |phi|_1, the mean absolute activation (paper Eq. 2.17).
        score="std": std(phi) / (std(x_i) + 0.1), the edge scale of the authors' pykan 0.2
        (`MultKAN.forward`'s acts_scale, which its first `prune_node` thresholds). Unlike |phi|_1
        it ignores a constant offset: an edge whose activation barely varies carries nothing but a
        bias and scores near 0 however large that bias is."""
        if score not in EDGE_SCORES:
            raise ValueError(f"edge score {score!r}: expected one of {EDGE_SCORES}")
        scores = []
        for layer, h in zip(self.layers, self.layer_inputs(x)):
            acts = layer.activations(h)
            if score == "l1":
                scores.append(acts.abs().mean(0))
            else:
                scores.append(acts.std(0) / (h.std(0)[:, None] + 0.1))
        return scores

    def regularization(self, x: torch.Tensor, mu_1: float = 1.0, mu_2: float = 1.0,
                       form: str = "paper") -> torch.Tensor:
        """The sparsification penalty; training loss = prediction loss + lambda * regularization(x).

        form="paper" (Eq. 2.17-2.20): sum over layers of mu_1 |Phi|_1 + mu_2 S(Phi), with |Phi|_1
        the sum of the edges' mean |phi| and S the entropy of the normalised edge norms.
        form="pykan": the authors' pykan 0.2 (`MultKAN.reg` with its default reg_metric, whose
        `fit` defaults are mu_1 = 1, mu_2 = 2): edges scored by std(phi) / (std(x) + 0.1)
        (`edge_scores(x, "std")`), and per layer mu_1 * their sum + mu_2 * (mean over output nodes
        of the entropy of the incoming scores + mean over input nodes of the entropy of the
        outgoing scores), each normalised by (its sum + 1) and taken in log2 of (p + 1e-4). Its
        optional coefficient L1 / smoothness terms (off by default there) are not included."""
        if form not in PENALTY_FORMS:
            raise ValueError(f"penalty form {form!r}: expected one of {PENALTY_FORMS}")
        total = torch.zeros((), dtype=self.layers[0].coef.dtype, device=self.layers[0].coef.device)
        if form == "pykan":
            for scores in self.edge_scores(x, "std"):  # (in, out)
                p_in = scores / (scores.sum(0, keepdim=True) + 1)  # per output node, over its inputs
                p_out = scores / (scores.sum(1, keepdim=True) + 1)  # per input node, over its outputs
                entropy_in = -(p_in * torch.log2(p_in + 1e-4)).sum(0).mean()
                entropy_out = -(p_out * torch.log2(p_out + 1e-4)).sum(1).mean()
                total = total + mu_1 * scores.sum() + mu_2 * (entropy_in + entropy_out)
            return total
        for scores in self.edge_scores(x):
            l1 = scores.sum()
            p = scores / l1.clamp_min(1e-12)
            entropy = -(p * torch.log(p.clamp_min(1e-12))).sum()
            total = total + mu_1 * l1 + mu_2 * entropy
        return total

    def _derived(self, config: KANConfig, layers: list[KANLayer]) -> "KAN":
        """A new KAN with `config` and `layers`, keeping the zoo identity (with the new config)."""
        model = KAN(config)
        model.layers = nn.ModuleList(layers)
        identity = getattr(self, "zoo_identity", None)
        if identity is not None:
            model.zoo_identity = dataclasses.replace(identity, config=config, weights=None, variant=None)
        return model.train(self.training)

    def refine(self, grid: int, x: torch.Tensor | None = None) -> "KAN":
        """Grid extension (paper Sec. 2.4): a new KAN whose splines have `grid` intervals, fitted by
        least squares to this one's activations; continue training it. x (batch, in) optionally
        places the new knots at the activations' quantiles, as update_grid does."""
        if not isinstance(grid, int) or grid < 1 or grid > 1000:
            raise ValueError(f"refine needs a grid size between 1 and 1000, got {grid!r}")
        inputs = self.layer_inputs(x) if x is not None else [None] * len(self.layers)
        with torch.no_grad():
            layers = [layer.refined(grid, h) for layer, h in zip(self.layers, inputs)]
        return self._derived(self.config.model_copy(update={"grid": grid}), layers)

    @torch.no_grad()
    def prune_edges(self, x: torch.Tensor, threshold: float = 1e-2, score: str = "l1") -> int:
        """Mask every edge whose score on x (`edge_scores`; default |phi|_1) is below threshold;
        returns how many were masked."""
        masked = 0
        for layer, scores in zip(self.layers, self.edge_scores(x, score)):
            weak = (scores < threshold) & (layer.mask > 0)
            masked += int(weak.sum())
            layer.mask[weak] = 0.0
        return masked

    @torch.no_grad()
    def node_scores(self, x: torch.Tensor, score: str = "l1") -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(incoming, outgoing) score of every hidden node (paper Sec. 2.5.1, "Pruning", Eq. 2.21):
        I = max over incoming edges of the edge score, O = max over outgoing edges. The edge score
        is the paper's |phi|_1 by default, or pykan 0.2's std ratio (score="std", see
        `edge_scores`). (pykan 0.2.8's `prune_node` scores nodes by backward attribution instead.)"""
        scores = self.edge_scores(x, score)
        return [(scores[l].max(0).values, scores[l + 1].max(1).values) for l in range(len(scores) - 1)]

    def prune(self, x: torch.Tensor, threshold: float = 1e-2, edge_threshold: float | None = None,
              score: str = "l1") -> "KAN":
        """Node pruning (paper Sec. 2.5.1): a smaller KAN keeping the hidden nodes whose incoming
        and outgoing scores both exceed threshold; then, if edge_threshold is given, edges below it
        are masked. `score` picks the edge score (`edge_scores`): "l1", the paper's |phi|_1, or
        "std", the authors' pykan 0.2 std ratio. Raises ValueError when a hidden layer would lose
        every node."""
        if not threshold >= 0:
            raise ValueError(f"prune threshold must be >= 0, got {threshold!r}")
        if score not in EDGE_SCORES:
            raise ValueError(f"prune score {score!r}: expected one of {EDGE_SCORES}")
        keep = []
        for l, (incoming, outgoing) in enumerate(self.node_scores(x, score)):
            alive = ((incoming > threshold) & (outgoing > threshold)).nonzero().flatten()
            if alive.numel() == 0:
                best = torch.minimum(incoming, outgoing).max().item()
                raise ValueError(
                    f"pruning at threshold {threshold:g} would remove every node of hidden layer {l + 1} "
                    f"(width {self.config.width[l + 1]}; its strongest node scores {best:.3g}): nothing would "
                    f"remain to compute the output. Use a threshold below {best:.3g} or train longer "
                    f"with the sparsity regulariser first.")
            keep.append(alive)
        ins = [torch.arange(self.config.width[0], device=x.device)] + keep
        outs = keep + [torch.arange(self.config.width[-1], device=x.device)]
        layers = []
        with torch.no_grad():
            for layer, i, o in zip(self.layers, ins, outs):
                new = KANLayer(len(i), len(o), layer.grid_size, layer.k, (-1.0, 1.0), 0.0, layer.grid_eps)
                new = new.to(device=layer.coef.device, dtype=layer.coef.dtype)
                new.grid.copy_(layer.grid[i])
                new.coef.copy_(layer.coef[i][:, o])
                new.scale_base.copy_(layer.scale_base[i][:, o])
                new.scale_sp.copy_(layer.scale_sp[i][:, o])
                new.mask.copy_(layer.mask[i][:, o])
                layers.append(new)
        width = [self.config.width[0]] + [len(k) for k in keep] + [self.config.width[-1]]
        pruned = self._derived(self.config.model_copy(update={"width": width}), layers)
        if edge_threshold is not None:
            pruned.prune_edges(x, edge_threshold, score)
        return pruned


class SparsityTraining(nn.Module):
    """Trains a KAN through `zoo.train` on the paper's sparsification objective (Eq. 2.20):
    the task's loss plus lamb * kan.regularization(x, mu_1, mu_2, form), x the batch's inputs
    (form="paper", the paper's Eq. 2.20, by default; "pykan" for the authors' code's penalty).

        zoo.train(SparsityTraining(kan, lamb=1e-3), task, optimizer="lbfgs", ...)

    It wraps `kan` (no copy): training the wrapper trains the KAN, and its forward is the KAN's,
    so evaluation is unchanged. The KAN itself has no `training_step`, so its default training path
    (and speed) stays the plain task loss. With LBFGS the penalised objective is the closure that
    the optimizer re-evaluates in its line search; other optimizers take one gradient step on it.
    Logs "loss" (the objective, before the step), "pred_loss" and "penalty"."""

    def __init__(self, kan: KAN, lamb: float, mu_1: float = 1.0, mu_2: float = 1.0, form: str = "paper"):
        super().__init__()
        for name, value in (("lamb", lamb), ("mu_1", mu_1), ("mu_2", mu_2)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"SparsityTraining {name} must be a finite number >= 0, got {value!r}")
        if form not in PENALTY_FORMS:
            raise ValueError(f"SparsityTraining form must be one of {PENALTY_FORMS}, got {form!r}")
        self.kan, self.lamb, self.mu_1, self.mu_2 = kan, float(lamb), float(mu_1), float(mu_2)
        self.form = form

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.kan(x)

    def training_step(self, batch, step) -> dict[str, torch.Tensor]:
        (x,) = step.task.inputs(batch)
        name, optimizer = next(iter(step.optimizers.items()))
        logged = {}

        def objective() -> torch.Tensor:
            step.zero_grad(name)
            pred_loss = step.loss(self.kan(x), batch)
            penalty = self.kan.regularization(x, self.mu_1, self.mu_2, self.form)
            total = pred_loss + self.lamb * penalty
            step.backward(total)
            if not logged:  # the first evaluation: the objective before the step
                logged.update(loss=total.detach(), pred_loss=pred_loss.detach(), penalty=penalty.detach())
            return total

        inner = getattr(optimizer, "optimizer", optimizer)  # Accelerate's wrapper takes no closure
        if isinstance(inner, torch.optim.LBFGS):
            inner.step(objective)
            step.zero_grad(name)
            scheduler = step.schedulers.get(name)
            if scheduler is not None:
                scheduler.step()
        else:
            objective()
            step.step(name)
        return logged
