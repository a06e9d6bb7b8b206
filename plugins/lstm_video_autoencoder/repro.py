"""Reproduction for `lstm-video-autoencoder` (Srivastava et al., 2015, arXiv:1502.04681), Sec. 3.5.

Claim: representations learned without labels by the composite LSTM model (reconstruct the input
+ predict the future) improve downstream classification when labels are few (paper Table 3 / Fig. 9:
UCF-101 with 1 and 10 labelled videos per class, the pretrained LSTM classifier beats the one
trained from random weights; the gap shrinks as labels grow).

Protocol, fixed before running:
- Unsupervised pretraining on `moving-digits/video`: 2000 sequences of one 8x8 digit bouncing in
  16x16 frames (digits of the training split only), 10 input frames, 10 future frames. Composite
  model with unconditioned decoders (the paper's Moving MNIST composite model), 128 LSTM units,
  logistic outputs, pixel cross entropy. zoo.train: Adam(W) lr 1e-3, gradient norm clipped at 1,
  batch 32, 3 epochs (188 steps).
- Downstream `moving-digits/classify`: which digit moves (10 classes) in 10-frame sequences; 10
  labelled training sequences per class (100 in all: the few-label setting), test: every test digit
  on 2 trajectories (720 sequences). The paper's classifier: the encoder LSTM (128 units) with a
  softmax read at every step and averaged, dropout 0.5 on the LSTM outputs.
- Two arms per seed, identical but for the encoder's initial weights: from the pretrained composite
  model's encoder, or random (PyTorch's LSTM init). Both fine-tune every weight, AdamW lr 1e-3, batch
  20, 60 epochs (300 steps), no early stopping (there is no labelled validation set to spare in the
  few-label setting).
- Seeds 0, 1, 2: each seeds the pretraining run, the classifier's head and dropout, and the data order.
- Check (per seed): test accuracy of the pretrained arm > the random-init arm.

Control, fixed before running, on the first seed where the check fails: pretrain 3x longer (9
epochs) and fine-tune again; if the check then holds, our pretraining budget is what failed, else
the claim fails at this scale.

Departures: 8x8 digits in 16x16 frames instead of MNIST digits in 64x64 frames; the downstream task
is digit identity instead of UCF-101 / HMDB-51 actions; one digit per sequence instead of two;
128 LSTM units instead of 2048 and 188 pretraining steps (CPU budget); Adam instead of the paper's
RMSProp-style training (zoo.train's optimisers); 10-frame classifier inputs, as long as the encoder's
pretraining inputs.

    zoo reproduce lstm-video-autoencoder --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds

from .model import load_encoder

HIDDEN, FRAME = 128, 16
PRETRAIN = {"n_train": 2000, "epochs": 3, "batch_size": 32, "lr": 1e-3}
FINETUNE = {"per_class": 10, "epochs": 60, "batch_size": 20, "lr": 1e-3}
CONTROL_FACTOR = 3


def pretrain(seed: int, epochs: int, n_train: int, hidden: int, lr: float = PRETRAIN["lr"]) -> tuple:
    task = zoo.get_task("moving-digits/video", n_train=n_train, frame_size=FRAME, seed=seed)
    torch.manual_seed(seed)
    model = zoo.create("lstm-video-autoencoder", task=task, hidden_size=hidden)
    start = time.time()
    result = zoo.train(model, task, epochs=epochs, batch_size=PRETRAIN["batch_size"], lr=lr,
                       clip_grad_norm=1.0, seed=seed, eval_splits=["val"], final_splits=["test"], progress=False)
    losses = {"val_loss": [h.get("val_loss") for h in result.history], "test_loss": result.final["test_loss"],
              "test_future_mse": result.final["test_future_mse"], "seconds": time.time() - start}
    print(f"  pretrain seed {seed} ({epochs} epochs): val loss {losses['val_loss']} test future mse "
          f"{losses['test_future_mse']:.4f} ({losses['seconds']:.0f} s)", flush=True)
    return model, losses


def finetune(seed: int, pretrained, per_class: int, epochs: int, hidden: int) -> dict:
    task = zoo.get_task("moving-digits/classify", per_class=per_class, frame_size=FRAME, seed=seed)
    torch.manual_seed(seed)
    classifier = zoo.create("lstm-video-autoencoder", task=task, hidden_size=hidden)
    if pretrained is not None:
        load_encoder(classifier, pretrained)
    result = zoo.train(classifier, task, epochs=epochs, batch_size=FINETUNE["batch_size"], lr=FINETUNE["lr"],
                       seed=seed, eval_splits=[], final_splits=["train", "test"], progress=False)
    return {"test": result.final["test_accuracy"], "train": result.final["train_accuracy"]}


def arms(seed: int, pretrained, per_class: int, epochs: int, hidden: int) -> dict:
    out = {"pretrained": finetune(seed, pretrained, per_class, epochs, hidden),
           "random": finetune(seed, None, per_class, epochs, hidden)}
    print(f"  seed {seed}, {per_class} labels per class: pretrained {out['pretrained']['test']:.3f} vs random "
          f"{out['random']['test']:.3f}", flush=True)
    return out


def figure(run: Run, model, seed: int) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    task = zoo.get_task("moving-digits/video", n_train=1, frame_size=FRAME, seed=seed)
    frames, future = task.splits()["test"][[0]]
    model.eval()
    with torch.no_grad():
        recon, predicted = model(frames)
    rows = [("input", frames[0]), ("reconstruction", torch.sigmoid(recon[0])), ("future (truth)", future[0]),
            ("future (predicted)", torch.sigmoid(predicted[0]))]
    steps = frames.shape[1]
    fig, axes = plt.subplots(len(rows), steps, figsize=(steps * 0.9, len(rows) * 1.0))
    for r, (label, video) in enumerate(rows):
        for t in range(steps):
            axes[r, t].imshow(video[t].numpy(), cmap="gray", vmin=0, vmax=1)
            axes[r, t].set_xticks([])
            axes[r, t].set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=6)
    fig.tight_layout()
    name = "composite_model_test_sequence.png"
    fig.savefig(run.figure(name), dpi=100)
    plt.close(fig)
    return name


def reproduce(run: Run) -> None:
    seeds = list(run.pick((0, 1, 2), (0,)))
    hidden = run.pick(HIDDEN, 32)
    pre_epochs, n_train = run.pick((PRETRAIN["epochs"], PRETRAIN["n_train"]), (1, 64))
    fine_epochs = run.pick(FINETUNE["epochs"], 2)
    per_class = FINETUNE["per_class"]
    torch.set_num_threads(1)
    start = time.time()
    pretraining, results, first_model = {}, {}, None
    for seed in seeds:
        model, pretraining[seed] = pretrain(seed, pre_epochs, n_train, hidden)
        first_model = first_model or model
        results[seed] = arms(seed, model, per_class, fine_epochs, hidden)

    pretrained = [results[s]["pretrained"]["test"] for s in seeds]
    random_init = [results[s]["random"]["test"] for s in seeds]
    check = Check(f"test accuracy with {per_class} labels per class: pretrained encoder > random init",
                  ours=pretrained, versus=random_init, better="higher")
    control = None
    failed = failing_seeds(seeds, [check])
    if failed:
        seed = failed[0]
        longer, losses = pretrain(seed, CONTROL_FACTOR * pre_epochs, n_train, hidden)
        again = arms(seed, longer, per_class, fine_epochs, hidden)
        holds = check.holds(again["pretrained"]["test"], again["random"]["test"])
        control = {"seed": seed, "pretrain_epochs": CONTROL_FACTOR * pre_epochs, "pretraining": losses, **again,
                   "check_holds": holds,
                   "conclusion": "holds with 3x longer pretraining: our pretraining budget is what failed" if holds
                   else "still fails with 3x longer pretraining: the claim fails at this scale"}
        print("control:", control["conclusion"], flush=True)

    rows = [[s, f"{pretraining[s]['test_loss']:.1f}", f"{pretraining[s]['test_future_mse']:.4f}",
             f"{100 * results[s]['pretrained']['test']:.1f}", f"{100 * results[s]['random']['test']:.1f}",
             f"{100 * results[s]['pretrained']['train']:.0f} / {100 * results[s]['random']['train']:.0f}"] for s in seeds]
    summary = (f"Digit classification from 10-frame moving-digit sequences with {per_class} labelled sequences per "
               f"class, test accuracy, mean of {len(seeds)} seeds: classifier initialised from the composite model's "
               f"encoder {100 * np.mean(pretrained):.1f}% vs random init {100 * np.mean(random_init):.1f}% (per seed "
               + ", ".join(f"{100 * a:.1f} vs {100 * b:.1f}" for a, b in zip(pretrained, random_init))
               + f"); pretraining: {pre_epochs} epochs on {n_train} unlabelled sequences, {hidden} LSTM units.")
    if control:
        summary += (f" Control (seed {control['seed']}, pretraining 3x longer): pretrained "
                    f"{100 * control['pretrained']['test']:.1f}% vs random {100 * control['random']['test']:.1f}%: "
                    f"{control['conclusion']}.")
    print(summary)
    run.record(
        "lstm_video_autoencoder",
        claim="Unsupervised LSTM encoder-decoder (reconstruct + predict future) representations improve downstream "
              "classification when labels are few.",
        seeds=seeds, checks=[check], summary=summary,
        setup=(f"Pretraining: moving-digits/video ({n_train} training sequences, one 8x8 digit bouncing in "
               f"{FRAME}x{FRAME} frames, 10 + 10 frames), composite model, unconditioned decoders, {hidden} LSTM "
               f"units, zoo.train AdamW lr {PRETRAIN['lr']}, clip 1.0, batch {PRETRAIN['batch_size']}, {pre_epochs} "
               f"epochs. Fine-tuning: moving-digits/classify ({per_class} per class = {10 * per_class} labelled "
               f"sequences; test 720), LSTM classifier (encoder + per-step softmax averaged, dropout 0.5), every weight "
               f"trained, AdamW lr {FINETUNE['lr']}, batch {FINETUNE['batch_size']}, {fine_epochs} epochs; arms: "
               f"encoder from the pretrained model vs random init; seeds {seeds}. Departures: digits in 16x16 instead "
               f"of MNIST in 64x64, digit identity instead of UCF-101 actions, 128 instead of 2048 units, short "
               f"pretraining, Adam instead of RMSProp (CPU budget, zoo.train's optimisers)."),
        table={"columns": ["seed", "pretrain test loss (nats/seq)", "test future MSE", "pretrained test %",
                           "random-init test %", "train % (pre / rand)"], "rows": rows},
        paper={"note": "Paper Table 3 / Fig. 9 (UCF-101, LSTM classifier on RGB percepts): 1 labelled video per class "
                       "29.6% from random init vs 32.6% pretrained; 10 per class 61.7% vs 65.4%; all labels "
                       "74.5% vs 75.8% (the gain shrinks as labels grow)."},
        figures=[figure(run, first_model, seeds[0])],
        data={"pretraining": pretraining, "finetuning": results, "control": control, "seconds": time.time() - start},
    )
