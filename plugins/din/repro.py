"""Reproduction for `din` (Zhou et al., 2018, arXiv:1706.06978), the comparison of Table 3 on generated data.

Claim: the local activation unit (behaviours weighted by their relevance to the candidate ad) improves CTR AUC
over the Embedding&MLP base model that sum-pools the behaviours.

Protocol, fixed before running:
- Task din/behaviour-ctr (generated: 20000 training users, 2000 validation, 10000 test; the click depends on
  the candidate's closeness to its few most similar behaviours). The data seed is the run's seed.
- Models, same size except the activation unit: Base (pooling sum) and DIN (pooling attention), both with
  PReLU as in Table 3's BaseModel and DIN rows. Embeddings of 64 per field (goods, shop, category), activation
  unit 36 hidden, MLP 200-80-2; no MBA regularisation (the paper's public-data comparison uses none).
- Training: Adam, batch 32, lr 1e-3 for 2 epochs then 1e-4 for 1 (the paper's 10x step decay), gradients clipped
  to global norm 5 as in the authors' code; the model after the last epoch is evaluated. Seeds 0, 1, 2
  (initialisation, data and data order). A run whose loss becomes NaN counts as AUC 0.5.
  Why Adam: the first full run used the paper's SGD (no momentum, lr 1 then 0.1, 30000 users) and was stopped
  after seed 0's Base (AUC 0.5766) and DIN (0.5141, near chance) against a ceiling of 0.87: that recipe did not
  train either model on this data in 3 epochs, so it could not test the claim (EARLIER_SGD_RUN).
- Reported: test AUC per seed, RelaImpr = (AUC(DIN) - 0.5) / (AUC(Base) - 0.5) - 1 (the paper's Eq. 10), and the
  AUC of the generator's own click probabilities (the best any model can reach). DIN with Dice against PReLU is
  a separate script, repro_dice.py (record din-dice), which reads this record's PReLU numbers.

Check (written before running): DIN (PReLU) test AUC > Base (PReLU) test AUC on each seed.

Control, if the check fails on a seed (fixed before running): train both models on that seed for twice the
epochs at each learning rate; if DIN then wins, our length is to blame, else the claim fails at this scale.

    zoo reproduce din
"""

from __future__ import annotations

import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.training.loop import NonFiniteLossError
from zoo.verdicts import Check, failing_seeds

EPOCHS_AT_1, EPOCHS_AT_01, BATCH = 2, 1, 32
CLIP = 5.0  # global gradient-norm clipping of the authors' code (tf.clip_by_global_norm(gradients, 5))
TRAIN, TEST = 20000, 10000
ARMS = {"base": {"pooling": "sum", "activation": "prelu"}, "din": {"pooling": "attention", "activation": "prelu"}}
LR = 1e-3  # Adam, decayed 10x for the last epoch (the paper's SGD at lr 1 failed here: EARLIER_SGD_RUN)

# The first full run with the paper's recipe (SGD without momentum, lr 1 for 2 epochs then 0.1 for 1, batch 32,
# gradient norm clipped at 5, 30000 training users), stopped after seed 0's first two arms: both far below the
# generator's 0.87 ceiling, DIN near chance. Kept as the reason for the optimizer.
EARLIER_SGD_RUN = {"seed 0 test AUC": {"base": 0.5766, "din": 0.5141},
                   "conclusion": "SGD at lr 1 did not train either model on this data in 3 epochs (DIN near chance), so "
                                 "it could not test the claim; the run was stopped and Adam used instead"}


def train_arm(arm: str, seed: int, task, epochs=(EPOCHS_AT_1, EPOCHS_AT_01)) -> dict:
    torch.manual_seed(seed)
    model = zoo.create("din", task=task, **ARMS[arm])
    start = time.time()
    common = dict(optimizer="adam", batch_size=BATCH, clip_grad_norm=CLIP, eval_splits=[], progress=False)
    try:
        first = zoo.train(model, task, lr=LR, epochs=epochs[0], seed=seed, final_splits=[], **common)
        result = zoo.train(model, task, lr=LR / 10, epochs=epochs[1], seed=seed + 100, final_splits=["val", "test"],
                           **common)
    except NonFiniteLossError as error:  # a diverged run is a result: the worst AUC a ranking can have
        print(f"  {arm} seed {seed} diverged: {error}", flush=True)
        return {"test_auc": 0.5, "val_auc": 0.5, "test_accuracy": float("nan"), "train_loss": [], "diverged": True,
                "seconds": time.time() - start}
    out = {"test_auc": result.final["test_auc"], "val_auc": result.final["val_auc"],
           "test_accuracy": result.final["test_accuracy"], "diverged": False,
           "train_loss": [h["train_loss"] for h in first.history + result.history], "seconds": time.time() - start}
    print(f"  {arm} seed {seed}: test AUC {out['test_auc']:.4f} ({out['seconds']:.0f} s)", flush=True)
    return out


def rela_impr(auc: float, base: float) -> float:
    """RelaImpr of the paper (Eq. 10): relative AUC gain over the base model, measured from random guessing."""
    return (auc - 0.5) / (base - 0.5) - 1.0


def oracle_auc(task) -> float:
    """Test AUC of the generator's own click probabilities: the ceiling for any model."""
    from torchmetrics.functional.classification import binary_auroc

    labels = task.splits()["test"].tensors[2]
    return float(binary_auroc(torch.as_tensor(task.test_probability, dtype=torch.float32), labels))


def figure(run: Run, results: dict, seeds, oracle: list[float]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = "din_auc.png"
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    colors = {"base": "tab:orange", "din": "tab:blue"}
    for k, arm in enumerate(ARMS):
        values = [results[s][arm]["test_auc"] for s in seeds]
        left.scatter(np.arange(len(seeds)) + (k - 1) * 0.15, values, color=colors[arm], label=arm, zorder=3)
    left.scatter(np.arange(len(seeds)), oracle, marker="_", s=400, color="gray", label="true probabilities")
    left.set_xticks(range(len(seeds)), [f"seed {s}" for s in seeds])
    left.set_ylabel("test AUC")
    left.legend(fontsize=7)
    left.set_title("test AUC per seed", fontsize=9)
    for arm in ARMS:
        curve = np.mean([results[s][arm]["train_loss"] for s in seeds], 0)
        right.plot(np.arange(1, len(curve) + 1), curve, marker="o", color=colors[arm], label=arm)
    right.set_xlabel(f"epoch (Adam lr {LR}, then {LR / 10})")
    right.set_ylabel("training loss (mean of seeds)")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(run.figure(name), dpi=110)
    plt.close(fig)
    return name


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    seeds = list(run.pick((0, 1, 2), (0,)))
    size = run.pick((TRAIN, TEST), (1000, 500))
    epochs = run.pick((EPOCHS_AT_1, EPOCHS_AT_01), (1, 1))
    begin = time.time()
    results, oracle = {}, []
    for seed in seeds:
        task = zoo.get_task("din/behaviour-ctr", seed=seed, train_size=size[0], test_size=size[1])
        results[seed] = {arm: train_arm(arm, seed, task, epochs) for arm in ARMS}
        oracle.append(oracle_auc(task))

    def auc(arm):
        return [results[s][arm]["test_auc"] for s in seeds]

    check = Check("DIN (PReLU) test AUC > Base (PReLU) test AUC", ours=auc("din"), versus=auc("base"), better="higher")
    control = None
    failed = failing_seeds(seeds, [check])
    if failed and not run.quick:
        seed = failed[0]
        task = zoo.get_task("din/behaviour-ctr", seed=seed, train_size=size[0], test_size=size[1])
        longer = (2 * epochs[0], 2 * epochs[1])
        control = {"seed": seed, "epochs": longer,
                   **{arm: train_arm(arm, seed, task, longer) for arm in ("base", "din")}}
        holds = check.holds(control["din"]["test_auc"], control["base"]["test_auc"])
        control["conclusion"] = ("DIN wins with twice the epochs: our length is to blame" if holds else
                                 "DIN still does not win with twice the epochs: the claim fails at this scale")
    rela = {"din": [rela_impr(results[s]["din"]["test_auc"], results[s]["base"]["test_auc"]) for s in seeds]}
    rows = []
    for arm in ARMS:
        values = auc(arm)
        rows.append([arm] + [f"{v:.4f}" for v in values] + [f"{np.mean(values):.4f} +- {np.std(values):.4f}",
                     "0" if arm == "base" else f"{100 * np.mean(rela[arm]):+.2f}%"])
    rows.append(["true probabilities"] + [f"{v:.4f}" for v in oracle] + [f"{np.mean(oracle):.4f}", ""])
    figure_name = figure(run, results, seeds, oracle)
    mean = {arm: float(np.mean(auc(arm))) for arm in ARMS}
    summary = (f"Test AUC, mean of {len(seeds)} seeds: Base (sum pooling) {mean['base']:.4f}, DIN {mean['din']:.4f} "
               f"(RelaImpr {100 * np.mean(rela['din']):+.2f}%); the generator's true click probabilities reach "
               f"{np.mean(oracle):.4f}. Per seed DIN - Base: "
               + ", ".join(f"{o - v:+.4f}" for o, v in check.per_seed())
               + " (paper, Table 3: DIN above BaseModel on Amazon and MovieLens). The paper's SGD at lr 1 was tried "
                 "first and trained neither model (seed 0: Base 0.5766, DIN 0.5141), hence Adam.")
    if control:
        summary += (f" Control (seed {control['seed']}, twice the epochs): Base {control['base']['test_auc']:.4f}, "
                    f"DIN {control['din']['test_auc']:.4f}: {control['conclusion']}.")
    print(summary)
    setup = (f"Task din/behaviour-ctr, {size[0]} training users ({size[0] // 10} validation), {size[1]} test, data seed = "
             f"run seed. Embeddings 64 per field (goods 2000, shops 200, categories 40), activation unit 36 hidden, MLP "
             f"200-80-2, Glorot-uniform init (the authors' TensorFlow default). zoo.train Adam, batch "
             f"{BATCH}, lr {LR} for {epochs[0]} epoch(s) then {LR / 10} for {epochs[1]}, gradient norm clipped at {CLIP} (authors' code), no regularisation; the last model is "
             f"evaluated. Arms: Base = sum pooling + PReLU, DIN = activation unit + PReLU. Departures: Adam instead of "
             f"the paper's SGD at lr 1 (which trained neither model here: data.earlier_sgd_run); "
             f"generated data instead of Amazon/MovieLens/Alibaba (no user-profile or context features), element-wise "
             f"product and difference for the activation unit's 'out product', gradient clipping and Glorot init from "
             f"the authors' code, {sum(epochs)} epochs; DIN with Dice not run (budget).")
    paper = {"note": "Table 3 (test AUC and RelaImpr over BaseModel, Amazon Electro and MovieLens): DIN above BaseModel, "
                     "Wide&Deep, PNN and DeepFM on both data sets, DIN with Dice above DIN; the numbers are not copied "
                     "here, see the paper."}
    data = {"results": {str(s): r for s, r in results.items()}, "oracle_auc": oracle, "rela_impr": rela,
            "control": control, "earlier_sgd_run": EARLIER_SGD_RUN, "seconds": time.time() - begin}
    run.record("din", claim="A local activation unit (attention over the user's behaviours with respect to the candidate "
                            "ad, Eq. 3) improves CTR AUC over the sum-pooled Embedding&MLP base model (Table 3).",
               seeds=seeds, checks=[check], summary=summary, setup=setup, paper=paper, figures=[figure_name],
               table={"columns": ["model"] + [f"seed {s} test AUC" for s in seeds] + ["mean +- std", "RelaImpr"],
                      "rows": rows}, data=data)
