"""Symbolic snapping of a trained KAN (paper Sec. 2.5.1, "Symbolification"; arXiv:2404.19756).

Each activation phi(x) of a trained KAN is fitted by an affine-parametrised library function
c * f(a * x + b) + d: (a, b) by a grid search that is zoomed in twice around the best point, (c, d)
by linear least squares at every (a, b), as the paper describes. The choice among library
functions trades fit against simplicity like the authors' `auto_symbolic`:
loss = w * complexity + (1 - w) * log2(1 + 1e-5 - R^2), w = `weight_simple`.

`auto_symbolic` returns a `SymbolicKAN`: the KAN with snapped edges masked out and replaced by
their formulas, whose affine parameters (a, b, c, d) stay trainable (the paper continues training
after snapping), and whose `formula()` composes the layers into sympy expressions. Edges that no
library function fits keep their spline and are reported, never raised.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["LIBRARY", "SymbolicFit", "fit_affine", "suggest_symbolic", "auto_symbolic", "SymbolicKAN"]


def _library():
    import sympy

    # name: (torch function, sympy function, complexity), complexities as in the KAN paper's code
    return {
        "x": (lambda x: x, lambda x: x, 1),
        "x^2": (lambda x: x ** 2, lambda x: x ** 2, 2),
        "x^3": (lambda x: x ** 3, lambda x: x ** 3, 3),
        "x^4": (lambda x: x ** 4, lambda x: x ** 4, 3),
        "1/x": (lambda x: 1 / x, lambda x: 1 / x, 2),
        "sqrt": (lambda x: torch.sqrt(x.clamp_min(0)), sympy.sqrt, 2),
        "exp": (torch.exp, sympy.exp, 2),
        "log": (lambda x: torch.log(x.clamp_min(1e-6)), sympy.log, 2),
        "sin": (torch.sin, sympy.sin, 2),
        "tanh": (torch.tanh, sympy.tanh, 3),
        "abs": (torch.abs, sympy.Abs, 3),
        "gaussian": (lambda x: torch.exp(-x ** 2), lambda x: sympy.exp(-x ** 2), 3),
        "arctan": (torch.arctan, sympy.atan, 4),
    }


class _Library(dict):
    """Loaded on first use so that importing this module does not import sympy."""

    def _load(self):
        if not super().__len__():
            self.update(_library())

    def __getitem__(self, key):
        self._load()
        return super().__getitem__(key)

    def __iter__(self):
        self._load()
        return super().__iter__()

    def __len__(self):
        self._load()
        return super().__len__()

    def __contains__(self, key):
        self._load()
        return super().__contains__(key)

    def keys(self):
        self._load()
        return super().keys()


LIBRARY = _Library()


@dataclass
class SymbolicFit:
    """Best affine fit y ~ c * f(a * x + b) + d of one function; r2 = -inf when it cannot fit."""

    name: str
    a: float
    b: float
    c: float
    d: float
    r2: float
    complexity: int


def _selection_loss(r2: float, complexity: int, weight_simple: float) -> float:
    if not math.isfinite(r2):
        return math.inf
    return weight_simple * complexity + (1 - weight_simple) * math.log2(1 + 1e-5 - min(r2, 1.0))


def _r2_grid(fn, x: torch.Tensor, y: torch.Tensor, a: torch.Tensor, b: torch.Tensor):
    """R^2 of the best (c, d) for every (a, b) pair: (len(a), len(b)), non-finite -> -inf."""
    z = fn(a[:, None, None] * x[None, None, :] + b[None, :, None])  # (A, B, n)
    finite = torch.isfinite(z).all(-1)
    z = torch.where(torch.isfinite(z), z, torch.zeros((), dtype=z.dtype))
    zc = z - z.mean(-1, keepdim=True)
    yc = y - y.mean()
    cov = (zc * yc).sum(-1)
    var_z = (zc * zc).sum(-1)
    r2 = cov ** 2 / (var_z * (yc * yc).sum()).clamp_min(1e-300)
    r2 = torch.where(finite & (var_z > 1e-12 * zc.shape[-1]), r2, torch.full_like(r2, -math.inf))
    return r2


def fit_affine(name: str, x: torch.Tensor, y: torch.Tensor, a_range=(-10.0, 10.0), b_range=(-10.0, 10.0),
               points: int = 41, zooms: int = 2) -> SymbolicFit:
    """Fit y ~ c * f(a * x + b) + d for the library function `name` on samples x, y (1-D)."""
    fn, _, complexity = LIBRARY[name]
    x = x.detach().double().flatten()
    y = y.detach().double().flatten()
    if name == "x":  # affine in x already: a = 1, b = 0 loses nothing
        a_values, b_values = torch.ones(1, dtype=x.dtype), torch.zeros(1, dtype=x.dtype)
        zooms = 0
    else:
        a_values = torch.linspace(*a_range, points, dtype=x.dtype)
        b_values = torch.linspace(*b_range, points, dtype=x.dtype)
    for step in range(zooms + 1):
        r2 = _r2_grid(fn, x, y, a_values, b_values)
        best = int(torch.argmax(r2))
        ia, ib = divmod(best, r2.shape[1])
        a_best, b_best = float(a_values[ia]), float(b_values[ib])
        if step < zooms:
            da = float(a_values[1] - a_values[0]) if len(a_values) > 1 else 0.0
            db = float(b_values[1] - b_values[0]) if len(b_values) > 1 else 0.0
            a_values = torch.linspace(a_best - da, a_best + da, points, dtype=x.dtype)
            b_values = torch.linspace(b_best - db, b_best + db, points, dtype=x.dtype)
    best_r2 = float(r2[ia, ib])
    if not math.isfinite(best_r2):
        return SymbolicFit(name, a_best, b_best, 0.0, 0.0, -math.inf, complexity)
    z = fn(a_best * x + b_best)
    design = torch.stack([z, torch.ones_like(z)], 1)
    c, d = torch.linalg.lstsq(design, y[:, None]).solution.flatten().tolist()
    return SymbolicFit(name, a_best, b_best, c, d, best_r2, complexity)


def suggest_symbolic(x: torch.Tensor, y: torch.Tensor, lib: list[str] | None = None,
                     weight_simple: float = 0.8, **fit_options) -> list[SymbolicFit]:
    """Every library function fitted to (x, y), best first by the simplicity-weighted loss."""
    names = list(lib) if lib is not None else list(LIBRARY.keys())
    unknown = [n for n in names if n not in LIBRARY]
    if unknown:
        raise ValueError(f"unknown symbolic function(s) {unknown}; the library has {list(LIBRARY.keys())}")
    fits = [fit_affine(n, x, y, **fit_options) for n in names]
    return sorted(fits, key=lambda f: _selection_loss(f.r2, f.complexity, weight_simple))


class SymbolicKAN(nn.Module):
    """A KAN some of whose edges are symbolic formulas c * f(a * x + b) + d (trainable a, b, c, d).

    report: per edge (layer, i, j) the chosen fit, or why the edge kept its spline."""

    def __init__(self, kan, edges: dict[tuple[int, int, int], SymbolicFit], report: dict,
                 zeros: list[tuple[int, int, int]] = ()):
        super().__init__()
        self.kan = copy.deepcopy(kan)
        self.names = {key: fit.name for key, fit in edges.items()}
        self.affine = nn.ParameterDict({
            self._key(key): nn.Parameter(torch.tensor([fit.a, fit.b, fit.c, fit.d],
                                                      dtype=kan.layers[0].coef.dtype))
            for key, fit in edges.items()})
        self.report = report
        with torch.no_grad():
            for (l, i, j) in list(edges) + list(zeros):
                self.kan.layers[l].mask[i, j] = 0.0

    @staticmethod
    def _key(key: tuple[int, int, int]) -> str:
        return "l{}_i{}_o{}".format(*key)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(-1, self.kan.config.width[0])
        for l, layer in enumerate(self.kan.layers):
            out = layer(x)
            for (layer_id, i, j), name in self.names.items():
                if layer_id != l:
                    continue
                a, b, c, d = self.affine[self._key((l, i, j))]
                contribution = c * LIBRARY[name][0](a * x[:, i] + b) + d
                out = out.index_add(1, torch.tensor([j], device=out.device), contribution[:, None])
            x = out
        return x

    def formula(self, digits: int = 4, variables: list[str] | None = None):
        """(list of sympy expressions, one per output; edges that are still splines, as
        (layer, i, j)). Remaining splines appear as functions phi_l_i_j(.) in the expressions."""
        import sympy

        width = self.kan.config.width
        names = variables or [f"x_{i + 1}" for i in range(width[0])]
        if len(names) != width[0]:
            raise ValueError(f"formula needs {width[0]} variable names, got {len(names)}")
        exprs = list(sympy.symbols(names))
        numeric = []

        def num(v: float):
            return sympy.Float(float(f"{v:.{digits}g}"), digits)

        for l, layer in enumerate(self.kan.layers):
            outs = [sympy.Integer(0)] * layer.out_features
            for i in range(layer.in_features):
                for j in range(layer.out_features):
                    key = (l, i, j)
                    if key in self.names:
                        a, b, c, d = self.affine[self._key(key)].tolist()
                        term = num(c) * LIBRARY[self.names[key]][1](num(a) * exprs[i] + num(b)) + num(d)
                        outs[j] = outs[j] + term
                    elif layer.mask[i, j] > 0:
                        numeric.append(key)
                        outs[j] = outs[j] + sympy.Function(f"phi_{l}_{i}_{j}")(exprs[i])
            exprs = outs
        return exprs, numeric


def auto_symbolic(kan, x: torch.Tensor, lib: list[str] | None = None, r2_threshold: float = 0.9,
                  weight_simple: float = 0.8, zero_threshold: float = 1e-2, on_edges=None,
                  **fit_options) -> SymbolicKAN:
    """Snap every active edge of `kan` whose best library fit on the activations that x produces
    reaches r2_threshold; the others keep their splines (see `SymbolicKAN.report`). Edges whose
    |phi|_1 is below zero_threshold times the layer's strongest edge become 0 (are removed).
    on_edges: called with the number of edges just decided, after each input node of each layer
    (a progress bar's update)."""
    if x.dim() != 2 or x.shape[1] != kan.config.width[0]:
        raise ValueError(f"auto_symbolic expects samples of shape (batch, {kan.config.width[0]}), "
                         f"got {tuple(x.shape)}")
    edges, report, zeros = {}, {}, []
    with torch.no_grad():
        inputs = kan.layer_inputs(x.to(kan.layers[0].coef.dtype))
        for l, (layer, h) in enumerate(zip(kan.layers, inputs)):
            acts = layer.activations(h)
            scores = acts.abs().mean(0)
            weak = scores < zero_threshold * scores.max()
            for i in range(layer.in_features):
                for j in range(layer.out_features):
                    if layer.mask[i, j] == 0:
                        continue
                    key = (l, i, j)
                    if weak[i, j]:
                        zeros.append(key)
                        report[key] = f"0: |phi|_1 = {float(scores[i, j]):.2e} is negligible; edge removed"
                        continue
                    xi, yi = h[:, i], acts[:, i, j]
                    if not (torch.isfinite(xi).all() and torch.isfinite(yi).all()):
                        report[key] = "kept the spline: its samples contain NaN or inf"
                        continue
                    try:
                        best = suggest_symbolic(xi, yi, lib, weight_simple, **fit_options)[0]
                    except (RuntimeError, ValueError) as exc:  # a failed solve must not stop the others
                        if isinstance(exc, ValueError) and "unknown symbolic" in str(exc):
                            raise
                        report[key] = f"kept the spline: fitting failed ({type(exc).__name__}: {exc})"
                        continue
                    if best.r2 >= r2_threshold:
                        edges[key] = best
                        report[key] = best
                    else:
                        report[key] = (f"kept the spline: the best fit, {best.name}, reaches R^2 = {best.r2:.3f} "
                                       f"< {r2_threshold}")
                if on_edges is not None:
                    on_edges(int((layer.mask[i] != 0).sum()))
    return SymbolicKAN(kan, edges, report, zeros)
