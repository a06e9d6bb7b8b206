"""Speed of `fourier-head`: forward+backward of the Fourier head (12 frequencies, 50 bins) against a
linear head of the same output size (nn.Linear to 50 logits), on the same input, interleaved, at
1 thread and at the default thread count; also the direct autocorrelation (Algorithm 1's shifted
sums) against the FFT one the head uses. Two input sizes: the toy model's (32 features, batch 32,
what one training step of the reproduction costs) and a larger one (512 features, batch 1024, a
transformer-sized hidden state).

    zoo reproduce fourier-head --part perf
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians
from zoo_plugins.fourier_head.model import FourierHead, autocorrelation_direct

SIZES = ((32, 32), (1024, 512))  # (batch, in_features)
BINS, FREQUENCIES = 50, 12


class DirectFourierHead(FourierHead):
    """The same head with the autocorrelation summed shift by shift."""

    def fourier_coefficients(self, x):
        params = self.coefficients(x)
        n = self.num_frequencies + 1
        return autocorrelation_direct(params[..., :n], params[..., n:])


def time_heads(rounds: int) -> dict:
    out = {}
    for batch, width in SIZES:
        torch.manual_seed(0)
        x = torch.randn(batch, width)
        heads = {"fourier (fft)": FourierHead(width, BINS, FREQUENCIES), "fourier (direct sums)":
                 DirectFourierHead(width, BINS, FREQUENCIES), "linear": nn.Linear(width, BINS)}
        times = interleaved({k: (lambda h=h: fwd_bwd_seconds(h, h, x)) for k, h in heads.items()}, rounds)
        out[f"batch {batch}, {width} features"] = times
    return out


def reproduce(run: Run) -> None:
    rounds = run.pick(50, 5)
    default_threads = torch.get_num_threads()
    results = {}
    for threads in (1, default_threads):
        torch.set_num_threads(threads)
        results[threads] = time_heads(rounds)
    torch.set_num_threads(default_threads)
    rows, parts = [], []
    for threads, by_size in results.items():
        for size, times in by_size.items():
            med = medians(times)
            for name, value in med.items():
                rows.append([threads, size, name, f"{value * 1e3:.3f}", f"{value / med['linear']:.2f}"])
            parts.append(f"{threads} thread(s), {size}: Fourier head {med['fourier (fft)'] * 1e3:.3f} ms vs linear "
                         f"{med['linear'] * 1e3:.3f} ms ({med['fourier (fft)'] / med['linear']:.1f}x; direct sums "
                         f"{med['fourier (direct sums)'] * 1e3:.3f} ms)")
    summary = ("Forward+backward of the head alone (output 50 bins, 12 frequencies), medians of "
               f"{rounds} interleaved rounds: " + "; ".join(parts) + ".")
    print(summary)
    run.record(
        "perf", claim="cost of the Fourier head against the linear head it replaces (same input, same output size)",
        verdict="measured", summary=summary,
        setup=f"Head only: FourierHead({{32, 512}} -> {BINS} bins, {FREQUENCIES} frequencies) vs nn.Linear to {BINS} "
              f"logits, loss mean(out^2), interleaved rounds, medians, at 1 thread and {default_threads} threads.",
        table={"columns": ["threads", "input", "head", "median ms", "ratio to linear"], "rows": rows},
        data={"times_s": {str(t): v for t, v in results.items()}},
    )
