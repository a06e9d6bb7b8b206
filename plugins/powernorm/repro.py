"""Reproduction for `powernorm` (Shen et al., 2020, arXiv:2003.07845) on a synthetic sequence task.

Claim: PowerNorm (no mean subtraction, running quadratic mean, approximate backpropagation through
it) outperforms both LayerNorm and BatchNorm in transformers (paper abstract: PN beats LN by 0.4 / 0.6
BLEU on IWSLT14 / WMT14 and by 5.6 / 3.0 perplexity on PTB / WikiText-103; naive BN is worse than LN).

Protocol, fixed before running:
- Task `seq/sort` (the zoo's Ptr-Net sorting task: 10 numbers uniform in [0, 1), output at position
  i the input position of the i-th smallest; 10000 train / 1000 val / 1000 test sequences). A
  per-position classification, so the transformer encoder reads all numbers and labels every
  position: attention must rank the numbers and route each rank to its output position.
- Model: the `small` variant, the same for all three norms: post-norm transformer encoder (as in the
  paper), width 64, 3 layers, 4 heads, ReLU FFN 128, no dropout (noise-free data), sinusoidal
  positions, linear embedding of the numbers, linear head per position (101k parameters). Norms:
  PowerNorm (alpha_fwd = alpha_bkw = 0.9, eps 1e-5, batch-statistic warmup for the first 80 steps),
  LayerNorm, BatchNorm over all tokens of the batch.
- Recipe: AdamW (lr 2e-3, weight decay 1e-4 as in the paper's IWSLT runs), cosine schedule with 80
  warmup steps (10% of the run), batch 128, 10 epochs (790 steps); seeds 0, 1, 2 (initialisation and
  data order; the data is the task's fixed seed-0 draw).
- Metric: test per-position accuracy after the last epoch (test loss and whole-sequence exact match
  reported beside it).
- Checks (zoo.verdicts, per seed): PowerNorm's test accuracy > LayerNorm's; PowerNorm's > BatchNorm's.
- Control, fixed before running: if a check fails on some seed, the first such seed is trained again
  2x longer (20 epochs) with all three norms; if the failed comparison then holds, our short
  training is to blame, otherwise the claim fails at this scale.

Departures: sorting with a 101k-parameter encoder instead of translation / language modelling with
the paper's 6-layer width-512 (IWSLT) or larger models; 790 steps instead of tens of thousands;
AdamW with a cosine schedule instead of Adam (0.9, 0.98) with inverse-square-root decay; no label
smoothing or dropout; PowerNorm warmup of 80 steps (scaled to the run) and no padding mask (the task
has no padding).

    zoo reproduce powernorm --part repro

Each training run is deterministic (one thread, seeded), and its scores are cached under
<out>/.repro_cache/ by norm, seed and recipe; `python -m zoo_plugins.powernorm.repro OUT NORM SEED
EPOCHS` computes one run into that cache, so that on a crowded machine the runs can be computed in
separate processes before `zoo reproduce` assembles the record from them (a cached run is exactly the
run the script would do itself).
"""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds

SEEDS = (0, 1, 2)
NORMS = ("powernorm", "layernorm", "batchnorm")
TASK = "seq/sort"
RECIPE = {"epochs": 10, "batch_size": 128, "lr": 2e-3, "optimizer": "adamw", "weight_decay": 1e-4,
          "schedule": "cosine", "warmup_steps": 80}
CONTROL_FACTOR = 2


def cache_file(out: Path, norm: str, seed: int, recipe: dict) -> Path:
    key = hashlib.sha256(json.dumps([norm, seed, recipe], sort_keys=True).encode()).hexdigest()[:16]
    return Path(out) / ".repro_cache" / f"{norm}-{seed}-{key}.json"


def cached_train_and_score(out: Path, task, norm: str, seed: int, recipe: dict) -> dict:
    """`train_and_score`, or its cached result when this exact run was computed before."""
    path = cache_file(out, norm, seed, recipe)
    if path.is_file():
        result = json.loads(path.read_text())
        print(f"  {norm} seed {seed}: test accuracy {100 * result['test_accuracy']:.1f}% (cached)", flush=True)
        return result
    result = train_and_score(task, norm, seed, recipe)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))
    return result


def train_and_score(task, norm: str, seed: int, recipe: dict) -> dict:
    """Train the small encoder with one norm and seed; test scores, validation curve, CPU time."""
    torch.manual_seed(seed)
    model = zoo.create("powernorm", variant="small", norm=norm, task=task)
    start = time.process_time()
    result = zoo.train(model, task, seed=seed, progress=False, final_splits=["test"], **recipe)
    cpu = time.process_time() - start
    out = {"norm": norm, "seed": seed, "test_accuracy": result.final["test_accuracy"],
           "test_exact_match": result.final["test_exact_match"], "test_loss": result.final["test_loss"],
           "val_curve": [h["val_accuracy"] for h in result.history], "cpu_s": cpu,
           "params": sum(p.numel() for p in model.parameters())}
    print(f"  {norm} seed {seed}: test accuracy {100 * out['test_accuracy']:.1f}% ({cpu:.0f} s)", flush=True)
    return out


def checks_for(runs: list[dict], seeds) -> list[Check]:
    acc = {(r["norm"], r["seed"]): r["test_accuracy"] for r in runs}
    pn = [acc["powernorm", s] for s in seeds]
    return [Check("PowerNorm test accuracy > LayerNorm's", ours=pn, versus=[acc["layernorm", s] for s in seeds]),
            Check("PowerNorm test accuracy > BatchNorm's", ours=pn, versus=[acc["batchnorm", s] for s in seeds])]


def figure(run: Run, runs: list[dict], seeds, name: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (curves, final) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, norm in enumerate(NORMS):
        mine = [r for r in runs if r["norm"] == norm]
        curve = np.mean([r["val_curve"] for r in mine], axis=0)
        curves.plot(range(1, len(curve) + 1), 100 * curve, label=norm)
        scores = [100 * r["test_accuracy"] for r in mine]
        final.scatter([i] * len(scores), scores, alpha=0.7)
        final.errorbar(i, np.mean(scores), yerr=np.std(scores), fmt="_", color="k", capsize=6)
    curves.set(xlabel="epoch", ylabel="validation accuracy % (mean of seeds)")
    curves.legend(fontsize=8)
    final.set_xticks(range(len(NORMS)), NORMS)
    final.set(ylabel="test accuracy % (each seed, mean +- std)")
    fig.suptitle(f"seq/sort, post-norm encoder (width 64, 3 layers), {len(seeds)} seeds")
    fig.tight_layout()
    fig.savefig(run.figure(name), dpi=110)
    plt.close(fig)
    return name


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    wall = time.time()
    seeds = list(run.pick(SEEDS, SEEDS[:1]))
    recipe = run.pick(RECIPE, {**RECIPE, "epochs": 1, "max_steps": 5, "warmup_steps": 0})
    task = zoo.get_task(TASK)
    runs = [cached_train_and_score(run.out, task, norm, seed, recipe) for seed in seeds for norm in NORMS]
    checks = checks_for(runs, seeds)
    control = None
    failing = failing_seeds(seeds, checks)
    if failing and not run.quick:
        seed, longer = failing[0], {**recipe, "epochs": CONTROL_FACTOR * recipe["epochs"]}
        longer_runs = [cached_train_and_score(run.out, task, norm, seed, longer) for norm in NORMS]
        held = {c.name: c.holds(*c.per_seed()[0]) for c in checks_for(longer_runs, [seed])}
        failed_names = [c.name for c in checks if not c.holds(*c.per_seed()[seeds.index(seed)])]
        fixed = all(held[n] for n in failed_names)
        control = {"seed": seed, "epochs": longer["epochs"], "runs": longer_runs, "checks_hold": held,
                   "conclusion": (f"with {CONTROL_FACTOR}x longer training the failed comparison(s) hold on seed "
                                  f"{seed}: our short training is to blame") if fixed else
                                 (f"the failed comparison(s) still fail on seed {seed} with {CONTROL_FACTOR}x longer "
                                  "training: the claim fails at this scale")}
    per_norm = {n: [r for r in runs if r["norm"] == n] for n in NORMS}
    rows = [[n, *(f"{100 * r['test_accuracy']:.1f}" for r in per_norm[n]),
             f"{100 * statistics.mean(r['test_accuracy'] for r in per_norm[n]):.1f}",
             f"{100 * statistics.mean(r['test_exact_match'] for r in per_norm[n]):.1f}",
             f"{statistics.mean(r['test_loss'] for r in per_norm[n]):.3f}",
             f"{statistics.mean(r['cpu_s'] for r in per_norm[n]):.0f}"] for n in NORMS]
    name = figure(run, runs, seeds, "repro_sort.png")
    held = [sum(c.holds(o, v) for o, v in c.per_seed()) for c in checks]
    summary = (f"Test per-position accuracy on seq/sort after {recipe['epochs']} epochs, per seed {seeds}: "
               + "; ".join(f"{n} {[round(100 * r['test_accuracy'], 1) for r in per_norm[n]]} (mean "
                           f"{100 * statistics.mean(r['test_accuracy'] for r in per_norm[n]):.1f}%)" for n in NORMS)
               + f". PowerNorm beat LayerNorm on {held[0]} of {len(seeds)} seeds and BatchNorm on {held[1]} of "
                 f"{len(seeds)}.")
    if control:
        summary += (f" Control (seed {control['seed']}, {control['epochs']} epochs): "
                    + ", ".join(f"{r['norm']} {100 * r['test_accuracy']:.1f}%" for r in control["runs"])
                    + f"; {control['conclusion']}.")
    run.record(
        "repro_sort",
        claim="PowerNorm (no mean subtraction, running quadratic mean) outperforms both LayerNorm and BatchNorm in "
              "transformers.",
        seeds=seeds, checks=checks, summary=summary,
        setup=(f"task {TASK} (length 10, 10000/1000/1000); powernorm `small` variant (post-norm encoder, width 64, "
               f"3 layers, 4 heads, FFN 128, no dropout), norm switched, all else equal; PowerNorm alpha_fwd = "
               f"alpha_bkw = 0.9, eps 1e-5, 80 warmup steps on batch statistics; recipe {recipe}; seeds {seeds}; "
               f"1 thread. Checks written before running: per seed, PowerNorm's test accuracy > LayerNorm's and > "
               f"BatchNorm's."),
        table={"columns": ["norm", *(f"seed {s} test acc %" for s in seeds), "mean test acc %",
                           "mean exact match %", "mean test loss", "CPU s per run"], "rows": rows},
        paper={"source": "Shen et al. 2020, abstract (machine translation and language modelling)",
               "PN minus LN, BLEU": {"IWSLT14": 0.4, "WMT14": 0.6},
               "LN minus PN, perplexity": {"PTB": 5.6, "WikiText-103": 3.0},
               "BN": "naive BN in transformers is worse than LN (the paper's motivation)"},
        figures=[name],
        data={"runs": runs, "control": control, "wall_seconds": time.time() - wall},
    )
    print(summary)


if __name__ == "__main__":  # one run into the cache: OUT NORM SEED EPOCHS
    torch.set_num_threads(1)
    out_folder, norm_name, seed_value, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    cached_train_and_score(Path(out_folder), zoo.get_task(TASK), norm_name, seed_value, {**RECIPE, "epochs": epochs})
