"""Speed of `fan`: forward+backward of the default config (3 layers, width 2048, d_p = d/4, batch
256) against a plain PyTorch FAN written the obvious way (each FAN layer as two nn.Linear, for
W_p and W_pbar, then cos/sin/GELU and a concatenation, as in the authors' code), and against the
MLP of equal size (the paper's baseline), interleaved.

    zoo reproduce fan --part perf
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians

BATCH = 256


class ObviousFANLayer(nn.Module):
    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.p = nn.Linear(d_in, d_out // 4, bias=False)
        self.g = nn.Linear(d_in, d_out - d_out // 2)

    def forward(self, x):
        p = self.p(x)
        return torch.cat([torch.cos(p), torch.sin(p), F.gelu(self.g(x))], -1)


def obvious_fan(width: int, layers: int) -> nn.Module:
    dims = [1] + [width] * (layers - 1)
    return nn.Sequential(*[ObviousFANLayer(a, b) for a, b in zip(dims[:-1], dims[1:])], nn.Linear(width, 1))


def step(model, x, y) -> float:
    start = time.perf_counter()
    F.mse_loss(model(x), y).backward()
    return time.perf_counter() - start


def reproduce(run: Run) -> None:
    rounds = run.pick(8, 1)  # 8: what the recorded run used (the old --rounds default was 20)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    ours = zoo.create("fan")
    cfg = ours.config
    models = {"zoo fan": ours, "obvious fan": obvious_fan(cfg.hidden_dim, cfg.num_layers),
              "mlp (p_ratio=0)": zoo.create("fan", variant="mlp")}
    x, y = torch.randn(BATCH, 1), torch.randn(BATCH, 1)
    times = interleaved({k: (lambda m=m: step(m, x, y)) for k, m in models.items()}, rounds)
    med = medians(times)
    ratio = med["zoo fan"] / med["obvious fan"]
    vs_mlp = med["zoo fan"] / med["mlp (p_ratio=0)"]
    summary = (f"forward+backward, batch {BATCH}, width {cfg.hidden_dim}, {cfg.num_layers} layers: zoo FAN "
               f"{med['zoo fan'] * 1e3:.1f} ms, the obvious two-Linear FAN {med['obvious fan'] * 1e3:.1f} ms "
               f"(ratio {ratio:.2f}), the MLP of equal size {med['mlp (p_ratio=0)'] * 1e3:.1f} ms "
               f"(FAN/MLP {vs_mlp:.2f}). Median of {rounds} interleaved rounds, 1 thread.")
    print(summary)
    run.record(
        "perf", claim="forward+backward of the default config is no more than 1.2x slower than the most "
                      "direct plain-PyTorch alternative",
        verdict="measured", summary=summary,
        setup=f"1 torch thread, batch {BATCH}, default config, interleaved rounds, medians.",
        table={"columns": ["model", "median ms", "ratio to obvious FAN"],
               "rows": [[k, f"{v * 1e3:.2f}", f"{v / med['obvious fan']:.2f}"] for k, v in med.items()]},
        data={"times_s": times},
    )
