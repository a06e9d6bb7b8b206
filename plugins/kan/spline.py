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
gradients directly, in the parameters' layouts, which saves a dozen small autograd nodes and the
gradient copies per layer. The input gradient gathers the feature gradients of the k + 1 active
bases and weights them by the polynomials' derivatives.

On CPU, float32/float64 inputs use the fused kernels of native.cpp (compiled on first use; see
native.py) for the basis and its input gradient: one pass per element instead of the five tensor
passes below, which stay as the path for GPUs, other dtypes and machines without a C++ compiler.

On CPU the batch runs in chunks of about `_CHUNK_ELEMENTS` features: the basis passes (locate,
Horner, scatter, gather) then stay in cache, and the large temporaries live in per-thread
workspaces of chunk size, reused across calls (fresh multi-megabyte buffers cost page faults as
expensive as the arithmetic on small machines). Layers with few outputs run their GEMMs
transposed, which BLAS does several times faster for (batch x 10)-shaped products. On
accelerators the same code runs on the whole batch at once, with the allocator's own caching.
"""

from __future__ import annotations

import math
import threading

import torch

from . import native

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


def chebyshev_nodes(n: int) -> torch.Tensor:
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

    Features are laid out (batch, rows, in) with rows = [silu, B_0, ..., B_G+k-1], plus one spare
    row (see `_locate_uniform`).
    """

    def __init__(self, grid: torch.Tensor, k: int, dtype: torch.dtype):
        knots = grid.detach().to(torch.float64)
        n_in, n_knots = knots.shape
        self.k, self.n_in, self.n_knots = k, n_in, n_knots
        self.n_intervals, self.n_bases = n_knots - 1, n_knots - 1 - k
        self.rows = 1 + self.n_bases  # silu, B_0 .. B_G+k-1
        self.knots, self.dtype, self._native = knots, dtype, None
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

    def native(self, x: torch.Tensor) -> "native.NativeGrid | None":
        """The fused CPU kernels' tables for x, or None: not on CPU, a dtype they do not cover, or no
        compiled library (see native.py)."""
        if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or native.library() is None:
            return None
        if self._native is None:
            self._native = native.NativeGrid(self.knots, self.k, self.uniform, self.dtype,
                                             *((self.scale, self.shift) if self.uniform else ()))
        return self._native

    def _uniform_tables(self, knots: torch.Tensor, width: torch.Tensor, dtype: torch.dtype) -> None:
        k, device = self.k, knots.device
        nodes = chebyshev_nodes(k + 1).to(device)
        j = k  # an interval where all k + 1 active bases exist (there is one: n_int >= 2k + 1)
        samples = knots[:, j, None] + width[:, None] * nodes  # (in, node)
        values = b_spline_basis(samples.T.reshape(-1, self.n_in), knots, k)  # (node, in, G+k)
        active = values[:, :, j - k:j + 1]  # (node, in, r)
        vandermonde = nodes[:, None] ** torch.arange(k + 1, dtype=torch.float64, device=device)
        poly = torch.linalg.solve(vandermonde, active.reshape(k + 1, -1)).reshape(k + 1, self.n_in, k + 1)
        poly = poly.permute(0, 2, 1)  # (p, r, in)
        self.poly = poly.contiguous().to(dtype)
        powers = torch.arange(1, k + 1, dtype=torch.float64, device=device)[:, None, None]
        self.dpoly = (poly[1:] * powers / width).contiguous().to(dtype)  # d/dx = d/du / h, (p - 1, r, in)
        self.scale = (1 / width).to(dtype)  # s = (x - t_0) / h: interval index + u
        self.shift = (-knots[:, 0] / width).to(dtype)
        # the r-th active basis of interval j is B_{j-k+r}, in row 1 + j - k + r: column
        # (1 + j - k + r) * in + i of a batch row. Bases that do not exist (near the grid's ends, x
        # outside it) are clamped to the silu row or the spare row, which never keep them.
        inputs = torch.arange(self.n_in, device=device)
        self.offsets = (1 - k + torch.arange(k + 1, device=device))[:, None] * self.n_in + inputs  # (r, in)
        self.low, self.high = inputs, inputs + self.rows * self.n_in


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


# feature elements per CPU chunk of the batch: the chunk's buffers stay in cache between the passes
_CHUNK_ELEMENTS = 1 << 19


def _chunks(x: torch.Tensor, tables: SplineTables) -> list[tuple[int, int]]:
    """Row ranges of the batch processed together (the whole batch on accelerators)."""
    batch = x.shape[0]
    count = 1 if x.device.type != "cpu" else -(-batch * tables.n_in * tables.rows // _CHUNK_ELEMENTS)
    rows = -(-batch // count)  # equal chunks
    return [(start, min(start + rows, batch)) for start in range(0, batch, rows)]


def _locate_uniform(x: torch.Tensor, tables: SplineTables, ws: _Workspace) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch-row columns of the k + 1 active bases of x (batch, in) as (batch, k + 1, in) int64,
    and the local coordinate u in [0, 1) as (batch, 1, in)."""
    batch, n_in = x.shape
    s = torch.addcmul(tables.shift, x, tables.scale, out=ws.get("s", (batch, n_in), x))
    floor = torch.floor(s, out=ws.get("floor", (batch, n_in), x))
    u = s.sub_(floor)
    floor.clamp_(-1, tables.n_intervals)
    slot = ws.get("slot", (batch, 1, n_in), x, torch.int64)
    slot.copy_(floor.unsqueeze(1))
    positions = ws.get("positions", (batch, tables.k + 1, n_in), x, torch.int64)
    torch.add(tables.offsets, slot, alpha=n_in, out=positions)
    return positions.clamp_(tables.low, tables.high), u.unsqueeze(1)


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


def _feature_buffer(x: torch.Tensor, tables: SplineTables, ws: _Workspace, name: str) -> torch.Tensor:
    """A (batch, (rows + 1) * in) workspace: the feature rows, then the spare row."""
    return ws.get(name, (x.shape[0], (tables.rows + 1) * tables.n_in), x)


def _features(x: torch.Tensor, tables: SplineTables, ws: _Workspace, fused):
    """Features [silu, B_0..B_{G+k-1}] of x (batch, in), as a (batch, (G + k + 1) * in) view into a
    workspace; for the eager uniform path also the basis columns and u. `fused`: tables.native(x)."""
    batch, n_in = x.shape
    buffer = _feature_buffer(x, tables, ws, "features")
    features = buffer[:, :tables.rows * n_in]
    extra = None
    if fused is not None:
        native.features(fused, x, features)
    elif tables.uniform:
        positions, u = _locate_uniform(x, tables, ws)
        values = _horner(tables.poly, u, ws.get("values", positions.shape, x))
        buffer.zero_()
        buffer.scatter_(1, positions.view(batch, -1), values.view(batch, -1))
        extra = (positions, u)
    else:
        _cox_de_boor(x, tables, ws, tables.k, out=features[:, n_in:].view(batch, tables.n_bases, n_in))
    torch.ops.aten.silu.out(x, out=features[:, :n_in])
    return features, extra


def _input_grad_uniform(grad_buffer, x, tables, extra, ws, out):
    """out += sum_r dL/dB_(j-k+r) * dB_(j-k+r)/dx over the k + 1 active bases, gathered from the
    feature gradients (the silu and spare rows, where absent bases point, are zeroed first)."""
    positions, u = extra
    batch, n_in = x.shape
    grad_buffer[:, :n_in].zero_()
    grad_buffer[:, tables.rows * n_in:].zero_()
    gathered = ws.get("gathered", positions.shape, x)
    torch.gather(grad_buffer, 1, positions.view(batch, -1), out=gathered.view(batch, -1))
    slopes = _horner(tables.dpoly, u, ws.get("slopes", positions.shape, x))
    slopes.mul_(gathered)
    return out.add_(slopes.sum(1))


def _input_grad_recursion(grad_buffer, x, tables, ws, out):
    """dB_m,k/dx = k (B_m,k-1 / (t_m+k - t_m) - B_m+1,k-1 / (t_m+k+1 - t_m+1))."""
    batch, n_in = x.shape
    k = tables.k
    grad_bases = grad_buffer[:, n_in:(1 + tables.n_bases) * n_in].view(batch, tables.n_bases, n_in)
    lower = _cox_de_boor(x, tables, ws, k - 1)  # (batch, n_bases + 1, in)
    lower = lower.mul_(tables.inv_spans[k - 1])
    slope = torch.sub(lower[:, :-1], lower[:, 1:], out=ws.get("slopes", grad_bases.shape, x))
    return out.add_(slope.mul_(grad_bases).sum(1), alpha=k)


def _weight(coef, scale_base, scale_sp, mask) -> torch.Tensor:
    """((G+k+1) * in, out): row block 0 = scale_base, block 1 + m = scale_sp * coef[:, :, m]; masked."""
    n_in, n_out, n_bases = coef.shape
    weight = coef.new_empty(1 + n_bases, n_in, n_out)
    torch.mul(scale_base, mask, out=weight[0])
    torch.mul(coef.permute(2, 0, 1), scale_sp * mask, out=weight[1:])
    return weight.view(-1, n_out)


# below this many outputs, BLAS is faster on the transposed forward product (out, batch) = W^T features^T;
# the weight gradient is computed transposed, (out, features), at every width (never slower, much faster
# for narrow layers)
_NARROW = 32


class _KANLinear(torch.autograd.Function):
    """y = features(x) @ weight(coef, scale_base, scale_sp, mask); saves x and the parameters only.

    On CPU the batch is processed in chunks whose buffers stay in cache (features in forward; in
    backward, the features again, their gradient and the input gradient)."""

    @staticmethod
    def forward(ctx, x, coef, scale_base, scale_sp, mask, tables):
        ws = _workspace()
        weight = _weight(coef, scale_base, scale_sp, mask)
        n_out = coef.shape[1]
        narrow = n_out < _NARROW
        out = x.new_empty((n_out, x.shape[0]) if narrow else (x.shape[0], n_out))
        fused = tables.native(x)
        for start, stop in _chunks(x, tables):
            features, _ = _features(x[start:stop], tables, ws, fused)
            if narrow:
                torch.mm(weight.T, features.T, out=out[:, start:stop])
            else:
                torch.mm(features, weight, out=out[start:stop])
        ctx.save_for_backward(x, coef, scale_base, scale_sp, mask, weight)
        ctx.tables = tables
        return out.T if narrow else out

    @staticmethod
    def backward(ctx, grad_out):
        x, coef, scale_base, scale_sp, mask, weight = ctx.saved_tensors
        tables, ws = ctx.tables, _workspace()
        n_in, n_out = coef.shape[:2]
        grad_x = grad_coef = grad_base = grad_sp = None
        want_x, want_weight = ctx.needs_input_grad[0], any(ctx.needs_input_grad[1:4])
        grad_out = grad_out.contiguous()
        grad_weight = x.new_empty(n_out, weight.shape[0]) if want_weight else None  # transposed, see _NARROW
        if want_x:
            grad_x = torch.empty_like(x)
        fused = tables.native(x)
        for start, stop in _chunks(x, tables):
            xc, grad_c = x[start:stop], grad_out[start:stop]
            features, extra = _features(xc, tables, ws, fused)
            if want_weight:
                torch.addmm(grad_weight, grad_c.T, features, beta=1 if start else 0, out=grad_weight)
            if want_x:
                grad_buffer = _feature_buffer(xc, tables, ws, "grad_features")
                torch.mm(grad_c, weight.T, out=grad_buffer[:, :tables.rows * n_in])
                torch.ops.aten.silu_backward.grad_input(grad_buffer[:, :n_in], xc, grad_input=grad_x[start:stop])
                if tables.k > 0:
                    if fused is not None:
                        native.add_input_grad(fused, xc, grad_buffer, grad_x[start:stop])
                    elif tables.uniform:
                        _input_grad_uniform(grad_buffer, xc, tables, extra, ws, grad_x[start:stop])
                    else:
                        _input_grad_recursion(grad_buffer, xc, tables, ws, grad_x[start:stop])
        if want_weight:  # in the parameters' own layouts, so they accumulate without copies
            per_row = grad_weight.view(n_out, tables.rows, n_in)
            grad_spline = torch.empty_like(coef).copy_(per_row[:, 1:].permute(2, 0, 1))  # (in, out, G+k)
            if ctx.needs_input_grad[2]:
                grad_base = torch.mul(per_row[:, 0].T, mask, out=torch.empty_like(scale_base))
            if ctx.needs_input_grad[3]:
                grad_sp = torch.linalg.vecdot(grad_spline, coef).mul_(mask)
            if ctx.needs_input_grad[1]:
                grad_coef = grad_spline.mul_((scale_sp * mask).unsqueeze(-1))
        return grad_x, grad_coef, grad_base, grad_sp, None, None


def kan_linear(x: torch.Tensor, coef: torch.Tensor, scale_base: torch.Tensor, scale_sp: torch.Tensor,
               mask: torch.Tensor, tables: SplineTables) -> torch.Tensor:
    """One KAN layer as one GEMM: features(x) (batch, (G + k + 1) * in) @ weight -> (batch, out).

    The weight's rows are ordered (feature row, input): row block 0 is the silu base
    (scale_base * mask), block 1 + m the coefficient of B_m (scale_sp * mask * coef[:, :, m]).
    x must be 2-D and of the tables' dtype.
    """
    return _KANLinear.apply(x.contiguous(), coef, scale_base, scale_sp, mask, tables)
