"""Reproduction for `lssl` (Gu et al., 2021, arXiv:2110.13985): long-range memory against an RNN.

Claim: stacked linear state-space layers with HiPPO-structured A capture long-range dependencies
better than RNNs on long sequences (the paper's sequential / permuted MNIST and speech results).

Protocol, fixed before running:
- Task `lssl/delayed-digits` at length 256: an 8x8 digit read pixel by pixel (64 steps), then 192
  blank steps; the class is read out at the last step, so a model must carry the digit across 192
  steps of zeros. Why 256: it is 4x the digit, long enough that a gradient-trained LSTM must bridge a
  lag three times the signal's length (the regime where the paper's RNN baselines fall behind), and
  short enough that 3 seeds x 2 models fit the CPU budget.
- LSSL: 2 blocks, H = 32 features, N = 32 (HiPPO-LegS order), M = 1, no dropout, bilinear
  discretisation, A, B and dt trained, dt log-uniform in [1e-4, 1e-1] (the paper's init), readout
  of the last step. LSTM baseline: one layer, its width chosen so that its parameter count is the
  LSSL's (within a few percent), linear readout of its last hidden state.
- Same budget for both: zoo.train, AdamW, lr 5e-3 (constant), gradient norm clipped at 1, batch 64,
  10 epochs (180 steps); seeds 0, 1, 2 (initialisation and data order). The size and lr were set by
  two probes before this protocol (seed 0, 80-140 steps of a hand loop): the LSSL learned plain
  sequential digits (length 64) to 82% validation accuracy in 80 steps and the length-256 task to 65%
  in 140 steps; a 4-block H = 64 network cost 6x more per step on the shared machine.
- Check (per seed): test accuracy of the LSSL > test accuracy of the LSTM at length 256.

Control, fixed before running and run on every seed: the same two models and budget at length 64
(no delay: plain sequential digits). If the LSTM learns the digits at length 64 but not at 256, its
loss at 256 comes from the length (the claim's regime), not from an undertrained baseline; if it
fails at 64 too, our budget is what fails it, and the record says so.

Departures (budget): sequential 8x8 digits with a blank delay instead of sequential MNIST (784
steps); a much smaller network than the paper's (H = 32, N = 32, 2 layers against H = 256,
N = 256, 6 layers); 180 optimiser steps instead of the paper's long schedules; one shared optimiser
setting for both models instead of per-model tuning.

    zoo reproduce lssl --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

LENGTH, CONTROL_LENGTH = 256, 64
LSSL_SIZE = {"d_model": 32, "d_state": 32, "channels": 1, "n_layers": 2, "dropout": 0.0}
TRAIN = {"batch_size": 64, "lr": 5e-3, "clip_grad_norm": 1.0, "optimizer": "adamw"}
EPOCHS = 10


class LSTMClassifier(nn.Module):
    """The RNN baseline: one LSTM layer, a linear readout of the last hidden state."""

    def __init__(self, in_features: int, hidden: int, num_classes: int):
        super().__init__()
        self.lstm = nn.LSTM(in_features, hidden, batch_first=True)
        self.readout = nn.Linear(hidden, num_classes)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.readout(self.lstm(u)[0][:, -1])


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def matched_lstm_width(target: int, in_features: int = 1, num_classes: int = 10) -> int:
    """The LSTM width whose parameter count is closest to `target`."""
    size = lambda h: 4 * h * (in_features + h + 2) + (h + 1) * num_classes  # noqa: E731
    return min(range(4, 1024), key=lambda h: abs(size(h) - target))


def train_one(kind: str, length: int, seed: int, epochs: int, size: dict) -> dict:
    task = zoo.get_task("lssl/delayed-digits", length=length)
    torch.manual_seed(seed)
    if kind == "LSSL":
        model = zoo.create("lssl", task=task, **size)
    else:
        lssl_params = count(zoo.create("lssl", task=task, **size))
        model = LSTMClassifier(1, matched_lstm_width(lssl_params), 10)
    start = time.time()
    result = zoo.train(model, task, epochs=epochs, seed=seed, eval_splits=["val"], final_splits=["test"],
                       progress=False, **TRAIN)
    out = {"test": result.final["test_accuracy"], "val_curve": [h.get("val_accuracy") for h in result.history],
           "params": count(model), "seconds": time.time() - start}
    print(f"  {kind} length {length} seed {seed}: test {out['test']:.3f} val {out['val_curve']} "
          f"({out['params']} params, {out['seconds']:.0f} s)", flush=True)
    return out


def figure(run: Run, results: dict, seeds, lengths) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = "lssl_vs_lstm.png"
    fig, axes = plt.subplots(1, len(lengths), figsize=(5 * len(lengths), 3.4), squeeze=False)
    for ax, length in zip(axes[0], lengths):
        for kind, color in (("LSSL", "tab:blue"), ("LSTM", "tab:orange")):
            for s in seeds:
                curve = results[(kind, length, s)]["val_curve"]
                ax.plot(range(1, len(curve) + 1), curve, color=color, alpha=0.7,
                        label=kind if s == seeds[0] else None)
        ax.axhline(0.1, color="gray", ls=":", lw=1)
        ax.set_title(f"length {length} ({length - 64} blank steps)", fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("val accuracy")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(run.figure(name), dpi=110)
    plt.close(fig)
    return name


def reproduce(run: Run) -> None:
    seeds = list(run.pick((0, 1, 2), (0,)))
    epochs = run.pick(EPOCHS, 1)
    length = run.pick(LENGTH, 96)
    size = run.pick(LSSL_SIZE, {**LSSL_SIZE, "d_model": 16, "d_state": 16, "n_layers": 1})
    lengths = (length, CONTROL_LENGTH)
    torch.set_num_threads(1)
    start = time.time()
    results = {(kind, ell, s): train_one(kind, ell, s, epochs, size)
               for ell in lengths for s in seeds for kind in ("LSSL", "LSTM")}

    def tests(kind, ell):
        return [results[(kind, ell, s)]["test"] for s in seeds]

    check = Check(f"test accuracy at length {length}: LSSL > LSTM of equal parameter count", ours=tests("LSSL", length),
                  versus=tests("LSTM", length), better="higher")
    lstm_short, lstm_long = np.mean(tests("LSTM", CONTROL_LENGTH)), np.mean(tests("LSTM", length))
    if lstm_short > lstm_long + 0.2:
        control = (f"the LSTM learns plain sequential digits in the same budget (length {CONTROL_LENGTH}: "
                   f"{100 * lstm_short:.1f}%) and loses {100 * (lstm_short - lstm_long):.1f} points at length {length}: "
                   f"the delay, not an undertrained baseline, is what it fails on")
    else:
        control = (f"the LSTM is no better at length {CONTROL_LENGTH} ({100 * lstm_short:.1f}%) than at {length} "
                   f"({100 * lstm_long:.1f}%): our budget, not only the delay, limits the baseline")
    rows = [[kind, ell, f"{results[(kind, ell, seeds[0])]['params']:,}"]
            + [f"{100 * v:.1f}" for v in tests(kind, ell)] + [f"{100 * np.mean(tests(kind, ell)):.1f}"]
            for ell in lengths for kind in ("LSSL", "LSTM")]
    lssl_params, lstm_params = results[("LSSL", length, seeds[0])]["params"], results[("LSTM", length, seeds[0])]["params"]
    summary = (f"Test accuracy on delayed sequential digits after {epochs} epochs ({epochs * 18} steps), mean of "
               f"{len(seeds)} seeds: at length {length} ({length - 64} blank steps after the digit) LSSL "
               f"{100 * np.mean(tests('LSSL', length)):.1f}% vs LSTM {100 * lstm_long:.1f}% (per seed "
               f"{', '.join(f'{100 * a:.1f} vs {100 * b:.1f}' for a, b in zip(tests('LSSL', length), tests('LSTM', length)))}); "
               f"control at length {CONTROL_LENGTH} (no delay): LSSL {100 * np.mean(tests('LSSL', CONTROL_LENGTH)):.1f}% vs "
               f"LSTM {100 * lstm_short:.1f}%: {control}. Parameters: LSSL {lssl_params:,}, LSTM {lstm_params:,}. "
               f"Scaled down from the paper (H = {size['d_model']}, N = {size['d_state']}, {size['n_layers']} layers; "
               f"8x8 digits instead of MNIST).")
    print(summary)
    run.record(
        "lssl",
        claim="Stacked linear state-space layers with HiPPO-structured A capture long-range dependencies better than "
              "RNNs on long sequences.",
        seeds=seeds, checks=[check], summary=summary,
        setup=(f"Task lssl/delayed-digits (sklearn 8x8 digits pixel by pixel, then blank steps; 1149 / 288 / 360), "
               f"length {length}, control length {CONTROL_LENGTH}. LSSL: {size['n_layers']} pre-norm residual blocks, "
               f"H = {size['d_model']}, N = {size['d_state']}, M = {size['channels']}, dropout {size['dropout']}, "
               f"HiPPO-LegS A, B trained, dt log-uniform in [1e-4, 1e-1] trained, bilinear, convolution view, last-step "
               f"readout. LSTM: 1 layer of {matched_lstm_width(lssl_params)} units (parameter count matched), last "
               f"hidden state readout. Both: zoo.train, AdamW lr {TRAIN['lr']} constant, clip 1.0, batch "
               f"{TRAIN['batch_size']}, {epochs} epochs, seeds {seeds}. Departures: 8x8 digits with a delay instead "
               f"of sequential MNIST; paper network H = N = 256, 6 layers; far shorter training (CPU budget)."),
        table={"columns": ["model", "length", "params"] + [f"seed {s} test %" for s in seeds] + ["mean %"], "rows": rows},
        paper={"note": "Paper Table 2 (sequential / permuted MNIST, 784 steps): LSSL 99.53 / 98.76 % test accuracy "
                       "against LSTM 98.9 / 95.11 % and other RNNs; Table 4: 16000-step speech commands, LSSL beats "
                       "prior models by 24 points."},
        figures=[figure(run, results, seeds, lengths)],
        data={"results": {f"{k}/{ell}/seed{s}": v for (k, ell, s), v in results.items()}, "control": control,
              "seconds": time.time() - start},
    )
