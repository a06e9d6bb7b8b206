"""Reproduction: MLP-Mixer is competitive with CNN and attention models of similar size.

Claim (MLP-Mixer arXiv:2105.01601): an all-MLP architecture alternating token-mixing and
channel-mixing MLPs reaches accuracy competitive with CNN/attention models of similar size.

Small-scale test: the 8x8 `digits` task (1150 train / 288 val / 360 test images). The Mixer's
`digits` variant (patch 2, C = 64, 4 layers, 139k parameters) against a CNN and a ViT (timm's
VisionTransformer, patch 2, width 64, 4 blocks) of the same parameter count, all trained with the
same recipe (AdamW, cosine schedule with warmup, 30 epochs, batch 64) on 3 seeds, evaluated on the
test split. Decided before running: "competitive" means a mean test accuracy within 1 point of the
best same-size baseline (reproduced), within 3 points (partially reproduced), else not reproduced.

The training and scoring helpers here are shared by the ResMLP and Network-In-Network scripts.
The seed-0 Mixer is kept as the checkpoint `mlp-mixer.digits`.

    zoo reproduce mlp-mixer --part repro
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import torch
from torch import nn

from zoo.reproduce import Run

SEEDS = (0, 1, 2)
RECIPE = {"epochs": 30, "batch_size": 64, "lr": 2e-3, "optimizer": "adamw", "weight_decay": 0.05,
          "schedule": "cosine", "warmup_steps": 50}
WORKERS = 2  # the machine has 2 cores; one training run per core, one thread each


def same_size_cnn(target_params: int) -> nn.Module:
    """A VGG-style CNN (3 conv + BN + ReLU layers, 2 max-pools, linear head) whose width is picked
    so that its parameter count is closest to `target_params`."""

    def build(w: int) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(16 * w, 10))

    width = min(range(4, 129), key=lambda w: abs(n_params(build(w)) - target_params))
    return build(width)


def tiny_vit() -> nn.Module:
    """timm's VisionTransformer sized down for 8x8 digits: patch 2 (16 tokens), width 64, 4 blocks,
    4 heads, MLP ratio 2, mean-pooled tokens (136k parameters)."""
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(img_size=8, patch_size=2, in_chans=1, num_classes=10, embed_dim=64, depth=4,
                             num_heads=4, mlp_ratio=2.0, class_token=False, global_pool="avg")


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def train_and_score(job: tuple[str, Callable[[], nn.Module], int, dict]) -> dict:
    """Train one model on digits with one seed; test/train accuracy and loss, curve, CPU time, and
    the trained model itself (under "trained")."""
    import zoo

    label, build, seed, recipe = job
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model = build()
    start = time.process_time()
    result = zoo.train(model, "digits", seed=seed, progress=False, **recipe)
    cpu = time.process_time() - start
    test, train = zoo.evaluate(model, "digits"), zoo.evaluate(model, "digits", split="train")
    return {"model": label, "seed": seed, "params": n_params(model), "test_accuracy": test["accuracy"],
            "test_loss": test["loss"], "train_accuracy": train["accuracy"], "train_loss": train["loss"],
            "val_curve": [h["val_accuracy"] for h in result.history], "cpu_s": cpu, "trained": model}


def take_trained(runs: list[dict]) -> dict[tuple[str, int], nn.Module]:
    """Take the trained models out of `runs` (records hold numbers only), by (model label, seed)."""
    return {(r["model"], r["seed"]): r.pop("trained") for r in runs}


def run_jobs(jobs: list) -> list[dict]:
    """Run training jobs on WORKERS processes (spawned: each imports torch afresh, one thread)."""
    with ProcessPoolExecutor(WORKERS, mp_context=get_context("spawn")) as pool:
        return list(pool.map(train_and_score, jobs))


def summarise(runs: list[dict]) -> dict[str, dict]:
    """Per model: mean and std over seeds of every score, and the mean validation curve."""
    out: dict[str, dict] = {}
    for label in dict.fromkeys(r["model"] for r in runs):
        mine = [r for r in runs if r["model"] == label]
        row = {"params": mine[0]["params"], "seeds": len(mine)}
        for key in ("test_accuracy", "train_accuracy", "test_loss", "train_loss", "cpu_s"):
            values = [r[key] for r in mine]
            row[key] = statistics.mean(values)
            row[key + "_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
        row["val_curve"] = [statistics.mean(v) for v in zip(*(r["val_curve"] for r in mine))]
        out[label] = row
    return out


def plot(summary: dict[str, dict], runs: list[dict], path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (curves, final) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, (label, row) in enumerate(summary.items()):
        curves.plot(range(1, len(row["val_curve"]) + 1), row["val_curve"], label=f"{label} ({row['params'] / 1e3:.0f}k)")
        scores = [r["test_accuracy"] for r in runs if r["model"] == label]
        final.scatter([i] * len(scores), scores, alpha=0.6)
        final.errorbar(i, row["test_accuracy"], yerr=row["test_accuracy_std"], fmt="_", color="k", capsize=6)
    curves.set(xlabel="epoch", ylabel="validation accuracy (mean over seeds)", ylim=(0.5, 1.0))
    curves.legend(fontsize=8)
    final.set_xticks(range(len(summary)), list(summary), rotation=15)
    final.set(ylabel="test accuracy (each seed, mean +- std)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def competitive_verdict(model: str, summary: dict[str, dict]) -> tuple[str, float, str]:
    """The pre-registered rule: gap to the best baseline in accuracy points -> verdict."""
    baselines = {k: v for k, v in summary.items() if k != model}
    best = max(baselines, key=lambda k: baselines[k]["test_accuracy"])
    gap = 100 * (summary[model]["test_accuracy"] - baselines[best]["test_accuracy"])
    verdict = "reproduced" if gap >= -1.0 else "partially reproduced" if gap >= -3.0 else "not reproduced"
    return verdict, gap, best


def table(summary: dict[str, dict]) -> dict:
    rows = [[label, row["params"], f"{100 * row['test_accuracy']:.1f} +- {100 * row['test_accuracy_std']:.1f}",
             f"{100 * row['train_accuracy']:.1f}", f"{row['test_loss']:.3f}", f"{row['cpu_s']:.0f}"]
            for label, row in summary.items()]
    return {"columns": ["model", "parameters", "test accuracy % (mean +- std)", "train accuracy %",
                        "test loss", "CPU s per run"], "rows": rows}


def _mixer() -> nn.Module:
    import zoo

    return zoo.create("mlp-mixer", variant="digits")


def _cnn() -> nn.Module:
    return same_size_cnn(n_params(_mixer()))


def reproduce(run: Run) -> None:
    seeds = run.pick(SEEDS, SEEDS[:1])
    recipe = {**RECIPE, "epochs": run.pick(RECIPE["epochs"], 1)}
    models = {"MLP-Mixer (digits)": _mixer, "CNN (same size)": _cnn, "ViT (timm, same size)": tiny_vit}
    runs = run_jobs([(label, build, seed, recipe) for seed in seeds for label, build in models.items()])
    run.keep(take_trained(runs)[("MLP-Mixer (digits)", seeds[0])], "digits")
    summary = summarise(runs)
    verdict, gap, best = competitive_verdict("MLP-Mixer (digits)", summary)
    plot(summary, runs, run.figure("repro_digits.png"), "MLP-Mixer vs same-size CNN and ViT on 8x8 digits")
    mixer = summary["MLP-Mixer (digits)"]
    run.record(
        "repro_digits",
        claim="An all-MLP architecture alternating token-mixing and channel-mixing MLPs reaches accuracy "
              "competitive with CNN/attention models of similar size.",
        verdict=verdict,
        summary=(f"On 8x8 digits the Mixer reaches {100 * mixer['test_accuracy']:.1f}% test accuracy "
                 f"(+- {100 * mixer['test_accuracy_std']:.1f}, {len(seeds)} seeds) with {mixer['params'] / 1e3:.0f}k "
                 f"parameters; the best same-size baseline, {best}, reaches "
                 f"{100 * summary[best]['test_accuracy']:.1f}%: a gap of {gap:+.1f} points "
                 f"(competitive = within 1 point, decided before running). "
                 + "; ".join(f"{k}: {100 * v['test_accuracy']:.1f}%" for k, v in summary.items() if k != best
                             and k != "MLP-Mixer (digits)") + "."),
        setup=(f"task digits (sklearn 8x8, 1150/288/360 split); models of ~{mixer['params'] / 1e3:.0f}k parameters; "
               f"recipe {recipe}; seeds {seeds}; test split scored after the last epoch; 1 thread per run"),
        table=table(summary),
        paper={"source": "Tolstikhin et al. 2021, main results table (ImageNet top-1 after JFT-300M pre-training)",
               "Mixer-H/14 top-1": 87.94, "ViT-H/14 top-1": 88.55, "BiT-R152x4 top-1": 87.54},
        figures=["repro_digits.png"],
        data={"summary": summary, "runs": runs},
    )
    print(verdict, f"gap {gap:+.2f} points to {best}")
    for row in table(summary)["rows"]:
        print(row)
