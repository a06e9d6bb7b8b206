"""Reproduction: mlpconv layers with a global-average-pooling classifier match or beat a same-size
CNN with a fully-connected head, and overfit less.

Claim (Network In Network arXiv:1312.4400): NIN's mlpconv layers with global average
pooling (GAP) match or beat a same-size CNN with a fully-connected head, and overfit less.

Small-scale test on 8x8 `digits` (1150 train / 288 val / 360 test), fixed before running:
- Models of ~71k parameters: NIN, the plugin's `digits` variant as the paper builds it (ReLU on
  the class maps, GAP), and a CNN of the same size with a fully-connected head (the same k x k
  convolutions, pools and dropout without the 1x1 layers, a hidden FC layer sized to match, the
  classifier).
- The paper's training procedure for every model (Lin et al. 2013, Sec. 4.1, after Krizhevsky et
  al.; values of the authors' released CIFAR-10 solver): SGD with momentum 0.9, mini-batches of
  128, weight decay 1e-4, the initial lr until the training accuracy stops improving, then lowered
  10x, once more, to 1% of the initial value. The paper sets the initial lr by hand; the release's
  solver uses 0.1. Here it is chosen per model from {0.1, 0.05, 0.02, 0.01} by the mean final validation
  accuracy over the seeds (lr 0.1 leaves the He-initialised NIN dead, at chance, on some seeds). "Stops improving" is fixed here as phases of 40, 10 and
  10 epochs (a seed-0 trial of NIN and the CNN plateaued by then); each phase is one zoo.train
  call, so the momentum buffer restarts at each drop. Seeds 0, 1, 2; scores after the last epoch,
  the train split in eval mode (dropout off).
- Checks (zoo.verdicts, per seed), as pre-registered with this claim: NIN's test accuracy is at
  least the CNN's minus 0.5 point ("match or beat"), and NIN's test-train loss gap is smaller
  than the CNN's ("overfit less").
- Also run, not checked: NIN with the release's initialisation (every weight from N(0, 0.05^2)),
  to show why the zoo departs from it.
- Principled experiment when a check fails on a seed: both checked models at convergence on the
  first failing seed. A run below 99.5% train accuracy is trained again with every phase twice as
  long; the others have converged already. If the checks then hold, the miss was our protocol
  (too short training); if both models fit their training set and a check still fails, the claim
  fails at this scale.

Departures: 8x8 digits instead of CIFAR-10 (data that ships with the zoo); 71k parameters (the
`digits` variant) instead of the CIFAR-10 network; He initialisation (see DOC.md); the initial lr
chosen on validation; fixed phase lengths instead of watching the training accuracy by hand. The seed-0 paper-form NIN is kept in
the run's weights folder; the shipped checkpoint `network-in-network.digits` is the earlier AdamW
recipe's (its recipe is in the catalog), which trains this network more reliably.

    zoo reproduce network-in-network --part repro
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds
from zoo_plugins.mlp_mixer.repro import FITTED, n_params, plot, run_jobs, summarise, table, take_trained

SEEDS = (0, 1, 2)
RECIPE = {"batch_size": 128, "optimizer": "sgd", "momentum": 0.9, "weight_decay": 1e-4}
PHASES = ((40, 0.1), (10, 0.01), (10, 0.001))  # (epochs, lr): lr lowered 10x twice
INITIAL_LRS = (0.1, 0.05, 0.02, 0.01)  # the paper sets the initial lr by hand; the release's solver uses 0.1
RELEASE_INIT_STD = 0.05  # the authors' Caffe release draws most weights from N(0, 0.05^2)
ACCURACY_MARGIN = 0.005  # "match": NIN at most half a point below the CNN on a seed
LONGER = 2  # the convergence control multiplies every phase by this


def _nin() -> nn.Module:
    import zoo

    return zoo.create("network-in-network", variant="digits")


def _nin_release_init() -> nn.Module:
    import zoo

    return zoo.create("network-in-network", variant="digits", init_std=RELEASE_INIT_STD)


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


PAPER_FORM = "NIN (paper: ReLU class maps, GAP)"
CNN_FC = "CNN + FC head (same size)"
RELEASE_INIT = f"NIN, release init N(0, {RELEASE_INIT_STD}^2) (not checked)"
MODELS = {PAPER_FORM: _nin, CNN_FC: _cnn_fc, RELEASE_INIT: _nin_release_init}


def starting_at(lr: float, phases) -> tuple:
    """`phases` with every learning rate scaled so that the first is `lr`."""
    return tuple((epochs, round(rate * lr / phases[0][1], 12)) for epochs, rate in phases)


def train_in_phases(job: tuple) -> dict:
    """Train one model on digits with the paper's step-down procedure (one zoo.train call per
    learning rate); the same scores as the Mixer helpers' train_and_score."""
    import zoo

    label, build, seed, phases = job
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model = build()
    start, history = time.process_time(), []
    for i, (epochs, lr) in enumerate(phases):  # a new data order per phase, the seed's own
        result = zoo.train(model, "digits", seed=seed + 1000 * i, progress=False, epochs=epochs, lr=lr, **RECIPE)
        history += result.history
    cpu = time.process_time() - start
    test, train = zoo.evaluate(model, "digits"), zoo.evaluate(model, "digits", split="train")
    training = {"task": "digits", "epochs": sum(e for e, _ in phases),
                "training": {**RECIPE, "seed": seed, "phases (epochs, lr)": [list(p) for p in phases]},
                "final": result.final, "history": history}
    return {"model": label, "seed": seed, "initial_lr": phases[0][1], "params": n_params(model),
            "val_accuracy": history[-1]["val_accuracy"], "test_accuracy": test["accuracy"],
            "test_loss": test["loss"], "train_accuracy": train["accuracy"], "train_loss": train["loss"],
            "val_curve": [h["val_accuracy"] for h in history], "cpu_s": cpu, "trained": model,
            "training_run": training}


def checks_for(runs: list[dict], seeds) -> list[Check]:
    by = {(r["model"], r["seed"]): r for r in runs}

    def gap(label, seed):
        return by[label, seed]["test_loss"] - by[label, seed]["train_loss"]

    return [Check(f"NIN test accuracy >= the same-size CNN's - {100 * ACCURACY_MARGIN:.1f} point",
                  ours=[by[PAPER_FORM, s]["test_accuracy"] for s in seeds],
                  versus=[by[CNN_FC, s]["test_accuracy"] for s in seeds], better="higher", margin=-ACCURACY_MARGIN),
            Check("NIN test-train loss gap < the same-size CNN's (overfits less)",
                  ours=[gap(PAPER_FORM, s) for s in seeds], versus=[gap(CNN_FC, s) for s in seeds], better="lower")]


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The claim's checks from a record's data (its per-seed runs)."""
    seeds = sorted({r["seed"] for r in data["runs"]})
    return seeds, checks_for(data["runs"], seeds)


def convergence_control(runs: list[dict], seed: int, phases) -> dict:
    """NIN and the CNN at convergence on `seed`: runs below FITTED train accuracy trained again with
    every phase LONGER times as long (from each run's own initial lr); then the checks again."""
    mine = [r for r in runs if r["seed"] == seed and r["model"] in (PAPER_FORM, CNN_FC)]
    unfit = [r for r in mine if r["train_accuracy"] < FITTED]
    longer_phases = tuple((LONGER * e, lr) for e, lr in phases)
    longer = run_jobs([(r["model"], MODELS[r["model"]], seed, starting_at(r["initial_lr"], longer_phases))
                       for r in unfit], train=train_in_phases) if unfit else []
    take_trained(longer)
    retrained = {r["model"] for r in longer}
    converged = [r for r in mine if r["model"] not in retrained] + longer
    checks = checks_for(converged, [seed])
    held = [c.holds(*c.per_seed()[0]) for c in checks]
    fitted = all(r["train_accuracy"] >= FITTED for r in converged)
    how = ("both already fit their training set" if not longer else f"both trained {LONGER}x longer"
           if len(retrained) == 2 else f"{next(iter(retrained))} trained {LONGER}x longer, the other already fitting")
    if not fitted:
        still = sorted(r["model"] for r in converged if r["train_accuracy"] < FITTED)
        conclusion = (f"{', '.join(still)} still below {100 * FITTED:.1f}% train accuracy with {LONGER}x longer "
                      "phases: inconclusive")
    elif all(held):
        conclusion = f"at convergence ({how}) both checks hold: the miss was our protocol, not the claim"
    else:
        conclusion = (f"at convergence ({how}; train accuracy >= {100 * FITTED:.1f}% for both) "
                      + ", ".join(f"{c.name}: {'holds' if h else 'fails'}" for c, h in zip(checks, held))
                      + ": the claim fails at this scale")
    return {"seed": seed, "phases": [list(p) for p in longer_phases], "retrained": sorted(retrained),
            "runs": converged, "held": held, "all_fitted": fitted, "conclusion": conclusion}


def reproduce(run: Run) -> None:
    wall = time.time()
    seeds = list(run.pick(SEEDS, SEEDS[:1]))
    phases = run.pick(PHASES, ((1, 0.1), (1, 0.01)))
    rates = run.pick(INITIAL_LRS, INITIAL_LRS)
    grid = run_jobs([(label, build, seed, starting_at(lr, phases)) for lr in rates for seed in seeds
                     for label, build in MODELS.items()], train=train_in_phases)

    def mean_val(label, lr):
        return statistics.mean(r["val_accuracy"] for r in grid if r["model"] == label and r["initial_lr"] == lr)

    chosen = {label: max(rates, key=lambda lr: mean_val(label, lr)) for label in MODELS}
    runs = [r for r in grid if r["initial_lr"] == chosen[r["model"]]]
    kept, training = take_trained(runs)[(PAPER_FORM, seeds[0])]
    for r in grid:  # the runs not chosen are kept as scores only
        r.pop("trained", None), r.pop("training_run", None)
    run.keep(kept, "digits", run=training)
    summary = summarise(runs)
    for row in summary.values():
        row["accuracy_gap"] = row["train_accuracy"] - row["test_accuracy"]
        row["loss_gap"] = row["test_loss"] - row["train_loss"]
    seeds, checks = claim_checks({"runs": runs})
    failed = failing_seeds(seeds, checks)
    control = convergence_control(runs, failed[0], phases) if failed else None
    plot(summary, runs, run.figure("repro_digits.png"),
         "Network In Network vs a same-size CNN with a fully-connected head (8x8 digits)")
    rows = table(summary)
    rows["columns"] += ["train-test accuracy gap (points)", "test-train loss gap"]
    for row, values in zip(rows["rows"], summary.values()):
        row += [f"{100 * values['accuracy_gap']:.1f}", f"{values['loss_gap']:.3f}"]

    def per_seed(label):
        mine = [r for r in runs if r["model"] == label]
        test = ", ".join(f"{100 * r['test_accuracy']:.1f}" for r in mine)
        gaps = ", ".join(f"{r['test_loss'] - r['train_loss']:.3f}" for r in mine)
        train = ", ".join(f"{100 * r['train_accuracy']:.1f}" for r in mine)
        return f"{label}: test {test}, loss gap {gaps}, train {train}"

    grid_text = "; ".join(
        f"{label} at lr {lr:g}: val {100 * mean_val(label, lr):.1f}, test per seed "
        + ", ".join(f"{100 * r['test_accuracy']:.1f}" for r in grid if r["model"] == label and r["initial_lr"] == lr)
        for label in MODELS for lr in rates)
    text = (f"{len(seeds)} seeds on 8x8 digits, ~{summary[PAPER_FORM]['params'] / 1e3:.0f}k parameters each, the "
            f"paper's SGD procedure from the initial lr chosen on validation ("
            + ", ".join(f"{label} {chosen[label]:g}" for label in MODELS) + f"; every run: {grid_text}). "
            "At the chosen lr, per seed: " + "; ".join(per_seed(label) for label in MODELS) + ". Checks: "
            + "; ".join(f"{c.name} held on {sum(c.holds(o, v) for o, v in c.per_seed())} of {len(seeds)}"
                        for c in checks) + ".")
    if control:
        text += (f" Convergence control on seed {control['seed']}: "
                 + ", ".join(f"{r['model']} test {100 * r['test_accuracy']:.1f} (train "
                             f"{100 * r['train_accuracy']:.1f}, loss gap {r['test_loss'] - r['train_loss']:.3f})"
                             for r in control["runs"])
                 + f"; {control['conclusion']}.")
    run.record(
        "repro_digits",
        claim="mlpconv layers with a global-average-pooling classifier match or beat a same-size CNN with a "
              "fully-connected head, and overfit less.",
        seeds=seeds, checks=checks, summary=text,
        setup=(f"task digits (sklearn 8x8, 1150/288/360 split); every model with the paper's procedure: {RECIPE}, "
               f"phases (epochs, lr) {[list(p) for p in phases]} (lr lowered 10x twice, one zoo.train call per "
               f"phase), scaled to start at each initial lr of {list(rates)}, the one with the best mean final "
               f"validation accuracy over the seeds chosen per model; seeds {seeds}; scores after the last epoch, train split scored in eval mode (no "
               "dropout); 1 thread per run. Departures: 8x8 digits and a 71k-parameter network instead of "
               "CIFAR-10 and the paper's network (data that ships with the zoo, CPU budget); He initialisation "
               "instead of the release's fixed-std Gaussians (the release-init runs in the table show why); the "
               "initial lr chosen on validation (the paper sets it by hand); fixed phase lengths instead of lowering the lr by hand when the training accuracy stops improving. Rules "
               f"written before running: per seed, NIN >= CNN - {100 * ACCURACY_MARGIN:.1f} point in test accuracy, "
               f"and NIN's test-train loss gap < the CNN's; on the first failing seed every checked run below "
               f"{100 * FITTED:.1f}% train accuracy is retrained with {LONGER}x longer phases."),
        table=rows,
        paper={"source": "Lin et al. 2013, CIFAR-10 test error without augmentation",
               "NIN + dropout (GAP)": 10.41, "conv. maxout + dropout": 11.68,
               "note": "the paper's GAP-vs-FC comparison on CIFAR-10 (test error %): mlpconv + FC 11.59, "
                       "mlpconv + FC + dropout 10.88, mlpconv + GAP 10.41"},
        figures=["repro_digits.png"],
        data={"summary": summary, "chosen_initial_lr": chosen, "runs": runs, "all_runs": grid, "control": control,
              "wall_seconds": time.time() - wall},
    )
    print(text)
