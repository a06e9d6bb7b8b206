"""karat claim: Fourier-KArAt learnable Kolmogorov-Arnold attention matches or
outperforms softmax attention in a vanilla ViT.

A tiny ViT on `digits` (the `digits` variant: 8x8 images, 2x2 patches -> 16 tokens + class token,
embed 32, 4 blocks, 2 heads, MLP ratio 2), built by timm: once with its softmax attention, once
with Fourier-KArAt in place of the softmax (grid 3, blockwise: the paper's "G3B"), everything else
identical (the other variants are in the catalog; their runs did not fit this CPU's time budget). AdamW with a cosine schedule, same epochs, three seeds; test accuracy
of the last epoch. "Matches" is read as: mean accuracy at most 1 point below softmax.
Fourier-KArAt of seed 0 is kept as the checkpoint `karat.digits`.

    zoo reproduce karat --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo_plugins.karat.model import vit_kwargs

BATCH, LR = 64, 3e-3
TOLERANCE = 0.01
MODELS = {"softmax ViT": None, "Fourier-KArAt G3B": {}}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def fit(model: nn.Module, task, seed: int, epochs: int) -> float:
    """zoo.train with AdamW and a cosine schedule; returns the last epoch's test accuracy."""
    result = zoo.train(model, task, epochs=epochs, batch_size=BATCH, lr=LR, weight_decay=0.05, schedule="cosine",
                       seed=seed, eval_splits=["test"], eval_every=epochs)
    return result.final["test_accuracy"]


def build(task, overrides):
    from timm.models.vision_transformer import VisionTransformer

    karat = zoo.create("karat", variant="digits", task=task, **(overrides or {}))
    return karat if overrides is not None else VisionTransformer(**vit_kwargs(karat.zoo_identity.config))


def reproduce(run: Run) -> None:
    SEEDS = run.pick((0, 1, 2), (0,))
    EPOCHS = run.pick(30, 1)
    torch.set_num_threads(1)  # one thread: 2 OpenMP threads on the shared 2-core machine thrash
    task = zoo.get_task("digits")
    results, params, started = {}, {}, time.time()
    for seed in SEEDS:
        for name, overrides in MODELS.items():
            torch.manual_seed(seed)
            model = build(task, overrides)
            params[name] = n_params(model)
            results.setdefault(name, []).append(fit(model, task, seed, EPOCHS))
            if (name, seed) == ("Fourier-KArAt G3B", SEEDS[0]):
                run.keep(model, "digits")
            print(f"{name} seed={seed}: test accuracy {results[name][-1]:.4f} ({time.time() - started:.0f}s)", flush=True)

    means = {name: float(np.mean(v)) for name, v in results.items()}
    base = means["softmax ViT"]
    matches = {name: means[name] >= base - TOLERANCE for name in MODELS if name != "softmax ViT"}
    verdict = "reproduced" if matches["Fourier-KArAt G3B"] else "not reproduced"
    rows = [[name, params[name], round(means[name], 4), round(float(np.std(results[name])), 4),
             round(means[name] - base, 4), len(SEEDS)] for name in MODELS]

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for i, name in enumerate(MODELS):
        ax.scatter([i] * len(SEEDS), results[name], color=f"C{i}")
        ax.hlines(means[name], i - 0.25, i + 0.25, color=f"C{i}")
    ax.set_xticks(range(len(MODELS)), list(MODELS), fontsize=8)
    ax.set_ylabel("digits test accuracy (per seed, bar = mean)")
    fig.tight_layout()
    fig.savefig(run.figure("repro_digits.png"), dpi=100)

    summary = ", ".join(f"{name} {means[name]:.4f} ({params[name]} params)" for name in MODELS)
    run.record(
        "repro_digits",
        claim="Fourier-KArAt learnable Kolmogorov-Arnold attention matches or outperforms softmax attention in a vanilla ViT.",
        verdict=verdict,
        summary=(f"Mean digits test accuracy over {len(SEEDS)} seeds: {summary}. Within {TOLERANCE:.0%} of softmax "
                 f"(or above): {[n for n, m in matches.items() if m] or 'none'}."),
        setup=(f"timm VisionTransformer, digits variant (8x8, patch 2, embed 32, depth 4, heads 2, mlp_ratio 2, "
               f"class token); Fourier-KArAt rank 12 with l1-normalised rows replacing only the softmax. AdamW "
               f"lr={LR} wd=0.05, cosine schedule, {EPOCHS} epochs, batch {BATCH}; seeds {list(SEEDS)}; last-epoch "
               "test accuracy; trained with zoo.train."),
        table={"columns": ["model", "params", "test accuracy (mean)", "std", "vs softmax", "seeds"], "rows": rows},
        paper={"source": "KArAt paper, ViT-Tiny on CIFAR-10/100 and ImageNet-1K",
               "note": "the paper reports Fourier-KArAt variants above or close to softmax ViTs on CIFAR-10/100, "
                       "and below on ImageNet for larger ViTs"},
        figures=["repro_digits.png"],
        data=results,
    )
    print(verdict, summary)
