"""Second reproduction for `lstm-video-autoencoder`: the same claim and check as repro.py, with the
pretraining run long enough to learn.

Why: in repro.py's run, 3 epochs (188 steps) at lr 1e-3 lowered the composite model's validation
loss by about 1% (seed 0: 114.7 -> 113.4 nats per sequence): the model had barely started to
reconstruct or predict, so its encoder could not carry a representation, and the first seed's
fine-tuning gave 19.6% (pretrained) vs 20.1% (random). That tests our short pretraining, not the
paper's trained models. This script, written after seeing that and fixed before running, changes
only the pretraining: lr 3e-3 and 8 epochs (500 steps), everything else as repro.py (2000 sequences,
128 units, unconditioned composite model, batch 32, clip 1; fine-tuning with 10 labels per class,
AdamW lr 1e-3, batch 20, 60 epochs; seeds 0, 1, 2).

Check (per seed), as in repro.py: test accuracy of the pretrained arm > the random-init arm. If it
holds here and not in repro.py, the short pretraining was what failed; if it fails here too, the
claim fails at this scale (128 units, 500 steps, 8x8 digits).

    zoo reproduce lstm-video-autoencoder --part repro_long
"""

from __future__ import annotations

import time

import numpy as np
import torch

from zoo.reproduce import Run
from zoo.verdicts import Check

from .repro import FINETUNE, HIDDEN, PRETRAIN, arms, pretrain

LONG_LR, LONG_EPOCHS = 3e-3, 8


def reproduce(run: Run) -> None:
    seeds = list(run.pick((0, 1, 2), (0,)))
    hidden = run.pick(HIDDEN, 32)
    epochs, n_train = run.pick((LONG_EPOCHS, PRETRAIN["n_train"]), (1, 64))
    fine_epochs = run.pick(FINETUNE["epochs"], 2)
    per_class = FINETUNE["per_class"]
    torch.set_num_threads(1)
    start = time.time()
    pretraining, results = {}, {}
    for seed in seeds:
        model, pretraining[seed] = pretrain(seed, epochs, n_train, hidden, lr=LONG_LR)
        results[seed] = arms(seed, model, per_class, fine_epochs, hidden)
    pretrained = [results[s]["pretrained"]["test"] for s in seeds]
    random_init = [results[s]["random"]["test"] for s in seeds]
    check = Check(f"test accuracy with {per_class} labels per class: pretrained encoder > random init "
                  f"(pretraining {epochs} epochs at lr {LONG_LR})", ours=pretrained, versus=random_init, better="higher")
    held = [check.holds(a, b) for a, b in zip(pretrained, random_init)]
    conclusion = ("holds on every seed with the longer pretraining: repro.py's short pretraining was what failed"
                  if all(held) else "fails on some or all seeds even with the longer pretraining: at this scale "
                  "the claim does not (fully) reproduce")
    rows = [[s, " -> ".join(f"{v:.1f}" for v in pretraining[s]["val_loss"][::max(1, epochs // 4)]),
             f"{pretraining[s]['test_future_mse']:.4f}", f"{100 * results[s]['pretrained']['test']:.1f}",
             f"{100 * results[s]['random']['test']:.1f}"] for s in seeds]
    summary = (f"With pretraining of {epochs} epochs ({epochs * -(-n_train // PRETRAIN['batch_size'])} steps) at lr "
               f"{LONG_LR}: test accuracy with {per_class} labels per class, pretrained encoder "
               f"{100 * np.mean(pretrained):.1f}% vs random init {100 * np.mean(random_init):.1f}% (per seed "
               + ", ".join(f"{100 * a:.1f} vs {100 * b:.1f}" for a, b in zip(pretrained, random_init))
               + f"); {conclusion}.")
    print(summary)
    run.record(
        "lstm_video_autoencoder_long_pretraining",
        claim="Unsupervised LSTM encoder-decoder (reconstruct + predict future) representations improve downstream "
              "classification when labels are few.",
        seeds=seeds, checks=[check], summary=summary,
        setup=(f"As repro.py (record lstm_video_autoencoder) but pretraining {epochs} epochs at lr {LONG_LR} "
               f"(repro.py: {PRETRAIN['epochs']} at {PRETRAIN['lr']}), chosen after repro.py's pretraining lowered "
               f"the validation loss by about 1%; {n_train} sequences, {hidden} units, batch {PRETRAIN['batch_size']}, "
               f"clip 1; fine-tuning {per_class} labels per class, {fine_epochs} epochs; seeds {seeds}."),
        table={"columns": ["seed", "pretrain val loss over epochs", "test future MSE", "pretrained test %",
                           "random-init test %"], "rows": rows},
        paper={"note": "Paper Table 3 (UCF-101): 10 labelled videos per class, 61.7% random init vs 65.4% pretrained."},
        data={"pretraining": pretraining, "finetuning": results, "conclusion": conclusion,
              "seconds": time.time() - start},
    )
