"""The KAN layer's basis and its input gradient as Triton kernels, for CUDA tensors.

The GEMMs of a KAN layer already run in cuBLAS; what the tensor-op path spends its time on is the
basis: locate, Horner, scatter and, in backward, gather, each a pass over (batch, in, k + 1)
tensors. These kernels do one element's work in registers, like native.cpp on the CPU: find the
knot interval by binary search over the input's knots (any grid: uniform or adapted), evaluate the
k + 1 active bases by Horner's rule on the per-interval polynomials of `interval_polynomials`
(fitted to the Cox-de Boor oracle), and write them into the feature row; in backward, gather the
feature gradients of those k + 1 bases and weigh them by the polynomials' derivatives.

Triton ships with CUDA builds of torch. `TritonGrid.available(x)` is False, and the layer runs the
tensor-op path, for CPU tensors, dtypes other than float32/float64, when Triton cannot be imported,
or with PAPERZOO_KAN_TRITON=0. With TRITON_INTERPRET=1 set before the kernels are imported, they
run on CPU tensors in Triton's interpreter: that is how the test suite checks them without a GPU.
"""

from __future__ import annotations

import functools
import math
import os

import torch

__all__ = ["TritonGrid", "triton_available"]

_BLOCK = 256  # elements (sample, input) per program


def _kernels():
    """The jitted kernels (imported on first use: TRITON_INTERPRET is read when they are defined)."""
    from . import gpu_kernels

    return gpu_kernels.features_kernel, gpu_kernels.input_grad_kernel


@functools.cache
def triton_available() -> bool:
    """Whether Triton can be imported (it ships with CUDA builds of torch)."""
    try:
        import triton  # noqa: F401
    except Exception:  # an absent or broken install: the tensor-op path runs instead
        return False
    return True


class TritonGrid:
    """The tables the kernels read for a grid's `SplineTables`, on the input's device, in its dtype:
    knots (in, n_knots), 1 / width (in, n_int), the active bases' polynomials (in, n_int, k+1, k+1)
    and their x-derivatives (in, n_int, k+1, k)."""

    DTYPES = (torch.float32, torch.float64)

    @staticmethod
    def available(x: torch.Tensor) -> bool:
        """Whether the kernels cover x: a CUDA tensor of a dtype they are written for, Triton
        importable, and not switched off with PAPERZOO_KAN_TRITON=0 (read at every call, so a
        benchmark can compare both paths in one process)."""
        return (x.is_cuda and x.dtype in TritonGrid.DTYPES and os.environ.get("PAPERZOO_KAN_TRITON", "1") != "0"
                and triton_available())

    def __init__(self, tables, device: torch.device):
        from .spline import interval_polynomials

        self.k, self.n_in, self.n_knots, self.n_bases = tables.k, tables.n_in, tables.n_knots, tables.n_bases
        poly, dpoly, inv_width = interval_polynomials(tables.knots, tables.k)
        dtype = tables.dtype
        self.knots = tables.knots.to(device=device, dtype=dtype).contiguous()
        self.inv_width = inv_width.to(device=device, dtype=dtype).contiguous()
        self.poly = poly.to(device=device, dtype=dtype).contiguous()
        self.dpoly = dpoly.to(device=device, dtype=dtype).contiguous()
        self.search_steps = max(1, math.ceil(math.log2(self.n_knots - 1)))  # halvings of [0, n_knots - 1]

    def _row_blocks(self, x: torch.Tensor, row_stride: int):
        """Row ranges of x small enough for the kernels' 32-bit offsets."""
        rows = max(1, (2**31 - 1) // max(row_stride, x.shape[1]))
        return [(start, min(start + rows, x.shape[0])) for start in range(0, x.shape[0], rows)]

    def features(self, x: torch.Tensor, out: torch.Tensor) -> None:
        """Write B_m(x_i) into out[b, i * n_bases + m] (out: (batch, in * n_bases), rows may be
        strided); x: contiguous (batch, in)."""
        features_kernel, _ = _kernels()
        out.zero_()
        for start, stop in self._row_blocks(x, out.stride(0)):
            xb, n = x[start:stop], (stop - start) * self.n_in
            features_kernel[(-(-n // _BLOCK),)](
                xb, self.knots, self.inv_width, self.poly, out[start:stop], n, self.n_in, self.n_knots, self.n_bases,
                out.stride(0), K=self.k, SEARCH_STEPS=self.search_steps, BLOCK=_BLOCK)

    def add_input_grad(self, x: torch.Tensor, grad_features: torch.Tensor, grad_x: torch.Tensor) -> None:
        """grad_x += sum_m dL/dB_m(x) * B_m'(x) over the k + 1 active bases (k >= 1; grad_x
        contiguous like x)."""
        _, input_grad_kernel = _kernels()
        for start, stop in self._row_blocks(x, grad_features.stride(0)):
            n = (stop - start) * self.n_in
            input_grad_kernel[(-(-n // _BLOCK),)](
                x[start:stop], self.knots, self.inv_width, self.dpoly, grad_features[start:stop], grad_x[start:stop],
                n, self.n_in, self.n_knots, self.n_bases, grad_features.stride(0), K=self.k,
                SEARCH_STEPS=self.search_steps, BLOCK=_BLOCK)
