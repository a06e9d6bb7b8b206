"""Reproduction for `memory-networks` (Weston, Chopra and Bordes, 2014, arXiv:1410.3916).

Claim: a memory network with supervised supporting-fact retrieval answers questions requiring
chaining of multiple supporting sentences (the bAbI paper, arXiv:1502.05698, Table 3, reports the
strongly supervised MemNN at 100% on QA1, QA2 and QA3).

Protocol, fixed before running:
- Tasks `memory-networks/babi-qa1`, `-qa2`, `-qa3`: memn2n's generated bAbI-style stories (900
  training / 100 validation / 1000 test questions, memory of the 50 most recent sentences) with the
  supporting facts, 1, 2 and 3 per question.
- Model: bag of words, write-time features, embedding n = 50, margin gamma = 0.1, k hops: 2 (the
  paper's k) on qa1 and qa2, 3 on qa3 (three supporting facts to chain); the 1-hop model of the same
  code on qa2 and qa3 as the baseline; k = 2 on qa3 reported as well (not checked).
- Training: the margin ranking loss over supporting facts and answer (Eq. 6-8), plain SGD at
  lr 0.005 on minibatches of 32 stories, 15 epochs, seeds 0, 1, 2 (initialisation and data order).
  lr 0.005 is the largest of {0.05, 0.01, 0.005} that did not diverge on qa3 in trial runs.

Checks (zoo.verdicts, per seed), written before the full run:
  1-3. test accuracy of the k-hop model above 0.95 on qa1, qa2 and qa3 (paper: 100%);
  4-5. on qa2 and qa3 the k-hop model beats the 1-hop model by more than 10 points.

Control, if a k-hop accuracy check fails (fixed before running): seed 0 of that task trained 3x
longer (45 epochs). If it then passes 0.95, the protocol's length was at fault; if not, the claim
fails at this scale under our reading of the model (features, supervision order).

Departures: memn2n's generated bAbI-style tasks instead of the paper's simulated world (and
instead of the bAbI files, not available offline); signed time features (see model.py); full sums
over negatives on minibatches; n = 50 (the paper tunes n and does not report it here).

    zoo reproduce memory-networks --part repro
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

LR, BATCH, THRESHOLD, GAP = 0.005, 32, 0.95, 0.10
RUNS = [("qa1", 2), ("qa2", 2), ("qa2", 1), ("qa3", 3), ("qa3", 1), ("qa3", 2)]
K_HOPS = {"qa1": 2, "qa2": 2, "qa3": 3}


def train_one(qa: str, hops: int, seed: int, epochs: int, task_options: dict) -> dict:
    from .model import hop_fact

    task = zoo.get_task(f"memory-networks/babi-{qa}", **task_options)
    torch.manual_seed(seed)
    model = zoo.create("memory-networks", task=task, hops=hops)
    start = time.time()
    zoo.train(model, task, epochs=epochs, batch_size=BATCH, lr=LR, seed=seed, progress=False,
              eval_every=epochs, final_splits=[])
    test = task.splits()["test"]
    story, query, answer, facts = test[list(range(len(test)))]
    model.eval()
    with torch.no_grad():
        chosen = model.retrieve(story, query)
        accuracy = float((model.respond(story, query, chosen).argmax(1) == answer).float().mean())
    hits = [float((chosen[:, h] == hop_fact(facts, h)).float().mean()) for h in range(hops)]
    out = {"test_accuracy": accuracy, "retrieval": hits, "seconds": time.time() - start}
    print(f"  {qa} k={hops} seed {seed}: test {accuracy:.3f} retrieval {[round(h, 3) for h in hits]}", flush=True)
    return out


def reproduce(run: Run) -> None:
    seeds = run.pick([0, 1, 2], [0])
    epochs = run.pick(15, 1)
    task_options = run.pick({}, {"train_size": 200, "test_size": 200})
    torch.set_num_threads(1)
    start = time.time()
    results = {(qa, k, s): train_one(qa, k, s, epochs, task_options) for qa, k in RUNS for s in seeds}
    acc = {(qa, k): [results[(qa, k, s)]["test_accuracy"] for s in seeds] for qa, k in RUNS}

    checks = [Check(f"{qa}: {K_HOPS[qa]}-hop test accuracy above {THRESHOLD}", ours=acc[(qa, K_HOPS[qa])],
                    versus=THRESHOLD) for qa in ("qa1", "qa2", "qa3")]
    checks += [Check(f"{qa}: {K_HOPS[qa]}-hop beats 1-hop by more than {GAP:.0%}", ours=acc[(qa, K_HOPS[qa])],
                     versus=acc[(qa, 1)], margin=GAP) for qa in ("qa2", "qa3")]

    control = {}
    for qa in ("qa1", "qa2", "qa3") if not run.quick else ():
        if any(a <= THRESHOLD for a in acc[(qa, K_HOPS[qa])]):
            control[qa] = train_one(qa, K_HOPS[qa], seeds[0], 3 * epochs, task_options)
            control[qa]["epochs"] = 3 * epochs
            control[qa]["passes"] = control[qa]["test_accuracy"] > THRESHOLD

    weak = None
    weak_path = Path(__file__).resolve().parents[1] / "memn2n" / "results" / "hops.json"
    if weak_path.exists():
        weak = json.loads(weak_path.read_text())["table"]

    rows = []
    for qa, k in RUNS:
        ret = np.mean([results[(qa, k, s)]["retrieval"] for s in seeds], 0)
        rows.append([qa, k, ", ".join(f"{a:.3f}" for a in acc[(qa, k)]), f"{np.mean(acc[(qa, k)]):.3f}",
                     ", ".join(f"{r:.3f}" for r in ret)])

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    labels = [f"{qa}\nk={k}" for qa, k in RUNS]
    means = [np.mean(acc[r]) for r in RUNS]
    ax.bar(range(len(RUNS)), means, color=["tab:blue" if k == K_HOPS[qa] else "tab:gray" for qa, k in RUNS])
    for i, r in enumerate(RUNS):
        ax.scatter([i] * len(seeds), acc[r], color="black", s=10, zorder=3)
    ax.axhline(THRESHOLD, color="tab:red", lw=1, ls="--", label=f"check threshold {THRESHOLD}")
    ax.set_xticks(range(len(RUNS)), labels, fontsize=8)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.05)
    ax.set_title("Strongly supervised Memory Network (bars: mean; dots: seeds)", fontsize=9)
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(run.figure("memnn_accuracy.png"), dpi=110)

    def mean(qa, k):
        return np.mean(acc[(qa, k)])

    summary = (f"Test accuracy (mean of seeds {seeds}): qa1 {mean('qa1', 2):.3f} with k=2; qa2 {mean('qa2', 2):.3f} "
               f"with k=2 against {mean('qa2', 1):.3f} with one hop; qa3 {mean('qa3', 3):.3f} with k=3, "
               f"{mean('qa3', 2):.3f} with k=2 and {mean('qa3', 1):.3f} with one hop. Per-hop retrieval of the "
               f"supporting facts is in the table. ")
    for qa, c in control.items():
        summary += (f"Control ({qa}, seed {seeds[0]}, {c['epochs']} epochs): test {c['test_accuracy']:.3f}, "
                    f"retrieval {[round(h, 3) for h in c['retrieval']]}: "
                    + ("the longer run passes, so our training length was at fault. " if c["passes"] else
                       "still below the threshold, so the claim fails here at this scale under our reading of the "
                       "model, not for lack of training. "))
    if weak:
        summary += ("The zoo's memn2n (weakly supervised, question-answer pairs only, same stories) records "
                    + "; ".join(f"{r[0]} {r[1]} hops {r[2]}" for r in weak["rows"]) + " (its hops.json).")
    print(summary)
    run.record(
        "repro",
        claim="A memory network with supervised supporting-fact retrieval answers questions requiring chaining of "
              "multiple supporting sentences.",
        seeds=list(seeds), checks=checks, summary=summary,
        setup=f"memory-networks/babi-qa1..3 (memn2n's generated stories + supporting facts; 900 train, 1000 test); "
              f"bag of words, signed write-time features, n 50, gamma 0.1; k = 2 (qa1, qa2), 3 (qa3), 1-hop "
              f"baselines; margin ranking loss (Eq. 6-8), SGD lr {LR}, batch {BATCH}, {epochs} epochs; 1 thread.",
        table={"columns": ["task", "hops k", "test accuracy per seed", "mean", "retrieval of fact h (mean)"],
               "rows": rows},
        paper={"note": "bAbI paper (arXiv:1502.05698) Table 3, MemNN with strong supervision: QA1 100%, QA2 100%, "
                       "QA3 100%; Memory Networks paper Sec. 5.2: k=2 with time features answers the simulated "
                       "world's questions near perfectly, k=1 does not."},
        figures=["memnn_accuracy.png"],
        data={"results": {f"{qa}/k{k}/seed{s}": v for (qa, k, s), v in results.items()}, "control": control,
              "memn2n_weak_supervision": weak, "seconds": time.time() - start},
    )
