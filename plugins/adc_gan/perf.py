"""Speed of `adc-gan`: one full training step (a discriminator+classifier update, then a generator
update: k_steps=1) of ADC-GAN against AC-GAN on the same networks (the synthetic experiment's,
batch 256 of 1D samples, 3 classes), and against the plain cGAN step of the `cgan` plugin (its
`toy2d` networks on the same data: no classifier, label fed to both players), interleaved, at
1 thread and at the default thread count. The steps run through each model's own
`training_step` with a minimal step context (zero_grad / backward / step), as zoo.train calls it.

    zoo reproduce adc-gan --part perf
"""

from __future__ import annotations

import time

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians

BATCH = 256


class Step:
    """The part of zoo's StepContext a GAN's training_step uses."""

    def __init__(self, optimizers):
        self.optimizers = optimizers

    def zero_grad(self, name):
        self.optimizers[name].zero_grad(set_to_none=True)

    def backward(self, loss):
        loss.backward()

    def step(self, name):
        self.optimizers[name].step()
        self.optimizers[name].zero_grad(set_to_none=True)


def step_seconds(model, batch) -> float:
    context = Step(model.configure_optimizers(2e-4))
    def one() -> float:
        start = time.perf_counter()
        model.training_step(batch, context)
        return time.perf_counter() - start
    return one


def time_steps(rounds: int) -> dict[str, list[float]]:
    torch.manual_seed(0)
    x, y = torch.randn(BATCH, 1) * 2 + 3, torch.randint(3, (BATCH,))
    models = {"adc-gan": zoo.create("adc-gan", k_steps=1), "ac-gan": zoo.create("adc-gan", variant="acgan", k_steps=1),
              "cgan (toy2d)": zoo.create("cgan", variant="toy2d", data_shape=[1], num_classes=3, k_steps=1)}
    return interleaved({k: step_seconds(m.train(), (x, y)) for k, m in models.items()}, rounds)


def reproduce(run: Run) -> None:
    rounds = run.pick(100, 5)
    default_threads = torch.get_num_threads()
    results = {}
    for threads in (1, default_threads):
        torch.set_num_threads(threads)
        results[threads] = time_steps(rounds)
    torch.set_num_threads(default_threads)
    rows, parts = [], []
    for threads, times in results.items():
        med = medians(times)
        for name, value in med.items():
            rows.append([threads, name, f"{value * 1e3:.3f}", f"{value / med['ac-gan']:.2f}"])
        parts.append(f"{threads} thread(s): ADC-GAN {med['adc-gan'] * 1e3:.2f} ms, AC-GAN {med['ac-gan'] * 1e3:.2f} ms "
                     f"(ratio {med['adc-gan'] / med['ac-gan']:.2f}), cGAN toy2d {med['cgan (toy2d)'] * 1e3:.2f} ms")
    summary = (f"One D+classifier then G training step, batch {BATCH}, 1D data, 3 classes, medians of {rounds} "
               "interleaved rounds: " + "; ".join(parts) + ".")
    print(summary)
    run.record(
        "perf", claim="training-step cost of ADC-GAN's 2K-way classifier against AC-GAN's K-way one and the plain cGAN",
        verdict="measured", summary=summary,
        setup=f"training_step with k_steps=1 (one D and one G update per call), batch {BATCH}, default adc-gan "
              f"networks (tanh 10-wide), cgan's toy2d networks on the same 1D data; interleaved rounds, medians, at 1 "
              f"thread and {default_threads} threads.",
        table={"columns": ["threads", "model", "median ms", "ratio to AC-GAN"], "rows": rows},
        data={"times_s": {str(t): v for t, v in results.items()}},
    )
