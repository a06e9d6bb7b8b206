"""Reproduction: mlpconv layers with a global-average-pooling classifier match or beat a same-size
CNN with a fully-connected head, and overfit less.

Claim (Network In Network arXiv:1312.4400): NIN's mlpconv layers with global average
pooling (GAP) match or beat a same-size CNN with a fully-connected head, and overfit less.

Small-scale test on 8x8 `digits` (1150 train / 288 val / 360 test), 3 seeds, one recipe for every
model (AdamW, lr 1e-3 with warmup and cosine decay, weight decay 1e-4, 40 epochs, batch 64):
- NIN, the plugin's `digits` variant as the paper builds it (ReLU on the class maps), 71k parameters;
- NIN with linear class maps (`relu_on_class_maps=False`), the one change that avoids dead classes;
- a CNN of the same size: the same k x k convolutions, pools and dropout, without the 1x1 layers,
  then a fully-connected hidden layer (width chosen to match the parameter count) and the classifier;
- mlpconv + FC: NIN's layers with the GAP classifier replaced by dropout and a fully-connected layer
  (the paper's own GAP-vs-FC comparison).
Overfitting is read from the train-test gaps in accuracy and loss at the end of training. Decided
before running: reproduced if the paper-form NIN's mean test accuracy is at least the CNN's minus
0.5 points AND its train-test loss gap is smaller; partially reproduced if one of the two holds.
The seed-0 paper-form NIN is kept as the checkpoint `network-in-network.digits`.

    zoo reproduce network-in-network --part repro
"""

from __future__ import annotations

from torch import nn

from zoo.reproduce import Run
from zoo_plugins.mlp_mixer.repro import n_params, plot, run_jobs, summarise, table, take_trained

SEEDS = (0, 1, 2)
RECIPE = {"epochs": 40, "batch_size": 64, "lr": 1e-3, "optimizer": "adamw", "weight_decay": 1e-4,
          "schedule": "cosine", "warmup_steps": 100}


def _nin(relu_on_class_maps: bool = True) -> nn.Module:
    import zoo

    return zoo.create("network-in-network", variant="digits", relu_on_class_maps=relu_on_class_maps)


def _nin_linear_class_maps() -> nn.Module:
    return _nin(relu_on_class_maps=False)


def _cnn_fc() -> nn.Module:
    """Same k x k convolutions (1->32->64->64, kernel 3), pools and dropout as NIN's digits variant,
    no 1x1 convolutions; then flatten, a hidden FC layer sized to match NIN's parameters, the classifier."""

    def build(hidden: int) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True), nn.Dropout(0.5),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True), nn.Dropout(0.5),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.Flatten(),
            nn.Linear(64 * 2 * 2, hidden), nn.ReLU(), nn.Dropout(0.5), nn.Linear(hidden, 10))

    target = n_params(_nin())
    return build(min(range(1, 512), key=lambda h: abs(n_params(build(h)) - target)))


def _mlpconv_fc() -> nn.Module:
    """NIN's mlpconv layers up to the last one's second 1x1 convolution, then dropout and one FC
    layer to the classes instead of class maps + GAP."""
    from zoo_plugins.network_in_network.model import MlpConv

    nin = _nin()
    *body, _ = nin.features
    return nn.Sequential(*body, MlpConv(64, [64, 64], 3), nn.Dropout(0.5), nn.Flatten(), nn.Linear(64 * 2 * 2, 10))


PAPER_FORM = "NIN (paper: ReLU class maps, GAP)"
MODELS = {PAPER_FORM: _nin, "NIN, linear class maps, GAP": _nin_linear_class_maps,
          "CNN + FC head (same size)": _cnn_fc, "mlpconv + FC head": _mlpconv_fc}


def reproduce(run: Run) -> None:
    seeds = run.pick(SEEDS, SEEDS[:1])
    recipe = {**RECIPE, "epochs": run.pick(RECIPE["epochs"], 1)}
    runs = run_jobs([(label, build, seed, recipe) for seed in seeds for label, build in MODELS.items()])
    run.keep(take_trained(runs)[(PAPER_FORM, seeds[0])], "digits")
    summary = summarise(runs)
    for row in summary.values():
        row["accuracy_gap"] = row["train_accuracy"] - row["test_accuracy"]
        row["loss_gap"] = row["test_loss"] - row["train_loss"]
    nin, linear, cnn, fc = (summary[k] for k in MODELS)
    matches = nin["test_accuracy"] >= cnn["test_accuracy"] - 0.005
    overfits_less = nin["loss_gap"] < cnn["loss_gap"]
    verdict = ("reproduced" if matches and overfits_less else
               "partially reproduced" if matches or overfits_less else "not reproduced")
    plot(summary, runs, run.figure("repro_digits.png"),
         "Network In Network vs a same-size CNN with a fully-connected head (8x8 digits)")
    rows = table(summary)
    rows["columns"] += ["train-test accuracy gap (points)", "test-train loss gap"]
    for row, values in zip(rows["rows"], summary.values()):
        row += [f"{100 * values['accuracy_gap']:.1f}", f"{values['loss_gap']:.3f}"]

    def describe(label, row):
        return (f"{label} {100 * row['test_accuracy']:.1f}% test (train {100 * row['train_accuracy']:.1f}%, "
                f"loss gap {row['loss_gap']:.3f})")

    run.record(
        "repro_digits",
        claim="mlpconv layers with a global-average-pooling classifier match or beat a same-size CNN with a "
              "fully-connected head, and overfit less.",
        verdict=verdict,
        summary=(f"{len(seeds)} seeds on 8x8 digits, ~{nin['params'] / 1e3:.0f}k parameters each: "
                 + "; ".join(describe(k, v) for k, v in summary.items())
                 + f". Paper-form NIN {'matches or beats' if matches else 'falls short of'} the CNN "
                 f"(rule: within 0.5 points) and {'overfits less' if overfits_less else 'does not overfit less'} "
                 "by the test-train loss gap."),
        setup=(f"task digits (sklearn 8x8, 1150/288/360 split); recipe {recipe}; seeds {seeds}; scores after the "
               "last epoch, train split scored in eval mode (no dropout); 1 thread per run"),
        table=rows,
        paper={"source": "Lin et al. 2013, CIFAR-10 test error without augmentation",
               "NIN + dropout (GAP)": 10.41, "conv. maxout + dropout": 11.68,
               "note": "the paper's GAP-vs-FC comparison on CIFAR-10 (test error %): mlpconv + FC 11.59, "
                       "mlpconv + FC + dropout 10.88, mlpconv + GAP 10.41"},
        figures=["repro_digits.png"],
        data={"summary": summary, "runs": runs},
    )
    print(verdict)
    for row in rows["rows"]:
        print(row)
