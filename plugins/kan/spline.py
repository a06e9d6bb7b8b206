"""B-spline evaluation for KAN layers: the Cox-de Boor oracle and the fast two-GEMM path.

`b_spline_basis` is the textbook Cox-de Boor recursion (the paper's B-splines, as in pykan); it is
the correctness oracle and is used where speed does not matter (least-squares refits, plots).

`kan_linear` is the hot path of a KAN layer. It rests on three facts:

1. On each knot interval [t_j, t_j+1) only k + 1 B-splines are non-zero, and each is a polynomial
   of degree k in the local coordinate u = (x - t_j) / (t_j+1 - t_j). On a uniform grid (the
   initial one) these k + 1 polynomials are the same on every interval; `SplineTables` computes
   their coefficients once per grid (in float64, by sampling the Cox-de Boor oracle at k + 1
   points and solving the Vandermonde system). Evaluating the basis is then: find the interval by
   arithmetic, run Horner's rule k times, place k + 1 values.
2. The layer is two GEMMs: silu(x) (batch, in) @ the base weight (scale_base * mask, (in, out)),
   plus the basis B(x) laid out (batch, in, G + k) times the spline weight held as
   (out, in, G + k) = (scale_sp * mask * coef) with in and out swapped. Both weights come from the
   parameters (pykan's layout, coef (in, out, G + k)) by element-wise products and, for the spline
   weight, a copy of whole G + k rows: no strided transposes, and no (batch, in, out) tensor.
3. On CPU, float32/float64 inputs evaluate the basis and its input gradient in the fused kernels
   of native.cpp (compiled on first use; see native.py): one vectorised pass per element. On
   CUDA the same work runs in Triton kernels (gpu.py). The tensor-op path below (uniform grids:
   locate, Horner, scatter; adapted grids: the recursion) runs for other dtypes (half precision),
   without Triton and on machines without a C++ compiler.

`_KANLinear` is a custom autograd Function that keeps only x and the parameters for the backward
pass and recomputes the basis there (saved activations per layer: batch x in, as for an MLP). It
returns the parameters' gradients directly, in their own layouts. The input gradient weighs the
feature gradients of the k + 1 active bases by the polynomials' derivatives.

On CPU the batch runs in chunks of about `_CHUNK_ELEMENTS` features so that the basis stays in
cache between its evaluation and the GEMM that reads it; the chunk-sized buffers live in per-thread
workspaces reused across calls (fresh multi-megabyte buffers cost page faults as expensive as the
arithmetic on small machines). Layers with few outputs run their GEMMs transposed, which BLAS does
several times faster for (batch x 10)-shaped products. On accelerators the same code runs on the
whole batch at once, with the allocator's own caching.
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


def interval_polynomials(knots: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The k + 1 active bases of every (input, interval) of a float64 grid (in, n_knots) as
    polynomials of the local coordinate u = (x - t_j) / (t_j+1 - t_j), fitted to the Cox-de Boor
    oracle at k + 1 Chebyshev points of each interval (exact: they are polynomials of degree k).

    Returns poly (in, n_int, k + 1, k + 1) [input, interval, active basis r, power of u], its
    derivative in x, dpoly (in, n_int, k + 1, k) (d/du times 1 / width), and 1 / width (in, n_int),
    0 for empty intervals. The r-th active basis of interval j is B_{j-k+r}; absent ones are 0."""
    n_in, n_knots = knots.shape
    n_int, n_bases = n_knots - 1, n_knots - 1 - k
    nodes = chebyshev_nodes(k + 1).to(knots.device)
    vandermonde = nodes[:, None] ** torch.arange(k + 1, dtype=torch.float64, device=knots.device)
    widths = knots[:, 1:] - knots[:, :-1]  # (in, n_int)
    samples = knots[:, :-1, None] + widths[..., None] * nodes  # (in, n_int, node)
    values = b_spline_basis(samples.permute(1, 2, 0).reshape(-1, n_in), knots, k)  # (n_int * node, in, m)
    values = values.reshape(n_int, k + 1, n_in, n_bases).permute(2, 0, 1, 3)  # (in, j, node, m)
    m = torch.arange(n_int, device=knots.device)[:, None] - k + torch.arange(k + 1, device=knots.device)  # (j, r)
    valid = (m >= 0) & (m < n_bases)
    index = m.clamp(0, n_bases - 1)[None, :, None, :].expand(n_in, -1, k + 1, -1)
    active = values.gather(3, index) * valid[None, :, None, :]  # (in, j, node, r)
    poly = torch.linalg.solve(vandermonde, active).transpose(2, 3)  # (in, j, r, p)
    inv_width = torch.where(widths > 0, 1 / widths.clamp_min(1e-300), torch.zeros((), dtype=torch.float64,
                                                                                   device=knots.device))
    powers = torch.arange(1, k + 1, dtype=torch.float64, device=knots.device)
    dpoly = poly[..., 1:] * powers * inv_width[..., None, None]  # d/dx
    return poly, dpoly, inv_width


class SplineTables:
    """What the fast path needs to know about a (in, G + 2k + 1) grid, in `dtype`.

    Uniform rows (the initial grid, grid_eps = 1 updates): every basis is the same cardinal
    B-spline, so on any interval the k + 1 active bases are the same k + 1 polynomials of the local
    coordinate u = (x - t_j) / h. Their coefficients (`poly`, (p, in, r)) are computed in float64
    by sampling the Cox-de Boor oracle at k + 1 points of an interior interval and solving the
    Vandermonde system. Non-uniform rows (after `update_grid`): the recursion, with precomputed
    reciprocal knot spans. The fused CPU kernels have their own tables (`native`).
    """

    def __init__(self, grid: torch.Tensor, k: int, dtype: torch.dtype):
        knots = grid.detach().to(torch.float64)
        n_in, n_knots = knots.shape
        self.k, self.n_in, self.n_knots = k, n_in, n_knots
        self.n_intervals, self.n_bases = n_knots - 1, n_knots - 1 - k
        self.knots, self.dtype, self._native, self._gpu = knots, dtype, None, None
        widths = knots[:, 1:] - knots[:, :-1]  # (in, n_int)
        mean = widths.mean(1, keepdim=True)
        tolerance = 1e-12 if dtype == torch.float64 else 1e-5  # knot spacing equal to the dtype's rounding
        self.uniform = bool(((widths - mean).abs() <= tolerance * mean.abs()).all() and (mean > 0).all())
        if self.uniform:
            self._uniform_tables(knots, mean[:, 0], dtype)
        else:
            self.knots_t = knots.T.contiguous().to(dtype)  # (n_knots, in): inputs innermost
            spans = [knots[:, p:] - knots[:, :-p] for p in range(1, k + 1)]  # t_{m+p} - t_m
            # 1 / span, 0 for empty spans (repeated knots), as Cox-de Boor's 0/0 := 0 convention
            self.inv_spans = [torch.where(s > 0, 1 / s.clamp_min(1e-300), torch.zeros((), dtype=s.dtype)).T
                              .contiguous().to(dtype) for s in spans]  # each (n_knots - p, in)

    def native(self, x: torch.Tensor) -> "native.NativeGrid | None":
        """The fused CPU kernels' tables for x, or None (the tensor-op path): not on CPU, a dtype they
        do not cover (float16, bfloat16), tables past native.MAX_TABLE_BYTES, or no compiled library
        (see native.py)."""
        if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or native.library() is None:
            return None
        if native.table_bytes(self) > native.MAX_TABLE_BYTES:
            return None
        if self._native is None:
            self._native = native.NativeGrid(self)
        return self._native

    def gpu(self, x: torch.Tensor) -> "gpu.TritonGrid | None":
        """The Triton kernels' tables for x, or None: not on CUDA, a dtype they do not cover, or no
        Triton (see gpu.py)."""
        from .gpu import TritonGrid

        if not TritonGrid.available(x):
            return None
        if self._gpu is None or self._gpu.knots.device != x.device:
            self._gpu = TritonGrid(self, x.device)
        return self._gpu

    def _uniform_tables(self, knots: torch.Tensor, width: torch.Tensor, dtype: torch.dtype) -> None:
        k, device = self.k, knots.device
        nodes = chebyshev_nodes(k + 1).to(device)
        j = k  # an interval where all k + 1 active bases exist (there is one: n_int >= 2k + 1)
        samples = knots[:, j, None] + width[:, None] * nodes  # (in, node)
        values = b_spline_basis(samples.T.reshape(-1, self.n_in), knots, k)  # (node, in, G+k)
        active = values[:, :, j - k:j + 1]  # (node, in, r)
        vandermonde = nodes[:, None] ** torch.arange(k + 1, dtype=torch.float64, device=device)
        poly = torch.linalg.solve(vandermonde, active.reshape(k + 1, -1)).reshape(k + 1, self.n_in, k + 1)
        poly = poly.permute(0, 2, 1)  # (p, r, in): inputs innermost, so the element-wise ops vectorise
        self.poly = poly.contiguous().to(dtype)
        powers = torch.arange(1, k + 1, dtype=torch.float64, device=device)[:, None, None]
        self.dpoly = (poly[1:] * powers / width).contiguous().to(dtype)  # d/dx = d/du / h
        self.scale = (1 / width).to(dtype)  # s = (x - t_0) / h: interval index + u
        self.shift = (-knots[:, 0] / width).to(dtype)
        # the r-th active basis of interval j is B_{j-k+r}: feature column i * (G + k) + j - k + r
        self.offsets = (torch.arange(k + 1, device=device) - k)[:, None]  # (r, 1)
        self.starts = torch.arange(self.n_in, device=device) * self.n_bases  # (in,)


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
        return (buffer if buffer.numel() == numel else buffer[:numel]).view(shape)


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


# feature elements per CPU chunk of the batch and thread: each thread's share of the chunk's basis
# stays in its core's cache until the GEMM reads it
_CHUNK_ELEMENTS = 1 << 19


def _chunks(x: torch.Tensor, tables: SplineTables) -> list[tuple[int, int]]:
    """Row ranges of the batch processed together (the whole batch on accelerators)."""
    batch = x.shape[0]
    per_chunk = _CHUNK_ELEMENTS * torch.get_num_threads()
    count = 1 if x.device.type != "cpu" else -(-batch * tables.n_in * (tables.n_bases + 1) // per_chunk)
    rows = -(-batch // count)  # equal chunks
    return [(start, min(start + rows, batch)) for start in range(0, batch, rows)]


def _horner(poly: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """sum_p poly[p] u^p for poly (P, r, in) and u (batch, 1, in): (batch, r, in)."""
    if poly.shape[0] == 1:
        return poly[0].expand(u.shape[0], *poly.shape[1:])
    out = torch.addcmul(poly[-2], poly[-1], u)
    for p in range(poly.shape[0] - 3, -1, -1):
        out = torch.addcmul(poly[p], out, u, out=out)
    return out


def _locate_uniform(x: torch.Tensor, tables: SplineTables):
    """Feature columns of the k + 1 active bases of x (batch, in) as (batch, (k + 1) * in) int64,
    whether each exists (batch, k + 1, in), and the local coordinate u (batch, 1, in)."""
    s = torch.addcmul(tables.shift, x, tables.scale)
    interval = torch.floor(s)
    u = s.sub_(interval).unsqueeze(1)
    m = interval.clamp_(-1, tables.n_intervals).long().unsqueeze(1) + tables.offsets  # basis index (batch, r, in)
    exists = (m >= 0) & (m < tables.n_bases)  # not near the grid's ends, x inside the extended grid
    positions = m.clamp_(0, tables.n_bases - 1).add_(tables.starts)
    return positions.view(x.shape[0], -1), exists, u


def _recursion(x: torch.Tensor, tables: SplineTables, order: int) -> torch.Tensor:
    """Bases of order `order` of x (batch, in) by Cox-de Boor: (batch, n_knots - 1 - order, in)."""
    diff = x.unsqueeze(1) - tables.knots_t  # (batch, n_knots, in)
    above = (diff >= 0).to(x.dtype)  # 1 where x >= t_m
    bases = above[:, :-1] - above[:, 1:]
    for p in range(1, order + 1):
        count, inv = bases.shape[1] - 1, tables.inv_spans[p - 1]
        left = diff[:, :count] * inv[:count] * bases[:, :-1]
        right = diff[:, p + 1:p + 1 + count] * inv[1:count + 1] * bases[:, 1:]
        bases = left.sub_(right)  # (t_{m+p+1} - x) = -diff[m + p + 1]
    return bases


def _features(x: torch.Tensor, tables: SplineTables, ws: _Workspace, fused):
    """The basis of x (batch, in) laid out (batch, in * (G + k)), in a workspace; for the tensor-op
    uniform path also what `_locate_uniform` found. `fused`: tables.native(x)."""
    batch, n_in = x.shape
    features = ws.get("features", (batch, n_in * tables.n_bases), x)
    located = None
    if fused is not None:
        native.features(fused, x, features)
    elif (kernels := tables.gpu(x)) is not None:
        kernels.features(x, features)
    elif tables.uniform:
        located = positions, exists, u = _locate_uniform(x, tables)
        values = _horner(tables.poly, u) * exists
        features.zero_().scatter_add_(1, positions, values.view(batch, -1))  # absent bases add 0
    else:
        features.view(batch, n_in, -1).copy_(_recursion(x, tables, tables.k).transpose(1, 2))
    return features, located


def _add_input_grad(x, grad_features, tables, fused, located, grad_x) -> None:
    """grad_x += sum_m dL/dB_m(x) * B_m'(x) over the k + 1 active bases of every input."""
    if fused is not None:
        native.add_input_grad(fused, x, grad_features, grad_x)
    elif (kernels := tables.gpu(x)) is not None:
        kernels.add_input_grad(x, grad_features, grad_x)
    elif tables.uniform:
        positions, exists, u = located
        gathered = grad_features.gather(1, positions).view(exists.shape)
        grad_x.add_((_horner(tables.dpoly, u) * gathered * exists).sum(1))
    else:  # dB_m,k/dx = k (B_m,k-1 / (t_m+k - t_m) - B_m+1,k-1 / (t_m+k+1 - t_m+1))
        lower = _recursion(x, tables, tables.k - 1) * tables.inv_spans[tables.k - 1]
        slopes = lower[:, :-1] - lower[:, 1:]  # (batch, G + k, in)
        grad_x.add_((slopes * grad_features.view(x.shape[0], x.shape[1], -1).transpose(1, 2)).sum(1),
                    alpha=tables.k)


def _weights(coef, scale_base, scale_sp, mask, fused, ws) -> tuple[torch.Tensor, torch.Tensor]:
    """The base weight (in, out) = scale_base * mask and the spline weight (out, in * (G + k)) =
    scale_sp * mask * coef with in and out swapped (whole G + k rows move; fused: into a workspace,
    read only until the layer's forward or backward returns)."""
    n_in, n_out, n_bases = coef.shape
    if fused is not None:
        spline = native.spline_weight(coef, scale_sp, mask, ws.get("spline_weight", (n_out, n_in, n_bases), coef))
    else:
        spline = coef.new_empty(n_out, n_in, n_bases)
        torch.mul(coef.transpose(0, 1), (scale_sp * mask).T.unsqueeze(-1), out=spline)
    return scale_base * mask, spline.view(n_out, -1)


# below this many outputs, BLAS is faster on the transposed forward products (out, batch) = W^T act^T;
# the weight gradients are computed transposed, (out, in), at every width (never slower, much faster
# for narrow layers)
_NARROW = 32


class _KANLinear(torch.autograd.Function):
    """y = silu(x) @ base + features(x) @ spline^T; saves x and the parameters only (the weights
    cost a pass over the parameters to rebuild, less than keeping them costs memory at small batch).

    On CPU the batch is processed in chunks whose buffers stay in cache (silu and basis in forward;
    in backward, the same again, their gradients and the input gradient)."""

    @staticmethod
    def forward(ctx, x, coef, scale_base, scale_sp, mask, tables):
        ws, fused = _workspace(), tables.native(x)
        base, spline = _weights(coef, scale_base, scale_sp, mask, fused, ws)
        n_out = coef.shape[1]
        narrow = n_out < _NARROW
        out = x.new_empty((n_out, x.shape[0]) if narrow else (x.shape[0], n_out))
        for start, stop in _chunks(x, tables):
            xc = x[start:stop]
            act = torch.ops.aten.silu.out(xc, out=ws.get("silu", xc.shape, xc))
            features, _ = _features(xc, tables, ws, fused)
            if narrow:
                chunk = out[:, start:stop]
                torch.mm(base.T, act.T, out=chunk)
                chunk.addmm_(spline, features.T)
            else:
                chunk = out[start:stop]
                torch.mm(act, base, out=chunk)
                chunk.addmm_(features, spline.T)
        ctx.save_for_backward(x, coef, scale_base, scale_sp, mask)  # the weights are rebuilt in backward
        ctx.tables = tables
        return out.T if narrow else out

    @staticmethod
    def backward(ctx, grad_out):
        x, coef, scale_base, scale_sp, mask = ctx.saved_tensors
        tables, ws, fused = ctx.tables, _workspace(), ctx.tables.native(x)
        base, spline = _weights(coef, scale_base, scale_sp, mask, fused, ws)
        n_in, n_out = coef.shape[:2]
        grad_x = grad_coef = grad_base = grad_sp = None
        want_x = ctx.needs_input_grad[0]
        want_spline, want_base = ctx.needs_input_grad[1] or ctx.needs_input_grad[3], ctx.needs_input_grad[2]
        grad_out = grad_out.contiguous()
        grad_spline_t = x.new_empty(spline.shape) if want_spline else None  # (out, in * (G + k))
        grad_base_t = x.new_empty(n_out, n_in) if want_base else None
        if want_x:
            grad_x = torch.empty_like(x)
        for start, stop in _chunks(x, tables):
            xc, grad_c = x[start:stop], grad_out[start:stop]
            beta = 1 if start else 0
            if want_base:
                act = torch.ops.aten.silu.out(xc, out=ws.get("silu", xc.shape, xc))
                torch.addmm(grad_base_t, grad_c.T, act, beta=beta, out=grad_base_t)
            if want_spline or (want_x and tables.k > 0):
                features, located = _features(xc, tables, ws, fused)
            if want_spline:
                torch.addmm(grad_spline_t, grad_c.T, features, beta=beta, out=grad_spline_t)
            if want_x:
                # the silu and basis buffers are read by now: their gradients take their places
                grad_act = torch.mm(grad_c, base.T, out=ws.get("silu", xc.shape, xc))
                torch.ops.aten.silu_backward.grad_input(grad_act, xc, grad_input=grad_x[start:stop])
                if tables.k > 0:  # order-0 bases are piecewise constant
                    grad_features = torch.mm(grad_c, spline, out=features)
                    _add_input_grad(xc, grad_features, tables, fused, located, grad_x[start:stop])
        if want_base:  # in the parameters' own layouts, so they accumulate without copies
            grad_base = torch.mul(grad_base_t.T, mask, out=torch.empty_like(scale_base))
        if want_spline and fused is not None:
            grad_coef, grad_sp = native.spline_grads(grad_spline_t.view(n_out, n_in, -1), coef, scale_sp, mask,
                                                     ctx.needs_input_grad[1], ctx.needs_input_grad[3])
        elif want_spline:
            grad_spline = torch.empty_like(coef).copy_(grad_spline_t.view(n_out, n_in, -1).transpose(0, 1))
            if ctx.needs_input_grad[3]:
                grad_sp = torch.linalg.vecdot(grad_spline, coef).mul_(mask)
            if ctx.needs_input_grad[1]:
                grad_coef = grad_spline.mul_((scale_sp * mask).unsqueeze(-1))
        return grad_x, grad_coef, grad_base, grad_sp, None, None


def kan_linear(x: torch.Tensor, coef: torch.Tensor, scale_base: torch.Tensor, scale_sp: torch.Tensor,
               mask: torch.Tensor, tables: SplineTables) -> torch.Tensor:
    """One KAN layer: silu(x) @ (scale_base * mask) + B(x) @ (scale_sp * mask * coef), summed over
    inputs and bases, as two GEMMs -> (batch, out). x must be 2-D and of the tables' dtype."""
    return _KANLinear.apply(x.contiguous(), coef, scale_base, scale_sp, mask, tables)
