"""Cross-check of `ewc` against Avalanche's EWCPlugin (avalanche-lib): the same importances and penalty.

Claim: our Fisher importances and penalty equal Avalanche's on the same model, data and weights.
Avalanche's importances are the squared gradient of the mean minibatch loss, averaged over the
minibatches (the empirical Fisher when the minibatch holds one sample), and its penalty is
ewc_lambda * sum_i imp_i (theta_i - theta*_i)^2, without the 1/2 of Eq. 3. So like is compared
with like: our empirical Fisher (`fisher="empirical"`) against Avalanche at minibatch size 1, and
our penalty at importance = 2 * ewc_lambda. (The paper's true Fisher, our default, draws the labels
from the model; Avalanche has no such option.)

Setup: the reproduction's MLP (64-400-400-10), trained 2 epochs on digits/permuted (permutation 1),
is the anchor; its Fisher is taken over the 1150 training images; the penalty is evaluated at the
anchor plus Gaussian noise (std 0.01, seed 0), ewc_lambda = 500.

Verdict rule (written before running): reproduced if the largest absolute difference of the
importances is at most 1e-5 of the largest importance and the penalties differ by at most 1e-5
relative; not reproduced otherwise.

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

from .method import fisher_diagonal, task_batches
from .repro import BATCH, LR, mlp

EWC_LAMBDA = 500.0
NOISE = 0.01


def avalanche_python() -> str:
    chosen = os.environ.get("ZOO_AVALANCHE_PYTHON")
    if chosen:
        return chosen
    if importlib.util.find_spec("avalanche") is not None:
        return sys.executable
    raise ZooError("this cross-check needs avalanche-lib: install it in a separate environment "
                   "(python -m venv avl && avl/bin/pip install avalanche-lib) and set ZOO_AVALANCHE_PYTHON to "
                   "that environment's python")


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    start = time.time()
    python = avalanche_python()
    task = zoo.get_task("digits/permuted", permutation=1)
    model = mlp(0)
    zoo.train(model, task, epochs=run.pick(2, 1), batch_size=BATCH, lr=LR * 10, optimizer="sgd", seed=0,
              eval_splits=[], final_splits=[], progress=False)

    ours = fisher_diagonal(model, task_batches(model, task, labels=True))
    ewc = zoo.method("ewc", fisher="empirical", importance=2 * EWC_LAMBDA)
    kept = ewc.consolidate(model, task)
    anchor = {k: v.clone() for k, v in model.state_dict().items()}
    noise = torch.Generator().manual_seed(0)
    moved = {k: v + NOISE * torch.randn(v.shape, generator=noise) for k, v in anchor.items()}
    our_penalty = float(ewc.penalty({k: v for k, v in moved.items()}))

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

    version = ".".join(str(int(v)) for v in theirs["version"])
    differences = {k: float((ours[k] - theirs[f"importance.{k}"]).abs().max()) for k in ours}
    stored = {k: float((kept["fisher"][k] - ours[k]).abs().max()) for k in ours}
    largest = max(float(f.abs().max()) for f in ours.values())
    worst = max(differences.values())
    their_penalty = float(theirs["penalty"])
    relative = abs(our_penalty - their_penalty) / abs(their_penalty)
    verdict = "reproduced" if worst <= 1e-5 * largest and relative <= 1e-5 else "not reproduced"
    summary = (f"Against Avalanche {version}'s EWCPlugin at minibatch size 1: the importances differ by at most "
               f"{worst:.2e} (largest importance {largest:.3e}, so {worst / largest:.1e} of it), over "
               f"{sum(f.numel() for f in ours.values()):,} parameters; the penalty at the moved weights is "
               f"{our_penalty:.8g} here against {their_penalty:.8g} there (relative difference {relative:.1e}), "
               f"with importance = 2 x ewc_lambda = {2 * EWC_LAMBDA:g} for the 1/2 of Eq. 3.")
    run.record(
        "ewc_avalanche",
        claim="The Fisher importances and the penalty equal Avalanche's EWCPlugin on the same model, data and weights "
              "(empirical Fisher at minibatch size 1; Avalanche's penalty has no 1/2).",
        verdict=verdict, summary=summary,
        setup=f"MLP 64-400-400-10 trained {run.pick(2, 1)} epochs (SGD lr {LR * 10}, batch {BATCH}) on "
              f"digits/permuted permutation 1; importances over its 1150 training images; penalty at the anchor "
              f"plus N(0, {NOISE}^2) noise (seed 0); ewc_lambda {EWC_LAMBDA:g}, our importance {2 * EWC_LAMBDA:g}. "
              f"Ours: fisher_diagonal (torch.func per-sample gradients) and EWC.consolidate/penalty; Avalanche "
              f"{version}: EWCPlugin.compute_importances and before_backward, run in its own environment. Rule: "
              f"reproduced if max |difference| <= 1e-5 x max importance and the penalties agree to 1e-5 relative.",
        table={"columns": ["parameter", "max |F_ours - F_avalanche|", "max F"],
               "rows": [[k, f"{differences[k]:.2e}", f"{float(ours[k].max()):.3e}"] for k in ours]
               + [["penalty", f"{abs(our_penalty - their_penalty):.2e}", f"{their_penalty:.6g}"]]},
        data={"avalanche_version": version, "max_abs_difference": differences, "consolidate_vs_functional": stored,
              "penalty_ours": our_penalty, "penalty_avalanche": their_penalty, "relative_penalty_difference": relative,
              "seconds": time.time() - start},
    )
    print(summary)
