"""Reproduction: MLP-Mixer is competitive with CNN and attention models of similar size.

Claim (MLP-Mixer arXiv:2105.01601): an all-MLP architecture alternating token-mixing and
channel-mixing MLPs reaches accuracy competitive with CNN/attention models of similar size.

Small-scale test on the 8x8 `digits` task (1150 train / 288 val / 360 test images), fixed before
running:
- Models of the same size: the Mixer's `digits` variant (patch 2, C = 64, 4 layers, 139k
  parameters), a CNN (137k) and timm's VisionTransformer (patch 2, width 64, 4 blocks: 136k).
- The Mixer trains with the paper's recipe (Tolstikhin et al. 2021, Sec. 3.1 and the ImageNet
  hyperparameters of the appendix): Adam with decoupled weight decay 0.1, lr 1e-3, linear warmup
  then linear decay (warmup 10k of ~94k steps in the paper: 54 of 540 steps here), gradient
  clipping at global norm 1. The baselines keep the recipe they are fair with (`RECIPE`: AdamW lr
  2e-3, weight decay 0.05, 50 warmup steps then cosine, DeiT's optimizer family). 30 epochs of
  batch 64 for every model, no augmentation; seeds 0, 1, 2; test accuracy after the last epoch.
- Check (zoo.verdicts, per seed): the Mixer's test accuracy is no more than 1 point below the best
  same-size baseline on that seed ("competitive" allows a small gap; 1 point is about 4 of 360
  test digits).
- Principled experiment when the check fails on a seed: the Mixer and that seed's best baseline at
  convergence on the first failing seed. Whichever does not fit its training set yet (train
  accuracy < 99.5%) is trained again for `LONGER_EPOCHS` with its own recipe; the other has
  converged already. If the check then holds, the 30-epoch miss was our protocol (underfitting);
  if both fit their training set and the gap remains, it is generalisation at this scale: the
  claim fails here. (A weaker baseline trained longer could only raise the bar.)

Departures (budget and data): 8x8 digits instead of JFT-300M / ImageNet at 224; a 139k-parameter
Mixer instead of 18M-431M; 30 epochs of batch 64 instead of 300 epochs of batch 4096; no
RandAugment, mixup, dropout or stochastic depth (the paper's ImageNet regularisers); timm's
initialisation (see DOC.md).

The training, scoring and checking helpers here are shared by the ResMLP, Network-In-Network and
Sequencer scripts. The seed-0 Mixer is kept as the checkpoint `mlp-mixer.digits`.

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
from zoo.verdicts import Check, failing_seeds

SEEDS = (0, 1, 2)
# the baselines' recipe (and the one every model shared before the paper recipes were used)
RECIPE = {"epochs": 30, "batch_size": 64, "lr": 2e-3, "optimizer": "adamw", "weight_decay": 0.05,
          "schedule": "cosine", "warmup_steps": 50}
MIXER_RECIPE = {"epochs": 30, "batch_size": 64, "lr": 1e-3, "optimizer": "adamw", "weight_decay": 0.1,
                "schedule": "linear", "warmup_steps": 54, "clip_grad_norm": 1.0}
MARGIN = 0.01  # the claimed model may be this much (1 point) below the best baseline on a seed
LONGER_EPOCHS = 100  # the convergence control: every model reaches ~100% train accuracy by then
FITTED = 0.995  # train accuracy from which a model counts as fitting its training set
WORKERS = 2  # the machine has 2 cores; one training run per core, one thread each
MIXER, CNN, VIT = "MLP-Mixer (digits)", "CNN (same size)", "ViT (timm, same size)"


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
    """Train one model on digits with one seed; test/train accuracy and loss, curve, CPU time, the
    trained model itself (under "trained") and its training run for a checkpoint's card ("training_run")."""
    import zoo

    label, build, seed, recipe = job
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model = build()
    start = time.process_time()
    result = zoo.train(model, "digits", seed=seed, progress=False, **recipe)
    cpu = time.process_time() - start
    test, train = zoo.evaluate(model, "digits"), zoo.evaluate(model, "digits", split="train")
    training = {"task": "digits", "epochs": result.epochs, "training": {**recipe, "seed": seed},
                "final": result.final, "history": result.history}
    return {"model": label, "seed": seed, "params": n_params(model), "test_accuracy": test["accuracy"],
            "test_loss": test["loss"], "train_accuracy": train["accuracy"], "train_loss": train["loss"],
            "val_curve": [h["val_accuracy"] for h in result.history], "cpu_s": cpu, "trained": model,
            "training_run": training}


def take_trained(runs: list[dict]) -> dict[tuple[str, int], tuple[nn.Module, dict]]:
    """Take the trained models and their training runs out of `runs` (records hold the scores
    only), by (model label, seed)."""
    return {(r["model"], r["seed"]): (r.pop("trained"), r.pop("training_run")) for r in runs}


def run_jobs(jobs: list, train: Callable[[tuple], dict] = train_and_score) -> list[dict]:
    """Run training jobs through `train` on WORKERS processes (spawned: each imports torch afresh,
    one thread); `train` must be a module-level function so that the workers can import it."""
    with ProcessPoolExecutor(WORKERS, mp_context=get_context("spawn")) as pool:
        return list(pool.map(train, jobs))


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


def table(summary: dict[str, dict]) -> dict:
    rows = [[label, row["params"], f"{100 * row['test_accuracy']:.1f} +- {100 * row['test_accuracy_std']:.1f}",
             f"{100 * row['train_accuracy']:.1f}", f"{row['test_loss']:.3f}", f"{row['cpu_s']:.0f}"]
            for label, row in summary.items()]
    return {"columns": ["model", "parameters", "test accuracy % (mean +- std)", "train accuracy %",
                        "test loss", "CPU s per run"], "rows": rows}


def competitive_check(runs: list[dict], model: str, baselines, seeds) -> Check:
    """Per seed: `model`'s test accuracy >= the best of `baselines` on that seed - MARGIN."""
    acc = {(r["model"], r["seed"]): r["test_accuracy"] for r in runs}
    return Check(f"{model} test accuracy >= the best same-size baseline's - {100 * MARGIN:.0f} point",
                 ours=[acc[model, s] for s in seeds], versus=[max(acc[b, s] for b in baselines) for s in seeds],
                 better="higher", margin=-MARGIN)


def convergence_control(model: str, builders: dict, recipes: dict, runs: list[dict], seeds, epochs: int) -> dict:
    """`model` and the best baseline of each seed at convergence: those runs that do not fit their
    training set yet (train accuracy < FITTED) are trained again for `epochs` with their own recipe,
    the others are converged already; then the check again. Tells underfitting (our protocol) from
    a generalisation gap at this scale (the claim)."""
    mine = [r for r in runs if r["seed"] in seeds]
    # a weaker baseline trained longer could only raise the bar the model failed already: the claimed
    # model and the seed's best baseline are the runs whose convergence decides the check
    best = {s: max((r for r in mine if r["seed"] == s and r["model"] != model), key=lambda r: r["test_accuracy"])
            for s in seeds}
    unfit = [r for r in mine if r["train_accuracy"] < FITTED and (r["model"] == model or r is best[r["seed"]])]
    longer = run_jobs([(r["model"], builders[r["model"]], r["seed"], {**recipes[r["model"]], "epochs": epochs})
                       for r in unfit]) if unfit else []
    take_trained(longer)
    retrained = {(r["model"], r["seed"]) for r in longer}
    converged = [r for r in mine if (r["model"], r["seed"]) not in retrained] + longer
    check = competitive_check(converged, model, [b for b in builders if b != model], seeds)
    held = [check.holds(o, v) for o, v in check.per_seed()]
    deciding = [r for r in converged if r["model"] == model or r["model"] == best[r["seed"]]["model"]]
    fitted = all(r["train_accuracy"] >= FITTED for r in deciding)
    trained_longer = (f"{', '.join(sorted({r['model'] for r in longer}))} trained {epochs} epochs, the others "
                      "already fitting their training set" if longer else
                      f"{model} and the best baseline already fit their training set")
    if all(held):
        conclusion = (f"at convergence ({trained_longer}) the check holds on every control seed: the miss was our "
                      "protocol (too short training), not the claim")
    elif fitted:
        conclusion = (f"at convergence ({trained_longer}; train accuracy >= {100 * FITTED:.1f}% for {model} and the "
                      f"best baseline) the check "
                      f"holds on {sum(held)} of {len(held)} control seeds: the gap is generalisation, the claim fails "
                      "at this scale")
    else:
        still = sorted({r["model"] for r in deciding if r["train_accuracy"] < FITTED})
        conclusion = (f"{', '.join(still)} still below {100 * FITTED:.1f}% train accuracy after {epochs} epochs and "
                      f"the check holds on {sum(held)} of {len(held)} control seeds: inconclusive")
    return {"seeds": list(seeds), "epochs": epochs, "retrained": sorted(retrained), "runs": converged,
            "held": held, "all_fitted": fitted, "conclusion": conclusion}


def per_seed_text(runs: list[dict], labels) -> str:
    return "; ".join(f"{label} " + ", ".join(f"{100 * r['test_accuracy']:.1f}" for r in runs if r["model"] == label)
                     for label in labels)


def _mixer() -> nn.Module:
    import zoo

    return zoo.create("mlp-mixer", variant="digits")


def _cnn() -> nn.Module:
    return same_size_cnn(n_params(_mixer()))


BUILDERS = {MIXER: _mixer, CNN: _cnn, VIT: tiny_vit}
RECIPES = {MIXER: MIXER_RECIPE, CNN: RECIPE, VIT: RECIPE}


def comparison_text(subject: str, runs: list[dict], summary: dict, builders, seeds, failed, control) -> str:
    """The record's summary of a same-size comparison: per-seed and mean accuracies, the check's
    count, and the convergence control's outcome when one ran."""
    text = (f"Test accuracy % on 8x8 digits, {len(seeds)} seeds ({per_seed_text(runs, builders)}); means "
            + ", ".join(f"{k} {100 * v['test_accuracy']:.1f} (train {100 * v['train_accuracy']:.1f})"
                        for k, v in summary.items())
            + f". Check: {subject} within {100 * MARGIN:.0f} point of the best same-size baseline on each seed "
              f"(held on {len(seeds) - len(failed)} of {len(seeds)}).")
    if control:
        text += (f" Convergence control on seed(s) {control['seeds']}: "
                 + per_seed_text(control["runs"], builders) + " (train accuracy "
                 + ", ".join(f"{r['model']} {100 * r['train_accuracy']:.1f}" for r in control["runs"])
                 + f"); {control['conclusion']}.")
    return text


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The claim's check from a record's data (its per-seed runs)."""
    seeds = sorted({r["seed"] for r in data["runs"]})
    return seeds, [competitive_check(data["runs"], MIXER, [CNN, VIT], seeds)]


def reproduce(run: Run) -> None:
    wall = time.time()
    seeds = list(run.pick(SEEDS, SEEDS[:1]))
    epochs = run.pick(MIXER_RECIPE["epochs"], 1)
    recipes = {label: {**recipe, "epochs": epochs} for label, recipe in RECIPES.items()}
    runs = run_jobs([(label, build, seed, recipes[label]) for seed in seeds for label, build in BUILDERS.items()])
    kept, training = take_trained(runs)[(MIXER, seeds[0])]
    run.keep(kept, "digits", run=training)
    summary = summarise(runs)
    seeds, (check,) = claim_checks({"runs": runs})
    failed = failing_seeds(seeds, [check])
    control = (convergence_control(MIXER, BUILDERS, RECIPES, runs, failed[:1], run.pick(LONGER_EPOCHS, 2))
               if failed else None)
    plot(summary, runs, run.figure("repro_digits.png"), "MLP-Mixer vs same-size CNN and ViT on 8x8 digits")
    text = comparison_text("the Mixer", runs, summary, BUILDERS, seeds, failed, control)
    run.record(
        "repro_digits",
        claim="An all-MLP architecture alternating token-mixing and channel-mixing MLPs reaches accuracy "
              "competitive with CNN/attention models of similar size.",
        seeds=seeds, checks=[check], summary=text,
        setup=(f"task digits (sklearn 8x8, 1150/288/360 split); models of ~{summary[MIXER]['params'] / 1e3:.0f}k "
               f"parameters; Mixer with the paper's recipe {recipes[MIXER]} (Adam with decoupled weight decay, "
               f"linear warmup and decay, clipping at norm 1); CNN and ViT with {recipes[CNN]}; seeds {seeds}; test "
               "split scored after the last epoch; 1 thread per run. Departures: 8x8 digits instead of JFT-300M / "
               "ImageNet (data that ships with the zoo); 139k parameters and 30 epochs of batch 64 instead of "
               "300 epochs of batch 4096 (CPU budget); no RandAugment, mixup or stochastic depth (none suit 1150 "
               "8x8 images); timm's initialisation instead of Flax's defaults (weights interchangeable with "
               f"timm). Rule written before running: per seed, Mixer >= best baseline - {100 * MARGIN:.0f} point; "
               f"on the first failing seed the Mixer and the best baseline, if below {100 * FITTED:.1f}% train "
               f"accuracy, are retrained {LONGER_EPOCHS} epochs, to tell underfitting from a generalisation gap."),
        table=table(summary),
        paper={"source": "Tolstikhin et al. 2021, Table 2 (ImageNet, pre-trained on JFT-300M)",
               "Mixer-H/14 top-1": 87.94, "ViT-H/14 top-1": 88.55, "BiT-R152x4 top-1": 87.54},
        figures=["repro_digits.png"],
        data={"summary": summary, "runs": runs, "control": control, "wall_seconds": time.time() - wall},
    )
    print(text)
