"""Reproduction for `gated-perceptron` ("More Consideration for the Perceptron", Larabi,
2024, arXiv:2409.13854).

Claim: adding the product of the inputs as one more weighted input lets a single perceptron
separate non-linear (XOR-like) data that a plain perceptron cannot, while it stays competitive with
the plain unit on real tables (iris, breast cancer).

Protocol, fixed before running:
- Data: `gated-perceptron/xor` (noisy XOR, four clusters of std 0.3, 400 train / 200 val / 400
  test points, a new draw per seed), and the bundled `iris` (3 classes, 4 features) and
  `breast-cancer` (2 classes, 30 features) with the zoo's standardised, stratified split of each
  seed. Seeds 0, 1, 2 (data, initialisation and batch order).
- Four arms, all one unit per class (one unit for two classes) trained alike: Adam, lr 0.05,
  batch 16, 60 epochs, calling the model's own training_step: (a) gated perceptron, cross entropy
  (a sigmoid / softmax unit); (b) the same unit without the gated input (a logistic-regression
  unit); (c) gated perceptron trained with the perceptron criterion (Rosenblatt's rule);
  (d) the plain perceptron with the perceptron criterion.
- Metric: test accuracy.

Checks (per seed, zoo.verdicts):
  1. XOR: the gated perceptron (a) reaches at least 95% test accuracy;
  2. XOR: it beats the better plain unit (b or d) by at least 20 points (a line gets about 3 of 4
     clusters right at best, so a plain unit stays near 50-75%);
  3. XOR: the gated perceptron trained by the perceptron rule (c) also reaches 95% (the gate, not
     the loss, makes the difference);
  4. iris and breast cancer: the gated perceptron (a) is no more than two test samples worse than
     the better plain unit (b or d), on each table.
Control, fixed before running, for a seed where check 1 or 3 fails: the failing arm trained 3x
longer (180 epochs). If it then passes, our training length was to blame; if not, the claim fails
at this scale. Added after the first full run, in which check 4 failed on breast cancer on one
seed (gated 0.965 against the plain perceptron's 0.991), and fixed before this run: the same 3x
longer training for a table and seed where check 4 fails, with the same reading.

    zoo reproduce gated-perceptron --part repro
"""

from __future__ import annotations

import time

import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

from .loop import accuracy, fit

LR, BATCH, EPOCHS = 0.05, 16, 60
ARMS = {"gated (CE)": {"gate": True, "criterion": "cross-entropy"},
        "plain (CE, logistic unit)": {"gate": False, "criterion": "cross-entropy"},
        "gated (perceptron rule)": {"gate": True, "criterion": "perceptron"},
        "plain perceptron": {"gate": False, "criterion": "perceptron"}}
GATED, LOGISTIC, GATED_RULE, PLAIN = ARMS
TABLES = ("gated-perceptron/xor", "iris", "breast-cancer")


def train_arm(table: str, arm: str, seed: int, epochs: int, quick_sizes: dict) -> dict:
    options = quick_sizes if table == "gated-perceptron/xor" else {}
    task = zoo.get_task(table, seed=seed, **options)
    torch.manual_seed(seed)
    model = zoo.create("gated-perceptron", task=task, **ARMS[arm])
    start = time.perf_counter()
    fit(model, task, epochs=epochs, batch_size=BATCH, lr=LR, seed=seed)
    entry = {"table": table, "arm": arm, "seed": seed, "epochs": epochs, "accuracy": accuracy(model, task),
             "train_accuracy": accuracy(model, task, "train"), "n_test": len(task.splits()["test"]),
             "seconds": time.perf_counter() - start}
    if ARMS[arm]["gate"]:
        entry["gate_weight"] = model.gate_weight.detach().tolist()
        entry["input_weights"] = model.unit.weight[:, :-1].detach().abs().max().item()
    return entry


def reproduce(run: Run) -> None:
    seeds = list(run.pick((0, 1, 2), (0,)))
    epochs = run.pick(EPOCHS, 5)
    sizes = run.pick({}, {"train": 80, "val": 40, "test": 80})
    torch.set_num_threads(1)
    start = time.time()
    runs = []
    for seed in seeds:
        for table in TABLES:
            for arm in ARMS:
                runs.append(train_arm(table, arm, seed, epochs, sizes))
                print(f"seed {seed} {table} {arm}: test accuracy {runs[-1]['accuracy']:.4f}", flush=True)
    acc = {(r["table"], r["arm"], r["seed"]): r["accuracy"] for r in runs}
    n_test = {r["table"]: r["n_test"] for r in runs}
    xor = "gated-perceptron/xor"
    best_plain = lambda table, s: max(acc[(table, LOGISTIC, s)], acc[(table, PLAIN, s)])  # noqa: E731
    checks = [
        Check("XOR: gated perceptron test accuracy >= 0.95", ours=[acc[(xor, GATED, s)] for s in seeds], versus=0.95,
              better="higher", margin=-1e-9),
        Check("XOR: gated perceptron beats the better plain unit by >= 20 points",
              ours=[acc[(xor, GATED, s)] for s in seeds], versus=[best_plain(xor, s) for s in seeds], better="higher",
              margin=0.2),
        Check("XOR: gated perceptron trained by the perceptron rule >= 0.95",
              ours=[acc[(xor, GATED_RULE, s)] for s in seeds], versus=0.95, better="higher", margin=-1e-9),
    ]
    for table in TABLES[1:]:
        checks.append(Check(f"{table}: gated perceptron no more than 2 test samples below the better plain unit",
                            ours=[acc[(table, GATED, s)] for s in seeds], versus=[best_plain(table, s) for s in seeds],
                            better="higher", margin=-2.0 / n_test[table] - 1e-9))

    control = {}
    for arm in (GATED, GATED_RULE):
        for seed in seeds:
            if acc[(xor, arm, seed)] >= 0.95:
                continue
            longer = train_arm(xor, arm, seed, 3 * epochs, sizes)
            control[f"{arm}, seed {seed}"] = {
                "accuracy": acc[(xor, arm, seed)], "accuracy_3x_longer": longer["accuracy"],
                "conclusion": ("passes with 3x longer training: our training length was to blame"
                               if longer["accuracy"] >= 0.95 else
                               "fails with 3x longer training too: the claim fails at this scale")}
            print("control", arm, seed, control[f"{arm}, seed {seed}"], flush=True)
    for table in TABLES[1:]:
        for seed in seeds:
            if acc[(table, GATED, seed)] >= best_plain(table, seed) - 2.0 / n_test[table] - 1e-9:
                continue
            longer = train_arm(table, GATED, seed, 3 * epochs, sizes)
            within = longer["accuracy"] >= best_plain(table, seed) - 2.0 / n_test[table] - 1e-9
            control[f"{table}, seed {seed}"] = {
                "accuracy": acc[(table, GATED, seed)], "accuracy_3x_longer": longer["accuracy"],
                "best_plain": best_plain(table, seed),
                "conclusion": ("within 2 test samples of the plain unit with 3x longer training: our training "
                               "length was to blame" if within else
                               "still more than 2 test samples below the plain unit with 3x longer training: the "
                               "claim (competitive on this table) fails on this seed at this scale")}
            print("control", table, seed, control[f"{table}, seed {seed}"], flush=True)

    rows = [[s, table, *(f"{acc[(table, arm, s)]:.4f}" for arm in ARMS)] for s in seeds for table in TABLES]
    gate = [r for r in runs if r["table"] == xor and r["arm"] == GATED]
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    summary = (f"XOR ({len(seeds)} seeds): gated perceptron {mean([acc[(xor, GATED, s)] for s in seeds]):.3f} test "
               f"accuracy (perceptron rule {mean([acc[(xor, GATED_RULE, s)] for s in seeds]):.3f}), "
               f"plain logistic unit "
               f"{mean([acc[(xor, LOGISTIC, s)] for s in seeds]):.3f}, plain perceptron "
               f"{mean([acc[(xor, PLAIN, s)] for s in seeds]):.3f}; the gated unit's product weight |w_g| "
               f"{mean([abs(g['gate_weight'][0]) for g in gate]):.2f} against its largest input weight "
               f"{mean([g['input_weights'] for g in gate]):.2f}. " + " ".join(
                   f"{table}: gated {mean([acc[(table, GATED, s)] for s in seeds]):.3f}, logistic unit "
                   f"{mean([acc[(table, LOGISTIC, s)] for s in seeds]):.3f}, plain perceptron "
                   f"{mean([acc[(table, PLAIN, s)] for s in seeds]):.3f}." for table in TABLES[1:]))
    if control:
        summary += " Control: " + "; ".join(f"{k}: {v['accuracy']:.3f} -> {v['accuracy_3x_longer']:.3f} "
                                            f"({v['conclusion']})" for k, v in control.items()) + "."
    print(summary)
    run.record(
        "gated-perceptron",
        claim="Adding a product-of-inputs input lets a single perceptron separate XOR-like data that a plain "
              "perceptron cannot, and it stays competitive on real tables (iris, breast cancer).",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"Per seed: noisy XOR (4 clusters, std 0.3, 400/200/400), iris and breast-cancer (zoo splits, "
              f"standardised). Four single-layer arms: gated / plain x cross entropy / perceptron criterion; Adam lr "
              f"{LR}, batch {BATCH}, {epochs} epochs, the model's own training_step in a minimal loop (zoo.train's "
              f"per-epoch overhead made 36 runs too slow for the budget). Rule fixed before running: XOR >= 0.95 and "
              f">= 20 points above the better plain unit; tables: no more than 2 test samples below it. Departures: "
              f"the paper's own optimiser settings are not followed (not given in the abstract; one recipe for all "
              f"arms instead); no PIMA (not bundled) and no regression experiments; the product is over all inputs "
              f"(30 on breast cancer), as the paper defines the gated input.",
        table={"columns": ["seed", "data", *ARMS], "rows": rows},
        paper={"note": "The paper reports that the gated perceptron forms non-linear decision regions (XOR-like "
                       "data) and competes with other classifiers on iris, PIMA and breast cancer."},
        data={"runs": runs, "control": control or None, "epochs": epochs, "seconds": time.time() - start},
    )
