"""mlp-kan claim: a mixture of MLP and KAN experts performs well on both function
learning and representation learning without manual model choice.

The same MLP-KAN recipe (a small transformer whose FFN is 4 MLP + 4 KAN experts, top-2 routing;
the `function` and `digits` variants differ only in input shape and head) against the two models
a user would otherwise have to choose between: a plain MLP (representation learning) and a plain
KAN (function learning), on two function-learning tasks (`toy/exp-sin`, `toy/four-var`, test RMSE)
and one representation-learning task (`digits`, test accuracy). As a control, the same transformer
with one plain MLP per block instead of the mixture. AdamW, fixed epochs, two seeds.

"Performs well on both" is read as: on every task MLP-KAN is within 2 accuracy points (digits) or
1.5x RMSE (functions) of the better specialist.

Every model, the baselines included, trains through `zoo.train` on the task (the task's loss) and
is scored by the run's final test metric (`test_rmse`, `test_accuracy`). What differs from the
hand-written loop this script used before: the shuffling order is zoo.train's (a function of seed
and epoch) instead of a `torch.randperm` generator seeded the same way; and the cosine schedule
decays the learning rate every optimizer step (zoo.train's `schedule="cosine"`) instead of once
per epoch (`CosineAnnealingLR(epochs)` stepped after each epoch), the same curve sampled finer.
MLP-KAN of seed 0 on `toy/exp-sin` is kept as the checkpoint `mlp-kan.toy-exp-sin`.

    zoo reproduce mlp-kan --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

import zoo
from zoo.reproduce import Run

TASKS = {  # task -> (MLP-KAN variant, epochs, batch, metric)
    "toy/exp-sin": ("function", 60, 200, "rmse"),
    "toy/four-var": ("function", 60, 200, "rmse"),
    "digits": ("digits", 50, 64, "accuracy"),
}
LR = 3e-3
RMSE_TOLERANCE, ACCURACY_TOLERANCE = 1.5, 0.02


def plain_mlp(inputs: int, outputs: int) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(inputs, 128), nn.GELU(), nn.Linear(128, 128), nn.GELU(),
                         nn.Linear(128, outputs))


def plain_kan(inputs: int, outputs: int) -> nn.Module:
    return nn.Sequential(nn.Flatten(), zoo.create("kan", width=[inputs, 16, outputs]))


class PlainTransformer(nn.Module):
    """The same timm backbone as an MLP-KAN variant, with one plain MLP (width ffn_dim) per block:
    separates what the transformer contributes from what the MLP/KAN mixture contributes."""

    def __init__(self, config):
        super().__init__()
        from timm.models.vision_transformer import VisionTransformer

        shape = config.input_shape
        channels, height, width, patch = (*shape, config.patch_size) if len(shape) == 3 else (1, 1, shape[0], 1)
        self.shape = shape
        self.vit = VisionTransformer(img_size=(height, width), patch_size=patch, in_chans=channels,
                                     num_classes=config.output_dim, embed_dim=config.embed_dim, depth=config.depth,
                                     num_heads=config.num_heads, mlp_ratio=config.ffn_dim / config.embed_dim)

    def forward(self, x):
        return self.vit(x.reshape(x.shape[0], 1, 1, -1) if len(self.shape) == 1 else x)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def fit(model: nn.Module, task, epochs: int, batch: int, seed: int, metric: str) -> float:
    """Train with the shared recipe; the final test metric."""
    result = zoo.train(model, task, epochs=epochs, batch_size=batch, lr=LR, optimizer="adamw", weight_decay=1e-4,
                       schedule="cosine", seed=seed, eval_splits=[], final_splits=["test"], progress=False)
    return result.final[f"test_{metric}"]


def reproduce(run: Run) -> None:
    SEEDS = run.pick((0, 1), (0,))
    tasks = {name: (variant, run.pick(epochs, 1), batch, metric)
             for name, (variant, epochs, batch, metric) in TASKS.items()}
    torch.set_num_threads(1)  # one thread: 2 OpenMP threads on the shared 2-core machine thrash
    results, params, started = {}, {}, time.time()
    for task_name, (variant, epochs, batch, metric) in tasks.items():
        task = zoo.get_task(task_name)
        inputs = task.info.input_dim
        outputs = task.info.num_classes or task.info.output_dim
        builders = {
            "MLP-KAN": lambda: zoo.create("mlp-kan", variant=variant, task=task),
            "MLP": lambda: plain_mlp(inputs, outputs),
            "KAN": lambda: plain_kan(inputs, outputs),
            "transformer, MLP FFN": lambda: PlainTransformer(
                zoo.resolve_config("mlp-kan", variant=variant, task=task)[2]),
        }
        for seed in SEEDS:
            for name, build in builders.items():
                torch.manual_seed(seed)
                model = build()
                params[(task_name, name)] = n_params(model)
                results.setdefault((task_name, name), []).append(fit(model, task, epochs, batch, seed, metric))
                if (task_name, name, seed) == ("toy/exp-sin", "MLP-KAN", SEEDS[0]):
                    run.keep(model, "toy-exp-sin")
                print(f"{task_name} {name} seed={seed}: test {metric} {results[(task_name, name)][-1]:.4f} "
                      f"({time.time() - started:.0f}s)", flush=True)

    means = {key: float(np.mean(v)) for key, v in results.items()}
    good, ranking = {}, {}
    for task_name, (_, _, _, metric) in tasks.items():
        mlp, kan, ours = (means[(task_name, m)] for m in ("MLP", "KAN", "MLP-KAN"))
        if metric == "accuracy":
            best = max(mlp, kan)
            good[task_name] = ours >= best - ACCURACY_TOLERANCE
            ranking[task_name] = "MLP" if mlp >= kan else "KAN"
        else:
            best = min(mlp, kan)
            good[task_name] = ours <= RMSE_TOLERANCE * best
            ranking[task_name] = "MLP" if mlp <= kan else "KAN"
    verdict = ("reproduced" if all(good.values()) else
               "partially reproduced" if any(good.values()) else "not reproduced")
    rows = [[t, m, tasks[t][3], params[(t, m)], round(means[(t, m)], 4), round(float(np.std(results[(t, m)])), 4),
             len(SEEDS)] for (t, m) in results]

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.3))
    for ax, (task_name, (_, _, _, metric)) in zip(axes, tasks.items()):
        names = ["MLP-KAN", "MLP", "KAN", "transformer, MLP FFN"]
        ax.bar(["MLP-KAN", "MLP", "KAN", "ViT-MLP"], [means[(task_name, n)] for n in names],
               yerr=[np.std(results[(task_name, n)]) for n in names], color=["C0", "C1", "C2", "C3"], capsize=3)
        ax.set_title(task_name)
        ax.set_ylabel(f"test {metric}" + (" (lower is better)" if metric == "rmse" else ""))
        if metric == "accuracy":
            ax.set_ylim(min(means[(task_name, n)] for n in names) - 0.05, 1.0)
    fig.tight_layout()
    fig.savefig(run.figure("repro_both_regimes.png"), dpi=100)

    summary = "; ".join(
        f"{t} ({tasks[t][3]}): MLP-KAN {means[(t, 'MLP-KAN')]:.4f}, MLP {means[(t, 'MLP')]:.4f}, "
        f"KAN {means[(t, 'KAN')]:.4f} (better specialist: {ranking[t]}), same transformer with a plain MLP "
        f"{means[(t, 'transformer, MLP FFN')]:.4f}" for t in tasks)
    run.record(
        "repro_both_regimes",
        claim=("A mixture of MLP and KAN experts performs well on both function-learning and representation-"
               "learning tasks without manual model choice."),
        verdict=verdict,
        summary=(f"Means over {len(SEEDS)} seeds. {summary}. MLP-KAN is within tolerance of the better "
                 f"specialist on: {[t for t, g in good.items() if g] or 'no task'}."),
        setup=(f"MLP-KAN variants 'function' / 'digits' (embed 32, 2 blocks, 2 heads, 8 experts = 4 MLP + 4 KAN, "
               f"top-2, MLP experts 64 wide, KAN experts [32, 32, 32] G=5 k=3). MLP: [in, 128, 128, out] GELU. "
               f"KAN: [in, 16, out] G=5 k=3. Control: the same timm transformer with one plain MLP (width 64) "
               f"per block. AdamW lr={LR} wd=1e-4, cosine schedule, epochs/batch per task "
               f"{ {t: v[1:3] for t, v in tasks.items()} }; seeds {list(SEEDS)}. Tolerance: accuracy within "
               f"{ACCURACY_TOLERANCE:.0%} points, RMSE within {RMSE_TOLERANCE}x of the better specialist. Every "
               "model trains through zoo.train (task loss, per-step cosine schedule, zoo.train's seeded shuffling); "
               "scores are its final test metrics."),
        table={"columns": ["task", "model", "metric", "params", "mean", "std", "seeds"], "rows": rows},
        paper={"source": "MLP-KAN paper: Feynman equations (function learning, RMSE), CIFAR-10/100, mini-ImageNet, "
                         "SST-2 (representation learning)",
               "note": "the paper reports MLP-KAN competitive with or better than MLP and KAN on both groups"},
        figures=["repro_both_regimes.png"],
        data={f"{t}|{m}": v for (t, m), v in results.items()},
    )
    print(verdict, summary)
