"""Speed of `pointer-net`: forward+backward of the default config (256 units, teacher forcing,
n = 10 points, batch 128) against a plain PyTorch Ptr-Net written the obvious way (an LSTMCell
decoder stepped in Python, the pointer scores computed per step), same sizes, interleaved
A, B, A, B so machine load hits both alike.

    zoo reproduce pointer-net --part perf
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved

BATCH, N = 128, 10


class ObviousPtrNet(nn.Module):
    """Reference: LSTM encoder, LSTMCell decoder loop, u_j = v^T tanh(W1 e_j + W2 d_i) each step."""

    def __init__(self, hidden: int):
        super().__init__()
        self.encoder = nn.LSTM(2, hidden, batch_first=True)
        self.cell = nn.LSTMCell(2, hidden)
        self.w1, self.w2 = nn.Linear(hidden, hidden, bias=False), nn.Linear(hidden, hidden, bias=False)
        self.v = nn.Linear(hidden, 1, bias=False)
        self.end = nn.Parameter(torch.zeros(hidden))
        self.go = nn.Parameter(torch.zeros(2))

    def forward(self, points, targets):
        enc, (h, c) = self.encoder(points)
        enc = torch.cat([self.end.expand(points.shape[0], 1, -1), enc], 1)
        h, c = h[0], c[0]
        inp = self.go.expand(points.shape[0], -1)
        padded = torch.cat([self.go.expand(points.shape[0], 1, -1), points], 1)
        logits = []
        for i in range(targets.shape[1]):
            h, c = self.cell(inp, (h, c))
            logits.append(self.v(torch.tanh(self.w1(enc) + self.w2(h).unsqueeze(1))).squeeze(-1))
            inp = padded[torch.arange(points.shape[0]), targets[:, i].clamp_min(0)]
        return torch.stack(logits, 1)


def step(model, points, targets, zoo_model: bool) -> float:
    start = time.perf_counter()
    out = model(points, targets)
    logits = out["logits"] if zoo_model else out
    nn.functional.cross_entropy(logits.reshape(-1, N + 1), targets.reshape(-1), ignore_index=-100).backward()
    return time.perf_counter() - start


def reproduce(run: Run) -> None:
    rounds = run.pick(15, 2)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    from zoo_plugins.pointer_net.task import hull_targets

    points = torch.rand(BATCH, N, 2)
    targets = torch.from_numpy(hull_targets(points.numpy()))
    ours = zoo.create("pointer-net")
    ref = ObviousPtrNet(ours.config.hidden_size)
    times = interleaved({
        "zoo": lambda: step(ours, points, targets, True),
        "reference": lambda: step(ref, points, targets, False),
    }, rounds, warmup=2)
    a, b = times["zoo"], times["reference"]
    ratio = statistics.median(a) / statistics.median(b)
    summary = (f"forward+backward, batch {BATCH}, n={N}, 256 units: pointer-net {statistics.median(a) * 1e3:.1f} ms, "
               f"obvious LSTMCell loop {statistics.median(b) * 1e3:.1f} ms; ratio {ratio:.2f} (below 1 is faster). "
               "Teacher forcing lets the decoder run as one nn.LSTM call over all steps.")
    run.record("perf", claim="forward+backward at most 1.2x slower than a plain PyTorch reference",
               verdict="measured", summary=summary,
               setup=f"CPU, 1 thread, {rounds} interleaved rounds, medians",
               table={"columns": ["implementation", "median ms"],
                      "rows": [["zoo pointer-net", round(statistics.median(a) * 1e3, 2)],
                               ["obvious PyTorch (LSTMCell loop)", round(statistics.median(b) * 1e3, 2)]]},
               data={"ratio": ratio, "ours_s": a, "reference_s": b})
    print(summary)
