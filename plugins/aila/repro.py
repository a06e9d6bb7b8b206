"""Reproduction for `aila` (Adaptive Integrated Layered Attention, 2025).

Claim: AILA's adaptive inter-layer connections match LSTM, Transformer and ResNet baselines in
accuracy at a fraction of their training time.

Protocol, fixed before running:
- Tasks: `forecast/goog` (a real daily price series, matplotlib's bundled goog.npz: 30 log-returns
  in, the next 5 out, chronological 70/10/20 split; the no-change forecast's test MSE is the floor
  of usefulness) and `digits` (sklearn 8x8 digits, the built-in split of seed s).
- Models, all about 20k parameters except AILA with attention (its query/key maps add ~33k): AILA
  with attention connections (hidden 64, 4 layers), AILA with gated connections (the variant with
  learned input-independent weights); baselines: a one-layer LSTM (hidden 64) over the steps (30
  steps of 1 value; digits as 8 rows of 8 pixels), a Transformer encoder (dim 32, 4 heads, 2 layers,
  learned positions, mean pooling), a residual MLP (hidden 64, 2 residual blocks).
- Training, identical for all: zoo.train, Adam lr 1e-3, batch 64, cosine schedule, 20 epochs on
  forecast/goog and 15 on digits; seeds 0, 1, 2 (init; digits' split). Wall time per epoch: the
  median of the epochs after the first (timed by a callback), one CPU thread.
Checks per seed (AILA = the attention variant):
  1. forecast/goog: AILA test MSE below 1.05 x the best of LSTM / Transformer / residual MLP;
  2. digits: AILA test accuracy above the best baseline's - 0.01;
  3. forecast/goog: AILA's time per epoch below the faster of LSTM and Transformer;
  4. digits: the same.
Control, fixed before running: for the first seed where check 1 or 2 fails, AILA and that seed's
best baseline are trained 3x longer; if AILA then matches, our training length is to blame (our
protocol fails); if not, the claim fails at this scale.

    zoo reproduce aila --part repro
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds

from .baselines import LSTMBaseline, ResidualMLP, TransformerBaseline

EPOCHS = {"forecast/goog": 20, "digits": 15}
METRIC = {"forecast/goog": "test_mse", "digits": "test_accuracy"}
HIGHER = {"forecast/goog": False, "digits": True}
LR, BATCH = 1e-3, 64
BASELINES = ("LSTM", "Transformer", "residual MLP")


def build(name: str, task: str):
    info = zoo.get_task(task).info
    steps, features = info.input_shape[-2], info.input_shape[-1]
    if name == "AILA (attention)":
        return zoo.create("aila", task=task)
    if name == "AILA (gated)":
        return zoo.create("aila", task=task, connection="gated")
    if name == "LSTM":
        return LSTMBaseline(steps, features, info.output_dim)
    if name == "Transformer":
        return TransformerBaseline(steps, features, info.output_dim)
    return ResidualMLP(info.input_dim, info.output_dim)


class EpochClock:
    """Wall time at the end of every epoch."""

    def __init__(self):
        self.ends = []

    def zoo_train_start(self, run):
        self.ends = [time.perf_counter()]

    def zoo_train_epoch_end(self, run, metrics):
        self.ends.append(time.perf_counter())

    def per_epoch(self) -> float:
        gaps = np.diff(self.ends)
        return float(statistics.median(gaps[1:] if len(gaps) > 1 else gaps))


def fit(name: str, task: str, seed: int, epochs: int) -> dict:
    torch.manual_seed(seed)
    model = build(name, task)
    clock = EpochClock()
    result = zoo.train(model, task, task_options={"seed": seed} if task == "digits" else None, optimizer="adam",
                       lr=LR, batch_size=BATCH, epochs=epochs, schedule="cosine", seed=seed, eval_splits=[],
                       final_splits=["test"], callbacks=[clock], progress=False)
    return {"metric": float(result.final[METRIC[task]]), "epoch_seconds": clock.per_epoch(),
            "params": sum(p.numel() for p in model.parameters())}


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    seeds = list(run.pick((0, 1, 2), (0,)))
    scale = run.pick(1.0, 0.15)
    start = time.time()
    names = ("AILA (attention)", "AILA (gated)", *BASELINES)
    results = {}
    for task in EPOCHS:
        for seed in seeds:  # models interleaved within a seed, so that load on the machine hits all alike
            for name in names:
                results.setdefault(task, {}).setdefault(name, []).append(
                    fit(name, task, seed, max(2, int(EPOCHS[task] * scale))))
        for name in names:
            print(task, name, [(round(r["metric"], 4), round(r["epoch_seconds"], 3)) for r in results[task][name]],
                  flush=True)

    def values(task, name, key="metric"):
        return [r[key] for r in results[task][name]]

    def best_baseline(task):
        pick = max if HIGHER[task] else min
        return [pick(vals) for vals in zip(*(values(task, b) for b in BASELINES))]

    def fastest_sequence_model(task):
        return [min(a, b) for a, b in zip(values(task, "LSTM", "epoch_seconds"),
                                          values(task, "Transformer", "epoch_seconds"))]

    checks = [
        Check("forecast/goog: AILA test MSE below 1.05x the best baseline's", ours=values("forecast/goog", names[0]),
              versus=best_baseline("forecast/goog"), better="lower", factor=1 / 1.05),
        Check("digits: AILA test accuracy above the best baseline's - 0.01", ours=values("digits", names[0]),
              versus=best_baseline("digits"), better="higher", margin=-0.01),
        Check("forecast/goog: AILA time per epoch below the faster of LSTM and Transformer",
              ours=values("forecast/goog", names[0], "epoch_seconds"), versus=fastest_sequence_model("forecast/goog"),
              better="lower"),
        Check("digits: AILA time per epoch below the faster of LSTM and Transformer",
              ours=values("digits", names[0], "epoch_seconds"), versus=fastest_sequence_model("digits"), better="lower"),
    ]

    control = None
    for check, task in zip(checks[:2], EPOCHS):
        failing = failing_seeds(seeds, [check])
        if failing and not run.quick and control is None:
            seed = failing[0]
            index = seeds.index(seed)
            pick = max if HIGHER[task] else min
            rival = pick(BASELINES, key=lambda b: results[task][b][index]["metric"])
            epochs = 3 * EPOCHS[task]
            ours, theirs = fit(names[0], task, seed, epochs)["metric"], fit(rival, task, seed, epochs)["metric"]
            holds = check.holds(ours, theirs)
            control = {"task": task, "seed": seed, "epochs": epochs, "rival": rival, "aila": ours, "rival_metric": theirs,
                       "holds": holds,
                       "conclusion": "with 3x longer training AILA matches: our training length was to blame (our "
                                     "protocol fails)" if holds else
                                     "with 3x longer training AILA still does not match: the claim fails at this scale"}
            print("control", control, flush=True)

    naive = zoo.get_task("forecast/goog").info.extra["naive_mse"]
    rows = []
    for task, by_name in results.items():
        for name, rs in by_name.items():
            rows.append([task, name, rs[0]["params"], " ".join(f"{r['metric']:.4f}" for r in rs),
                         f"{np.mean([r['metric'] for r in rs]):.4f}", f"{np.mean([r['epoch_seconds'] for r in rs]):.3f}",
                         f"{np.mean([r['epoch_seconds'] for r in rs]) / np.mean(values(task, names[0], 'epoch_seconds')):.2f}"])
    mean = lambda task, name, key="metric": float(np.mean(values(task, name, key)))  # noqa: E731
    summary = (f"Seeds {seeds}. forecast/goog test MSE (no-change forecast: {naive:.3f}): " + ", ".join(
        f"{n} {mean('forecast/goog', n):.3f}" for n in names) + ". digits accuracy: " + ", ".join(
        f"{n} {mean('digits', n):.4f}" for n in names) + ". Seconds per epoch relative to AILA (attention), goog / "
        "digits: " + ", ".join(f"{n} {mean('forecast/goog', n, 'epoch_seconds') / mean('forecast/goog', names[0], 'epoch_seconds'):.2f}"
                               f" / {mean('digits', n, 'epoch_seconds') / mean('digits', names[0], 'epoch_seconds'):.2f}"
                               for n in names[1:]) + ".")
    if control:
        summary += (f" Control ({control['task']}, seed {control['seed']}, {control['epochs']} epochs): AILA "
                    f"{control['aila']:.4f} vs {control['rival']} {control['rival_metric']:.4f}; {control['conclusion']}.")
    print(summary)
    run.record(
        "aila",
        claim="AILA's adaptive inter-layer attention connections match LSTM/Transformer/ResNet baselines at a fraction "
              "of the training time.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"AILA: input projection + 4 fully connected ReLU layers of width 64, each over an attention (or gated) "
              f"mix of all earlier outputs, linear head. Baselines: LSTM (hidden 64), Transformer encoder (dim 32, 4 "
              f"heads, 2 layers), residual MLP (hidden 64, 2 blocks). zoo.train, Adam lr {LR}, batch {BATCH}, cosine, "
              f"{EPOCHS['forecast/goog']} epochs (forecast/goog) / {EPOCHS['digits']} (digits), one CPU thread; time per "
              f"epoch = median over epochs 2..end. Departures: the paper's own data sets and per-task architectures "
              f"are replaced by the bundled goog price series and digits; one attention head per layer; sizes chosen "
              f"here (about 20k parameters for the baselines), not the paper's.",
        table={"columns": ["task", "model", "params", "per seed", "mean", "s / epoch (mean)", "time vs AILA"],
               "rows": rows},
        paper={"note": "The paper reports AILA matching or beating LSTM, Transformer and ResNet baselines on price "
                       "forecasting, image recognition and sentiment tasks, with much shorter training times."},
        data={"results": results, "naive_mse": naive, "control": control, "seconds": time.time() - start},
    )
