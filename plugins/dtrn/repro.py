"""Reproduction for `dtrn` (Liu et al., CIKM 2023, arXiv:2308.05996), the comparison of its Table 2 (DTRN
against MMoE and PLE) on generated multi-task data with conflicting tasks.

Claim: task-specific bottom representations (hypernetwork interest extractors + SENet-like refinement per task)
reduce negative transfer compared with the shared-bottom multi-task models MMoE and PLE: higher AUC on every
task.

Protocol, fixed before running:
- Task dtrn/conflict (generated: user, item, category and three context fields; two behaviour sequences of 8
  items per row, viewed and bought; click logit = field interactions + view-similarity, conversion logit =
  other field interactions + buy-similarity - 2 x view-similarity, so the tasks partly conflict), 20000
  training rows, 2500 validation, 10000 test; one world and one sample per seed.
- Arms, all with embedding 8, the same input embeddings and the same target-attention interest blocks: DTRN
  (default config: hypernetwork 8+8 -> 32 -> 3 d x d per (task, type), SENet refinement with 4 hidden units,
  towers 64-32); MMoE (4 experts 64-32, one softmax gate per task, towers 32); PLE (one extraction layer: 2
  shared experts and 1 expert per task, 64-32, towers 32). MMoE and PLE share one bottom (fields + one
  interest per behaviour type) among the tasks.
- Training, identical for every arm: loss = sum of the two tasks' binary cross entropies; Adam, lr 1e-3, batch
  256, 4 epochs, zoo.train defaults otherwise; the last model is evaluated. Seeds 0, 1, 2.
- Reported: per-task test AUC per seed and arm, and the generator's own per-task AUC.

Checks (written before running), per seed: DTRN's click AUC > MMoE's; DTRN's conversion AUC > MMoE's; DTRN's
click AUC > PLE's; DTRN's conversion AUC > PLE's.

Control, fixed before running, on the first seed where a check fails: the three arms trained twice as long (8
epochs). If DTRN then wins every comparison there, our training length is to blame; if not, the claim fails at
this scale.

    zoo reproduce dtrn --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds

LR, BATCH, EPOCHS, EMBEDDING = 1e-3, 256, 4, 8
SIZES = {"n_train": 20_000, "n_val": 2_500, "n_test": 10_000}
ARMS = ("dtrn", "mmoe", "ple")
LABELS = {"dtrn": "DTRN", "mmoe": "MMoE", "ple": "PLE"}
TASKS = ("click", "conversion")


def build(arm: str, task):
    from .baselines import MMoE, PLE

    cards = list(task.info.extra["field_cardinalities"])
    if arm == "mmoe":
        return MMoE(cards, dim=EMBEDDING, experts=4)
    if arm == "ple":
        return PLE(cards, dim=EMBEDDING, shared_experts=2, task_experts=1)
    return zoo.create("dtrn", task=task, embedding_dim=EMBEDDING)


def train_arm(arm: str, task, seed: int, epochs: int) -> dict:
    torch.manual_seed(seed)
    model = build(arm, task)
    start = time.time()
    result = zoo.train(model, task, optimizer="adam", lr=LR, batch_size=BATCH, epochs=epochs, seed=seed,
                       eval_splits=["val"], final_splits=["test"], progress=False)
    out = {**{f"test_{t}_auc": result.final[f"test_{t}_auc"] for t in TASKS},
           "val": [{t: h[f"val_{t}_auc"] for t in TASKS} for h in result.history],
           "train_loss": [h["train_loss"] for h in result.history],
           "parameters": sum(p.numel() for p in model.parameters()), "seconds": time.time() - start}
    print(f"  {arm} seed {seed} ({epochs} epochs): click AUC {out['test_click_auc']:.4f}, conversion AUC "
          f"{out['test_conversion_auc']:.4f} ({out['seconds']:.0f} s)", flush=True)
    return out


def reproduce(run: Run) -> None:
    from .task import ConflictTask

    torch.set_num_threads(1)
    seeds = list(run.pick((0, 1, 2), (0,)))
    sizes = run.pick(SIZES, {"n_train": 1000, "n_val": 200, "n_test": 500})
    epochs = run.pick(EPOCHS, 1)
    begin = time.time()
    results, bayes = {}, {}
    for seed in seeds:
        task = ConflictTask(seed=seed, **sizes)
        bayes[seed] = task.bayes_auc
        results[seed] = {arm: train_arm(arm, task, seed, epochs) for arm in ARMS}

    def auc(arm: str, name: str) -> list[float]:
        return [results[s][arm][f"test_{name}_auc"] for s in seeds]

    checks = [Check(f"DTRN {name} AUC > {LABELS[base]} {name} AUC", ours=auc("dtrn", name), versus=auc(base, name),
                    better="higher") for base in ("mmoe", "ple") for name in TASKS]
    failed = failing_seeds(seeds, checks)
    control = None
    if failed and not run.quick:
        seed = failed[0]
        task = ConflictTask(seed=seed, **sizes)
        control = {"seed": seed, "epochs": 2 * epochs, **{arm: train_arm(arm, task, seed, 2 * epochs) for arm in ARMS}}
        wins = all(control["dtrn"][f"test_{n}_auc"] > control[b][f"test_{n}_auc"] for b in ("mmoe", "ple")
                   for n in TASKS)
        control["conclusion"] = ("DTRN wins every comparison with twice the epochs: our training length is to blame"
                                 if wins else "DTRN still does not win every comparison with twice the epochs: the "
                                              "claim fails at this scale")
    rows = []
    for arm in ARMS:
        for name in TASKS:
            values = auc(arm, name)
            rows.append([LABELS[arm], name] + [f"{v:.4f}" for v in values] + [f"{np.mean(values):.4f} +- {np.std(values):.4f}"])
    for name in TASKS:
        values = [bayes[s][name] for s in seeds]
        rows.append(["true probabilities", name] + [f"{v:.4f}" for v in values] + [f"{np.mean(values):.4f}"])
    mean = {arm: {n: float(np.mean(auc(arm, n))) for n in TASKS} for arm in ARMS}
    summary = (f"Test AUC (click / conversion), mean of {len(seeds)} seeds: DTRN {mean['dtrn']['click']:.4f} / "
               f"{mean['dtrn']['conversion']:.4f}, MMoE {mean['mmoe']['click']:.4f} / {mean['mmoe']['conversion']:.4f}, "
               f"PLE {mean['ple']['click']:.4f} / {mean['ple']['conversion']:.4f}; the generator's true probabilities "
               f"{np.mean([bayes[s]['click'] for s in seeds]):.4f} / {np.mean([bayes[s]['conversion'] for s in seeds]):.4f}. "
               + "; ".join(f"{c.name}: per seed " + ", ".join(f"{o - v:+.4f}" for o, v in c.per_seed()) for c in checks)
               + " (paper, Table 2: DTRN above MMoE and PLE on every task of both data sets).")
    if control:
        summary += (f" Control (seed {control['seed']}, {control['epochs']} epochs): "
                    + ", ".join(f"{LABELS[a]} {control[a]['test_click_auc']:.4f} / {control[a]['test_conversion_auc']:.4f}"
                                for a in ARMS) + f": {control['conclusion']}.")
    print(summary)
    setup = (f"Task dtrn/conflict ({sizes['n_train']} train / {sizes['n_val']} val / {sizes['n_test']} test rows, 6 fields, "
             f"2 behaviour sequences of 8 items, conflict 2, data seed = run seed). Embedding {EMBEDDING} in every arm; the "
             f"same embedding and target-attention blocks. DTRN default config (hypernetwork 32 hidden, SENet 4 hidden, "
             f"towers 64-32); MMoE 4 experts 64-32, towers 32; PLE 2 shared + 1 per-task experts 64-32, towers 32 (one "
             f"extraction layer, i.e. CGC). Loss: sum of the tasks' BCE. zoo.train: Adam lr {LR}, batch {BATCH}, {epochs} "
             f"epochs, last model evaluated. Departures: generated data instead of the paper's public and industrial "
             f"data; one target-attention layer as interest extractor, fully generated by the hypernetwork; field-level "
             f"SENet; PLE with one extraction layer; small untuned sizes and no early stopping, for the CPU budget.")
    paper = {"note": "Table 2: DTRN's AUC above MMoE's and PLE's on every task of the public and the industrial data "
                     "set; numbers not copied here, see the paper."}
    run.record("dtrn", claim="Task-specific bottom representations (TIM + TRM) give higher per-task AUC than the "
                             "shared-bottom MMoE and PLE on conflicting tasks (Table 2).",
               seeds=seeds, checks=checks, summary=summary, setup=setup, paper=paper,
               table={"columns": ["model", "task"] + [f"seed {s}" for s in seeds] + ["mean +- std"], "rows": rows},
               data={"results": {str(s): r for s, r in results.items()}, "bayes_auc": {str(s): b for s, b in bayes.items()},
                     "control": control, "seconds": time.time() - begin})
