"""B-spline evaluation for KAN layers: the Cox-de Boor oracle and the fast one-GEMM path.

`b_spline_basis` is the textbook Cox-de Boor recursion (the paper's B-splines, as in pykan); it is
the correctness oracle and is used where speed does not matter (least-squares refits, plots).

`kan_linear` is the hot path of a KAN layer. It rests on two facts:

1. On each knot interval [t_j, t_j+1) only k + 1 B-splines are non-zero, and each is a polynomial
   of degree k in the local coordinate u = (x - t_j) / (t_j+1 - t_j). On a uniform grid (the
   initial one) these k + 1 polynomials are the same on every interval; `SplineTables` computes
   their coefficients once per grid (in float64, by sampling the Cox-de Boor oracle at k + 1
   points and solving the Vandermonde system). Evaluating the basis is then: find the interval by
   arithmetic, run Horner's rule k times, scatter k + 1 values. Non-uniform grids (after
   `update_grid`) run the recursion itself, vectorised over inputs with precomputed reciprocal
   knot spans, into the same feature layout.
2. The whole layer is one GEMM: the features [silu(x_i), B_0(x_i), ..., B_G+k-1(x_i)] of every
   input i, laid out (batch, G + k + 1, in), times a (G + k + 1) * in x out weight that holds
   scale_base (row block 0) and scale_sp * coef (the other blocks). No (batch, in, out) tensor.

`_KANLinear` is a custom autograd Function that keeps only x and the parameters for the backward
pass and recomputes the basis there (saved activations per layer: batch x in, as for an MLP). It
also assembles the weight from coef, scale_base, scale_sp and mask itself and returns their
gradients directly, which saves a dozen small autograd nodes per layer. The input gradient needs
only the k + 1 active polynomials' derivatives, scattered like the features. On CPU, large
temporaries live in per-thread workspaces that are reused across calls: allocating fresh
multi-megabyte buffers on every step costs page faults that are as expensive as the arithmetic on
small machines.
"""

from __future__ import annotations

import math
import threading

import torch
import torch.nn.functional as F

__all__ = ["uniform_grid", "extend_grid", "b_spline_basis", "SplineTables", "kan_linear", "release_workspaces",
           "workspace_bytes"]


def uniform_grid(in_features: int, grid_size: int, grid_range: tuple[float, float], k: int) -> torch.Tensor:
    """Knots of G uniform intervals over `grid_range`, extended by k knots per side: (in, G + 2k + 1)."""
    low, high = grid_range
    h = (high - low) / grid_size
    knots = torch.arange(-k, grid_size + k + 1, dtype=torch.float32) * h + low
    return knots.expand(in_features, -1).contiguous()


def extend_grid(grid: torch.Tensor, k: int) -> torch.Tensor:
    """Add k knots on each side of a (in, G + 1) grid, continuing its end spacing."""
    h_low = grid[:, 1:2] - grid[:, 0:1]
    h_high = grid[:, -1:] - grid[:, -2:-1]
    steps = torch.arange(1, k + 1, dtype=grid.dtype, device=grid.device)
    left = grid[:, 0:1] - h_low * steps.flip(0)
    right = grid[:, -1:] + h_high * steps
    return torch.cat([left, grid, right], dim=1)


def b_spline_basis(x: torch.Tensor, grid: torch.Tensor, k: int) -> torch.Tensor:
    """Order-k B-spline basis by the Cox-de Boor recursion (the oracle).

    x: (batch, in); grid: (in, G + 2k + 1) knots. Returns (batch, in, G + k). Bases are zero
    outside the extended grid, as in the paper's definition.
    """
    x = x.unsqueeze(-1)
    bases = ((x >= grid[:, :-1]) & (x < grid[:, 1:])).to(x.dtype)
    for p in range(1, k + 1):
        left = (x - grid[:, : -(p + 1)]) / (grid[:, p:-1] - grid[:, : -(p + 1)])
        right = (grid[:, p + 1 :] - x) / (grid[:, p + 1 :] - grid[:, 1:-p])
        bases = left * bases[..., :-1] + right * bases[..., 1:]
    return bases


def _chebyshev_nodes(n: int) -> torch.Tensor:
    """n well-spread sample points inside (0, 1), for a well-conditioned Vandermonde solve."""
    i = torch.arange(n, dtype=torch.float64)
    return (torch.cos(math.pi * (2 * i + 1) / (2 * n)) + 1) / 2


class SplineTables:
    """What the fast path needs to know about a (in, G + 2k + 1) grid, in `dtype`.

    Uniform rows (the initial grid, grid_eps = 1 updates): every basis is the same cardinal
    B-spline, so on any interval the k + 1 active bases are the same k + 1 polynomials of the local
    coordinate u = (x - t_j) / h. Their coefficients (`poly`, (p, r, in)) are computed in float64
    by sampling the Cox-de Boor oracle at k + 1 points of an interior interval and solving the
    Vandermonde system. Non-uniform rows (after `update_grid`): the Cox-de Boor recursion itself,
    run in a (batch, knot, in) layout with precomputed reciprocal knot spans.
    """

    def __init__(self, grid: torch.Tensor, k: int, dtype: torch.dtype):
        knots = grid.detach().to(torch.float64)
        n_in, n_knots = knots.shape
        self.k, self.n_in, self.n_knots = k, n_in, n_knots
        self.n_intervals, self.n_bases = n_knots - 1, n_knots - 1 - k
        widths = knots[:, 1:] - knots[:, :-1]  # (in, n_int)
        mean = widths.mean(1, keepdim=True)
        tolerance = 1e-12 if dtype == torch.float64 else 1e-5  # knot spacing equal to the dtype's rounding
        self.uniform = bool(((widths - mean).abs() <= tolerance * mean.abs()).all() and (mean > 0).all())
        if self.uniform:
            self._uniform_tables(knots, mean[:, 0], dtype)
        else:
            self.knots_t = knots.T.contiguous().to(dtype)  # (n_knots, in)
            spans = [knots[:, p:] - knots[:, :-p] for p in range(1, k + 1)]  # t_{m+p} - t_m
            # 1 / span, 0 for empty spans (repeated knots), as Cox-de Boor's 0/0 := 0 convention
            self.inv_spans = [torch.where(s > 0, 1 / s.clamp_min(1e-300), torch.zeros((), dtype=s.dtype)).T
                              .contiguous().to(dtype) for s in spans]  # each (n_knots - p, in)

    def _uniform_tables(self, knots: torch.Tensor, width: torch.Tensor, dtype: torch.dtype) -> None:
        k = self.k
        nodes = _chebyshev_nodes(k + 1).to(knots.device)
        j = k  # an interval where all k + 1 active bases exist (there is one: n_int >= 2k + 1)
        samples = knots[:, j, None] + width[:, None] * nodes  # (in, node)
        values = b_spline_basis(samples.T.reshape(-1, self.n_in), knots, k)  # (node, in, G+k)
        active = values[:, :, j - k:j + 1]  # (node, in, r)
        vandermonde = nodes[:, None] ** torch.arange(k + 1, dtype=torch.float64, device=knots.device)
        poly = torch.linalg.solve(vandermonde, active.reshape(k + 1, -1)).reshape(k + 1, self.n_in, k + 1)
        self.poly = poly.permute(0, 2, 1).contiguous().to(dtype)  # (p, r, in)
        powers = torch.arange(1, k + 1, dtype=torch.float64, device=knots.device)[:, None, None]
        self.dpoly = (poly.permute(0, 2, 1)[1:] * powers).contiguous().to(dtype)  # d/du, (p - 1, r, in)
        self.scale = (1 / width).to(dtype)  # s = (x - t_0) / h: interval index + u
        self.shift = (-knots[:, 0] / width).to(dtype)
        top = k + 1  # see _feature_rows: interval i's bases go to rows i + 1 + top - k + r
        self.row_offsets = (torch.arange(k + 1, device=knots.device) + 1 + top - k).view(1, k + 1, 1)


class _Workspace:
    """Named scratch buffers reused across calls (CPU only; GPU allocators already cache)."""

    def __init__(self):
        self.buffers: dict[tuple, torch.Tensor] = {}

    def get(self, name: str, shape: tuple, like: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        dtype = dtype or like.dtype
        numel = math.prod(shape)
        if like.device.type != "cpu":
            return torch.empty(shape, dtype=dtype, device=like.device)
        key = (name, dtype)
        buffer = self.buffers.get(key)
        if buffer is None or buffer.numel() < numel:
            buffer = torch.empty(numel, dtype=dtype)
            self.buffers[key] = buffer
        return buffer[:numel].view(shape)


_local = threading.local()


def _workspace() -> _Workspace:
    ws = getattr(_local, "workspace", None)
    if ws is None:
        ws = _local.workspace = _Workspace()
    return ws


def release_workspaces() -> None:
    """Free this thread's scratch buffers (they are re-created on the next call)."""
    _local.workspace = None


def workspace_bytes() -> int:
    """Bytes held by this thread's scratch buffers."""
    ws = getattr(_local, "workspace", None)
    return sum(b.numel() * b.element_size() for b in ws.buffers.values()) if ws else 0


def _feature_rows(tables: SplineTables) -> tuple[int, int]:
    """(row of the silu feature, rows of the buffer) in the (batch, rows, in) feature buffer.

    Rows top + 1 .. top + G + k hold B_0 .. B_G+k-1. In the uniform path the k + 1 active values of
    interval slot j go to rows j + top - k .. j + top: values of bases that do not exist (near the
    grid's ends, or for x outside it) land in the k + 1 padding rows on either side or in the silu
    row, which is written after them; the GEMM reads rows top .. top + G + k only.
    """
    top = tables.k + 1
    return top, top + 1 + tables.n_bases + tables.k + 1


def _locate_uniform(x: torch.Tensor, tables: SplineTables, ws: _Workspace) -> tuple[torch.Tensor, torch.Tensor]:
    """Feature rows j + top - k .. j + top of the k + 1 active bases (slot j = interval + 1, clamped
    to [0, n_int + 1]) as (batch, k + 1, in) int64, and the local coordinate u in [0, 1)."""
    batch, n_in = x.shape
    top, _ = _feature_rows(tables)
    s = torch.addcmul(tables.shift, x, tables.scale, out=ws.get("s", (batch, n_in), x))
    floor = torch.floor(s, out=ws.get("floor", (batch, n_in), x))
    u = s.sub_(floor)
    floor.clamp_(-1, tables.n_intervals)
    slot = ws.get("slot", (batch, n_in), x, torch.int64)
    slot.copy_(floor)
    positions = ws.get("positions", (batch, tables.k + 1, n_in), x, torch.int64)
    return torch.add(slot.unsqueeze(1), tables.row_offsets, out=positions), u


def _horner(poly: torch.Tensor, u: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """sum_p poly[p] u^p for poly (P, r, in) and u (batch, 1, in), into out (batch, r, in)."""
    if poly.shape[0] == 1:
        return out.copy_(poly[0].expand_as(out))
    torch.addcmul(poly[-2], poly[-1], u, out=out)
    for p in range(poly.shape[0] - 3, -1, -1):
        torch.addcmul(poly[p], out, u, out=out)
    return out


def _cox_de_boor(x: torch.Tensor, tables: SplineTables, ws: _Workspace, order: int, out: torch.Tensor | None = None):
    """Bases of order `order` (batch, n_knots - 1 - order, in) by the recursion, in workspaces."""
    batch, n_in = x.shape
    diff = torch.sub(x.unsqueeze(1), tables.knots_t, out=ws.get("diff", (batch, tables.n_knots, n_in), x))
    above = ws.get("above", diff.shape, x)
    above.copy_(diff >= 0)  # 1 where x >= t_m
    rows = tables.n_knots - 1
    bases = torch.sub(above[:, :-1], above[:, 1:], out=ws.get("bases0", (batch, rows, n_in), x))
    for p in range(1, order + 1):
        rows -= 1
        inv = tables.inv_spans[p - 1]  # (n_knots - p, in)
        left = torch.mul(diff[:, :rows], inv[:rows], out=ws.get("left", (batch, rows, n_in), x))
        left.mul_(bases[:, :-1])
        right = torch.mul(diff[:, p + 1:p + 1 + rows], inv[1:rows + 1], out=ws.get("right", (batch, rows, n_in), x))
        right.mul_(bases[:, 1:])
        target = out if (p == order and out is not None) else ws.get(f"bases{p % 2 + 1}", (batch, rows, n_in), x)
        bases = torch.sub(left, right, out=target)  # (t_{m+p+1} - x) = -diff[m + p + 1]
    if order == 0 and out is not None:
        bases = out.copy_(bases)
    return bases


def _features(x: torch.Tensor, tables: SplineTables, ws: _Workspace):
    """Features [silu, B_0..B_{G+k-1}] of x (batch, in) as a (batch, G + k + 1, in) view into a
    workspace buffer; for the uniform path also the slots, u and scatter positions."""
    batch, n_in = x.shape
    k = tables.k
    top, rows = _feature_rows(tables)
    buffer = ws.get("features", (batch, rows, n_in), x)
    bases = buffer[:, top + 1:top + 1 + tables.n_bases]
    extra = None
    if tables.uniform:
        positions, u = _locate_uniform(x, tables, ws)
        u = u.unsqueeze(1)
        values = _horner(tables.poly, u, ws.get("values", (batch, k + 1, n_in), x))
        bases.zero_()
        buffer.scatter_(1, positions, values)
        extra = (u, positions)
    else:
        _cox_de_boor(x, tables, ws, k, out=bases)
    torch.ops.aten.silu.out(x, out=buffer[:, top])
    return buffer[:, top:top + 1 + tables.n_bases], extra


def _input_grad_uniform(grad_bases, x, tables, extra, ws):
    """sum_m dL/dB_m * dB_m/dx, with the k + 1 active slopes scattered like the features (a
    scatter is cheaper than a gather along this axis on CPU)."""
    u, positions = extra
    slopes = _horner(tables.dpoly, u, ws.get("slopes", positions.shape, x))
    top, rows = _feature_rows(tables)
    dense = ws.get("features", (x.shape[0], rows, x.shape[1]), x)  # the features are used up by now
    dense[:, top + 1:top + 1 + tables.n_bases].zero_()
    dense.scatter_(1, positions, slopes)
    chain = dense[:, top + 1:top + 1 + tables.n_bases].mul_(grad_bases).sum(1)
    return chain.mul_(tables.scale)


def _input_grad_recursion(grad_bases, x, tables, ws):
    """dB_m,k/dx = k (B_m,k-1 / (t_m+k - t_m) - B_m+1,k-1 / (t_m+k+1 - t_m+1))."""
    k = tables.k
    lower = _cox_de_boor(x, tables, ws, k - 1)  # (batch, n_bases + 1, in)
    inv = tables.inv_spans[k - 1]  # (n_bases + 1, in)
    lower = lower.mul_(inv)
    slope = torch.sub(lower[:, :-1], lower[:, 1:], out=ws.get("slopes", grad_bases.shape, x))
    return slope.mul_(grad_bases).sum(1).mul_(k)


def _weight(coef, scale_base, scale_sp, mask) -> torch.Tensor:
    """((G+k+1) * in, out): row block 0 = scale_base, block 1 + m = scale_sp * coef[:, :, m]; masked."""
    spline = (coef * (scale_sp * mask).unsqueeze(-1)).permute(2, 0, 1)  # (G+k, in, out)
    return torch.cat([(scale_base * mask).unsqueeze(0), spline], 0).reshape(-1, coef.shape[1])


class _KANLinear(torch.autograd.Function):
    """y = features(x) @ weight(coef, scale_base, scale_sp, mask); saves x and the parameters only."""

    @staticmethod
    def forward(ctx, x, coef, scale_base, scale_sp, mask, tables):
        features, _ = _features(x, tables, _workspace())
        weight = _weight(coef, scale_base, scale_sp, mask)
        ctx.save_for_backward(x, coef, scale_base, scale_sp, mask, weight)
        ctx.tables = tables
        return features.reshape(x.shape[0], -1) @ weight

    @staticmethod
    def backward(ctx, grad_out):
        x, coef, scale_base, scale_sp, mask, weight = ctx.saved_tensors
        tables, ws = ctx.tables, _workspace()
        batch, n_in = x.shape
        grad_x = grad_coef = grad_base = grad_sp = None
        if ctx.needs_input_grad[0]:
            top, rows = _feature_rows(tables)
            grad_features = ws.get("grad_features", (batch, rows, n_in), x)
            torch.mm(grad_out, weight.T, out=grad_features[:, top:top + 1 + tables.n_bases].reshape(batch, -1))
            grad_x = torch.ops.aten.silu_backward(grad_features[:, top], x)
        features, extra = _features(x, tables, ws)
        if any(ctx.needs_input_grad[1:4]):
            grad_weight = (features.reshape(batch, -1).T @ grad_out).view(-1, n_in, coef.shape[1])
            grad_spline = grad_weight[1:].permute(1, 2, 0)  # (in, out, G+k)
            if ctx.needs_input_grad[1]:
                grad_coef = grad_spline * (scale_sp * mask).unsqueeze(-1)
            if ctx.needs_input_grad[2]:
                grad_base = grad_weight[0] * mask
            if ctx.needs_input_grad[3]:
                grad_sp = (grad_spline * coef).sum(-1) * mask
        if ctx.needs_input_grad[0] and tables.k > 0:
            grad_bases = grad_features[:, top + 1:top + 1 + tables.n_bases]
            if tables.uniform:
                grad_x += _input_grad_uniform(grad_bases, x, tables, extra, ws)
            else:
                grad_x += _input_grad_recursion(grad_bases, x, tables, ws)
        return grad_x, grad_coef, grad_base, grad_sp, None, None


def kan_linear(x: torch.Tensor, coef: torch.Tensor, scale_base: torch.Tensor, scale_sp: torch.Tensor,
               mask: torch.Tensor, tables: SplineTables) -> torch.Tensor:
    """One KAN layer as one GEMM: features(x) (batch, (G + k + 1) * in) @ weight -> (batch, out).

    The weight's rows are ordered (feature row, input): row block 0 is the silu base
    (scale_base * mask), block 1 + m the coefficient of B_m (scale_sp * mask * coef[:, :, m]).
    x must be 2-D and of the tables' dtype.
    """
    return _KANLinear.apply(x.contiguous(), coef, scale_base, scale_sp, mask, tables)
