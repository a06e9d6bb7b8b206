"""Cross-check of `ewc` against Avalanche's EWCPlugin (avalanche-lib): the same importances and penalty.

Claim: our Fisher importances and penalty equal Avalanche's on the same model, data and weights.
Avalanche's importances are the squared gradient of the mean minibatch loss, averaged over the
minibatches (the empirical Fisher when the minibatch holds one sample), and its penalty is
ewc_lambda * sum_i imp_i (theta_i - theta*_i)^2, without the 1/2 of Eq. 3. So like is compared
with like: our empirical Fisher (`fisher="empirical"`) against Avalanche at minibatch size 1, and
our penalty at importance = 2 * ewc_lambda. (The paper's true Fisher, our default, draws the labels
from the model; Avalanche has no such option.)

Setup, per seed s in 0, 1, 2: the reproduction's MLP (64-400-400-10, initialised from seed s),
trained 2 epochs on digits/permuted (permutation 1), is the anchor; its Fisher is taken over the
1150 training images; the penalty is evaluated at the anchor plus Gaussian noise (std 0.01, seed
s), ewc_lambda = 500.

Checks (zoo.verdicts, written before running), per seed: the largest absolute difference of the
importances is below 1e-5 of the largest importance, and the penalties differ by less than 1e-5
relative.

Avalanche runs in its own environment (it pins packages of its own): set ZOO_AVALANCHE_PYTHON to a
Python with avalanche-lib (and torch) installed, e.g. a venv made with
``python -m venv avl && avl/bin/pip install avalanche-lib``; without it, this interpreter is used if
it imports avalanche.

    zoo reproduce ewc --part repro_avalanche
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

import zoo
from zoo.errors import ZooError
from zoo.reproduce import Run
from zoo.verdicts import Check

from .method import fisher_diagonal, task_batches
from .repro import BATCH, LR, mlp

EWC_LAMBDA = 500.0
NOISE = 0.01
SEEDS = (0, 1, 2)
TOLERANCE = 1e-5  # relative; float32 sums over 1150 samples in a different order agree far closer


def avalanche_python() -> str:
    chosen = os.environ.get("ZOO_AVALANCHE_PYTHON")
    if chosen:
        return chosen
    if importlib.util.find_spec("avalanche") is not None:
        return sys.executable
    raise ZooError("this cross-check needs avalanche-lib: install it in a separate environment "
                   "(python -m venv avl && avl/bin/pip install avalanche-lib) and set ZOO_AVALANCHE_PYTHON to "
                   "that environment's python")


def compare(python: str, seed: int, epochs: int) -> dict:
    """Train the anchor from `seed`, then our importances and penalty against Avalanche's."""
    task = zoo.get_task("digits/permuted", permutation=1)
    model = mlp(seed)
    zoo.train(model, task, epochs=epochs, batch_size=BATCH, lr=LR * 10, optimizer="sgd", seed=seed,
              eval_splits=[], final_splits=[], progress=False)

    ours = fisher_diagonal(model, task_batches(model, task, labels=True))
    ewc = zoo.method("ewc", fisher="empirical", importance=2 * EWC_LAMBDA)
    kept = ewc.consolidate(model, task)
    anchor = {k: v.clone() for k, v in model.state_dict().items()}
    noise = torch.Generator().manual_seed(seed)
    moved = {k: v + NOISE * torch.randn(v.shape, generator=noise) for k, v in anchor.items()}
    our_penalty = float(ewc.penalty(moved))

    x, y = task.splits()["train"].tensors[:2]
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in.safetensors", Path(folder) / "out.safetensors"
        save_file({**{f"anchor.{k}": v.contiguous() for k, v in anchor.items()},
                   **{f"moved.{k}": v.contiguous() for k, v in moved.items()},
                   "x": x.contiguous(), "y": y.contiguous(), "ewc_lambda": torch.tensor(EWC_LAMBDA)}, str(source))
        done = subprocess.run([python, str(Path(__file__).with_name("avalanche_check.py")), str(source), str(target)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise ZooError(f"the Avalanche side failed ({python}):\n{done.stderr[-2000:]}")
        theirs = load_file(str(target))

    differences = {k: float((ours[k] - theirs[f"importance.{k}"]).abs().max()) for k in ours}
    their_penalty = float(theirs["penalty"])
    return {"avalanche_version": ".".join(str(int(v)) for v in theirs["version"]),
            "max_abs_difference": differences,
            "consolidate_vs_functional": {k: float((kept["fisher"][k] - ours[k]).abs().max()) for k in ours},
            "largest_importance": max(float(f.abs().max()) for f in ours.values()),
            "largest_by_parameter": {k: float(f.max()) for k, f in ours.items()},
            "parameters": sum(f.numel() for f in ours.values()),
            "penalty_ours": our_penalty, "penalty_avalanche": their_penalty,
            "relative_penalty_difference": abs(our_penalty - their_penalty) / abs(their_penalty)}


def worst_difference(comparison: dict) -> float:
    return max(comparison["max_abs_difference"].values())


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The checks from a record's data (one comparison per seed)."""
    seeds = list(data["seeds"])
    per = [data["by_seed"][str(s)] for s in seeds]
    return seeds, [
        Check(f"max |importance difference| / max importance < {TOLERANCE:g}", better="lower", versus=TOLERANCE,
              ours=[worst_difference(p) / p["largest_importance"] for p in per]),
        Check(f"relative penalty difference < {TOLERANCE:g}", better="lower", versus=TOLERANCE,
              ours=[p["relative_penalty_difference"] for p in per]),
    ]


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    start = time.time()
    python = avalanche_python()
    seeds, epochs = list(run.pick(SEEDS, SEEDS[:1])), run.pick(2, 1)
    by_seed = {str(seed): compare(python, seed, epochs) for seed in seeds}
    data = {"seeds": seeds, "by_seed": by_seed}
    seeds, checks = claim_checks(data)
    first = by_seed[str(seeds[0])]
    version = first["avalanche_version"]
    summary = (f"Against Avalanche {version}'s EWCPlugin at minibatch size 1, on {len(seeds)} anchors (seeds "
               f"{', '.join(map(str, seeds))}), over {first['parameters']:,} parameters each: the importances "
               "differ by at most " + ", ".join(
                   f"{worst_difference(p):.2e} ({worst_difference(p) / p['largest_importance']:.1e} of the largest, "
                   f"{p['largest_importance']:.3e})" for p in by_seed.values())
               + "; the penalties at the moved weights are " + ", ".join(
                   f"{p['penalty_ours']:.8g} here against {p['penalty_avalanche']:.8g} there (relative "
                   f"{p['relative_penalty_difference']:.1e})" for p in by_seed.values())
               + f", with importance = 2 x ewc_lambda = {2 * EWC_LAMBDA:g} for the 1/2 of Eq. 3.")
    run.record(
        "ewc_avalanche",
        claim="The Fisher importances and the penalty equal Avalanche's EWCPlugin on the same model, data and weights "
              "(empirical Fisher at minibatch size 1; Avalanche's penalty has no 1/2).",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"Per seed: MLP 64-400-400-10 initialised from the seed, trained {epochs} epochs (SGD lr {LR * 10}, "
              f"batch {BATCH}) on digits/permuted permutation 1; importances over its 1150 training images; penalty "
              f"at the anchor plus N(0, {NOISE}^2) noise (the seed's); ewc_lambda {EWC_LAMBDA:g}, our importance "
              f"{2 * EWC_LAMBDA:g}. Ours: fisher_diagonal (torch.func per-sample gradients) and EWC.consolidate/"
              f"penalty; Avalanche {version}: EWCPlugin.compute_importances and before_backward, run in its own "
              f"environment. Checks written before running: both differences below {TOLERANCE:g} relative.",
        table={"columns": ["parameter", f"max |F_ours - F_avalanche| (seed {seeds[0]})", "max F"],
               "rows": [[k, f"{v:.2e}", f"{first['largest_by_parameter'][k]:.3e}"]
                        for k, v in first["max_abs_difference"].items()]
               + [["penalty", f"{abs(first['penalty_ours'] - first['penalty_avalanche']):.2e}",
                   f"{first['penalty_avalanche']:.6g}"]]},
        data={**data, "seconds": time.time() - start},
    )
    print(summary)
