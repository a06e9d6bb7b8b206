"""Triton kernels of the KAN basis and its input gradient (see gpu.py for where they run).

Both find each element's knot interval by binary search and evaluate the k + 1 active bases, or
their derivatives, by Horner's rule on per-interval polynomials; one program handles BLOCK
(sample, input) elements of a contiguous (batch, in) input.
"""

import triton
import triton.language as tl


@triton.jit
def _locate(x, knots_row, n_knots, SEARCH_STEPS: tl.constexpr):
    """Interval j with t_j <= x < t_j+1, clamped to [0, n_knots - 2], and whether x is inside
    [t_0, t_last) (outside it every basis is 0, as the Cox-de Boor definition has it)."""
    low = tl.full(x.shape, 0, tl.int32)
    high = tl.full(x.shape, 0, tl.int32) + (n_knots - 1)
    for _ in tl.static_range(SEARCH_STEPS):  # invariant: t_low <= x < t_high when inside
        middle = (low + high) // 2
        above = x >= tl.load(knots_row + middle)
        low = tl.where(above, middle, low)
        high = tl.where(above, high, middle)
    inside = (x >= tl.load(knots_row)) & (x < tl.load(knots_row + n_knots - 1))
    return low, inside


@triton.jit
def features_kernel(x_ptr, knots_ptr, inv_width_ptr, poly_ptr, out_ptr, n_elements, n_in, n_knots, n_bases,
                    out_stride, K: tl.constexpr, SEARCH_STEPS: tl.constexpr, BLOCK: tl.constexpr):
    """out[b, i * n_bases + j - K + r] = P_{i,j,r}(u) for the K + 1 active bases (out zeroed)."""
    element = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    live = element < n_elements
    sample, feature = element // n_in, element % n_in
    x = tl.load(x_ptr + element, mask=live, other=0.0)
    knots_row = knots_ptr + feature * n_knots
    j, inside = _locate(x, knots_row, n_knots, SEARCH_STEPS)
    n_int = n_knots - 1
    u = (x - tl.load(knots_row + j, mask=live, other=0.0)) * tl.load(inv_width_ptr + feature * n_int + j,
                                                                      mask=live, other=0.0)
    row = poly_ptr + ((feature * n_int + j) * (K + 1)) * (K + 1)  # (r, p) block of this interval
    for r in tl.static_range(K + 1):
        value = tl.load(row + r * (K + 1) + K, mask=live, other=0.0)
        for p in tl.static_range(K - 1, -1, -1):  # Horner
            value = value * u + tl.load(row + r * (K + 1) + p, mask=live, other=0.0)
        basis = j - K + r
        keep = live & inside & (basis >= 0) & (basis < n_bases)
        tl.store(out_ptr + sample * out_stride + feature * n_bases + basis, value, mask=keep)


@triton.jit
def input_grad_kernel(x_ptr, knots_ptr, inv_width_ptr, dpoly_ptr, grad_features_ptr, grad_x_ptr, n_elements,
                      n_in, n_knots, n_bases, grad_stride, K: tl.constexpr, SEARCH_STEPS: tl.constexpr,
                      BLOCK: tl.constexpr):
    """grad_x[b, i] += sum_r dL/dB_{j-K+r} * P'_{i,j,r}(u), P' already in d/dx."""
    element = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    live = element < n_elements
    sample, feature = element // n_in, element % n_in
    x = tl.load(x_ptr + element, mask=live, other=0.0)
    knots_row = knots_ptr + feature * n_knots
    j, inside = _locate(x, knots_row, n_knots, SEARCH_STEPS)
    n_int = n_knots - 1
    u = (x - tl.load(knots_row + j, mask=live, other=0.0)) * tl.load(inv_width_ptr + feature * n_int + j,
                                                                      mask=live, other=0.0)
    row = dpoly_ptr + ((feature * n_int + j) * (K + 1)) * K  # (r, p) block, K powers each
    total = tl.full(x.shape, 0.0, x.dtype)
    for r in tl.static_range(K + 1):
        slope = tl.load(row + r * K + K - 1, mask=live, other=0.0)
        for p in tl.static_range(K - 2, -1, -1):  # Horner
            slope = slope * u + tl.load(row + r * K + p, mask=live, other=0.0)
        basis = j - K + r
        keep = live & inside & (basis >= 0) & (basis < n_bases)
        upstream = tl.load(grad_features_ptr + sample * grad_stride + feature * n_bases + basis, mask=keep,
                           other=0.0)
        total += tl.where(keep, slope * upstream, 0.0)
    previous = tl.load(grad_x_ptr + element, mask=live, other=0.0)
    tl.store(grad_x_ptr + element, previous + total, mask=live)
