"""Reproduction for `memn2n` (End-To-End Memory Networks, arXiv:1503.08895).

Claim: an end-to-end memory network with multiple attention hops answers synthetic QA
better than with a single hop, without supporting-fact supervision.

The generated bAbI-style tasks that need chained facts, qa2 (two supporting facts) and qa3
(three), 1000 questions each (900 train / 100 validation, the paper's 10% hold-out) and 1000 test
questions. MemN2N with adjacent tying, position and temporal encoding (the paper's PE LS
configuration), d = 20, Gaussian init std 0.1, memory of the task's longest story up to the
paper's 50 sentences (30 on qa2, 50 on qa3, as the authors' code sizes it), trained from
question-answer pairs only, with 1 and 3 hops, seeds 0, 1, 2.

Training, the paper's (Sukhbaatar et al. 2015, Sec. 4.2) as the authors' released code runs it:
plain SGD (no momentum, no weight decay), batch 32 with the cost summed over the batch, gradient
norm clipped at 40; linear start (memory softmaxes removed) for 20 epochs at lr 0.005, then 100
epochs with the softmaxes back, lr 0.005 ("in LS training, the initial learning rate is set to
0.005") halved every 25 epochs. A plain loop runs it: zoo.train's per-step bookkeeping costs
several times this 20-dimensional model's step, and the shared CPU budget has no room for that.
The 3-hop model of seed 0 on qa3 is kept as the checkpoint `memn2n.babi-qa3`.

Departures: generated bAbI-style stories instead of the bAbI files (the paper's data is not
bundled); one run per seed instead of the best of 10 restarts by training error (10x the budget;
the best-by-training-loss seed is reported beside the check); linear start for the authors' fixed
20 epochs rather than "until the validation loss stops falling".

Check, fixed before running (zoo.verdicts, per seed and task): 3 hops beat 1 hop by more than 5
points of test accuracy (about 50 of the 1000 test questions; the paper's gap is tens of points,
Table 1).

Principled experiment, run when a check fails: the same protocol on qa1 (one supporting fact)
with 1 hop, seed 0, a control that must succeed (the paper's 1-hop model solves it, Table 1): if
it also fails, our protocol or code is to blame; if it succeeds, the model trains under this
protocol and the multi-hop claim fails at this scale on these tasks (up to the paper's best of 10
restarts, which the budget leaves out).

    zoo reproduce memn2n --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

SLUG = "memn2n"
HOPS = [1, 3]
SEEDS = (0, 1, 2)
# memory sized to each task's longest story, at most the paper's 50 sentences
TASKS = {"memn2n/babi-qa2": 30, "memn2n/babi-qa3": 50}
CONTROL = ("memn2n/babi-qa1", 50, 1)  # (task, memory, hops): what the paper's 1-hop model solves
PAPER = dict(batch_size=32, lr=0.005, halve_every=25, clip=40.0, linear_start_epochs=20, epochs=100)
MARGIN = 0.05  # 3 hops must beat 1 hop by more than this test accuracy
CONTROL_PASS = 0.9  # the control's test accuracy must exceed this
KEPT = ("memn2n/babi-qa3", 3, 0, "babi-qa3")  # (task, hops, seed, checkpoint tag)


def lr_at(epoch: int, protocol: dict) -> float:
    """The paper's learning rate in `epoch` (0-based): constant through linear start, then halved
    every `halve_every` epochs."""
    after = epoch - protocol["linear_start_epochs"]
    return protocol["lr"] * 0.5 ** (max(after, 0) // protocol["halve_every"])


def scores(model, split, batch_size: int = 250) -> dict:
    """Mean cross entropy and accuracy on a split, softmaxes in place."""
    model.eval()
    story, query, answer = split.tensors[:3]
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(answer), batch_size):
            logits = model(story[i:i + batch_size], query[i:i + batch_size])
            loss += float(F.cross_entropy(logits, answer[i:i + batch_size], reduction="sum"))
            correct += int((logits.argmax(1) == answer[i:i + batch_size]).sum())
    return {"loss": loss / len(answer), "accuracy": correct / len(answer)}


def train_paper(model, splits: dict, seed: int, protocol: dict) -> dict:
    """Linear start, then the full model: SGD on the summed batch cost, clipped at `clip`."""
    story, query, answer = splits["train"].tensors[:3]
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=protocol["lr"], momentum=0.0, weight_decay=0.0)
    epochs = protocol["linear_start_epochs"] + protocol["epochs"]
    losses = []
    for epoch in range(epochs):
        model.train()
        model.linear_start = epoch < protocol["linear_start_epochs"]
        for group in opt.param_groups:
            group["lr"] = lr_at(epoch, protocol)
        order = torch.randperm(len(answer), generator=gen)
        total = 0.0
        for i in range(0, len(order), protocol["batch_size"]):
            batch = order[i:i + protocol["batch_size"]]
            loss = F.cross_entropy(model(story[batch], query[batch]), answer[batch], reduction="sum")
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), protocol["clip"])
            opt.step()
            total += loss.item()
        losses.append(total / len(answer))
    model.linear_start = False
    return {"train_loss_curve": losses}


def train_and_score(run: Run, name: str, memory: int, hops: int, seed: int, protocol: dict, keep: str | None,
                    task_options: dict) -> dict:
    task = zoo.get_task(name, memory_size=memory, **task_options)
    splits = task.splits()
    torch.manual_seed(seed)
    model = zoo.create(SLUG, task=task, hops=hops)
    start = time.time()
    curve = train_paper(model, splits, seed, protocol)
    out = {"task": name, "hops": hops, "seed": seed, "seconds": time.time() - start, **curve}
    for split in ("train", "val", "test"):
        s = scores(model, splits[split])
        out[f"{split}_loss"], out[f"{split}_accuracy"] = s["loss"], s["accuracy"]
    if keep:
        epochs = protocol["linear_start_epochs"] + protocol["epochs"]
        history = [{"epoch": i + 1, "lr": lr_at(i, protocol), "linear_start": i < protocol["linear_start_epochs"],
                    "train_loss": loss} for i, loss in enumerate(curve["train_loss_curve"])]
        run.keep(model, keep, run={"task": name, "epochs": epochs, "history": history,
                                   "final": {f"{k}_{m}": out[f"{k}_{m}"] for k in ("train", "val", "test")
                                             for m in ("loss", "accuracy")}})
    print(f"{name} {hops} hop(s) seed {seed}: test {out['test_accuracy']:.3f}, train {out['train_accuracy']:.3f} "
          f"({out['seconds']:.0f} s)", flush=True)
    return out


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """Per task: 3 hops beat 1 hop by more than MARGIN test accuracy on every seed."""
    seeds = data["seeds"]
    acc = {(r["task"], r["hops"], r["seed"]): r["test_accuracy"] for r in data["runs"]}
    return seeds, [Check(f"{name.split('-')[-1]}: 3 hops beat 1 hop by more than {100 * MARGIN:.0f} points of "
                         f"test accuracy", ours=[acc[name, 3, s] for s in seeds],
                         versus=[acc[name, 1, s] for s in seeds], better="higher", margin=MARGIN)
                   for name in data["tasks"]]


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = time.time()
    seeds = list(run.pick(SEEDS, SEEDS[:1]))
    protocol = run.pick(PAPER, {**PAPER, "linear_start_epochs": 1, "epochs": 2})
    task_options = run.pick({}, {"train_size": 100, "test_size": 100})
    runs = [train_and_score(run, name, memory, hops, seed, protocol,
                            KEPT[3] if (name, hops, seed) == KEPT[:3] else None, task_options)
            for name, memory in TASKS.items() for hops in HOPS for seed in seeds]
    data = {"seeds": seeds, "tasks": list(TASKS), "protocol": protocol, "runs": runs}
    _, checks = claim_checks(data)
    held = {c.name: [c.holds(o, v) for o, v in c.per_seed()] for c in checks}
    control = None
    if not all(all(h) for h in held.values()):
        name, memory, hops = CONTROL
        result = train_and_score(run, name, memory, hops, seeds[0], protocol, None, task_options)
        passed = result["test_accuracy"] > CONTROL_PASS
        control = {**result, "passed": passed, "threshold": CONTROL_PASS,
                   "conclusion": ("the control learns single-fact questions under the same protocol, so the model, "
                                  "code and schedule train; the multi-hop claim fails at this scale on these tasks "
                                  "(one run per seed: the paper's best of 10 restarts is the one difference left)")
                   if passed else "the control fails too: our protocol or code is to blame, not the claim"}
    data["control"] = control
    data["seconds"] = time.time() - start

    def acc(name, hops):
        return [r["test_accuracy"] for r in runs if r["task"] == name and r["hops"] == hops]

    def best_by_train_loss(name, hops):
        return min((r for r in runs if r["task"] == name and r["hops"] == hops), key=lambda r: r["train_loss"])

    fig, ax = plt.subplots(figsize=(6, 3.6))
    width = 0.35
    for i, hops in enumerate(HOPS):
        ax.bar(np.arange(len(TASKS)) + (i - 0.5) * width, [np.mean(acc(n, hops)) for n in TASKS], width,
               yerr=[np.std(acc(n, hops)) for n in TASKS], label=f"{hops} hop{'s' * (hops > 1)}")
    ax.set_xticks(range(len(TASKS)), ["qa2 (2 facts)", "qa3 (3 facts)"])
    ax.set_ylabel(f"test accuracy (mean of {len(seeds)} seeds)")
    ax.set_ylim(0, 1)
    ax.legend()
    fig.tight_layout()
    fig.savefig(run.figure("hops.png"), dpi=120)

    rows = [[name.split("-")[-1], hops, *[round(a, 3) for a in acc(name, hops)], round(float(np.mean(acc(name, hops))), 3),
             round(best_by_train_loss(name, hops)["test_accuracy"], 3)] for name in TASKS for hops in HOPS]
    epochs = protocol["linear_start_epochs"] + protocol["epochs"]
    summary = (
        f"Test accuracy per seed {seeds}, 1 hop vs 3 hops, paper's protocol ({protocol['linear_start_epochs']} epochs "
        f"of linear start + {protocol['epochs']}, SGD lr {protocol['lr']} halved every {protocol['halve_every']}): "
        + "; ".join(f"{n.split('-')[-1]} {' / '.join(f'{a:.3f}' for a in acc(n, 1))} vs "
                    f"{' / '.join(f'{a:.3f}' for a in acc(n, 3))}" for n in TASKS)
        + ". Training accuracy, 1 vs 3 hops (mean): "
        + "; ".join(f"{n.split('-')[-1]} {np.mean([r['train_accuracy'] for r in runs if r['task'] == n and r['hops'] == 1]):.3f}"
                    f" vs {np.mean([r['train_accuracy'] for r in runs if r['task'] == n and r['hops'] == 3]):.3f}"
                    for n in TASKS)
        + ". Seed with the lowest training loss (the paper's pick among restarts), 1 vs 3 hops: "
        + "; ".join(f"{n.split('-')[-1]} {best_by_train_loss(n, 1)['test_accuracy']:.3f} vs "
                    f"{best_by_train_loss(n, 3)['test_accuracy']:.3f}" for n in TASKS)
        + ". Check (3 hops > 1 hop + 5 points): "
        + "; ".join(f"{name.split(':')[0]} held on {sum(h)} of {len(seeds)} seeds" for name, h in held.items())
        + ". No supporting-fact labels were used."
        + (f" Control (qa1, 1 hop, seed {control['seed']}, same protocol): test accuracy "
           f"{control['test_accuracy']:.3f} (must exceed {CONTROL_PASS}); {control['conclusion']}." if control else "")
    )
    run.record(
        "hops",
        claim="An end-to-end memory network with multiple attention hops answers synthetic QA better than with a "
              "single hop, without supporting-fact supervision.",
        seeds=seeds, checks=checks, summary=summary,
        setup="Generated bAbI-style qa2, qa3 (900 train / 100 val / 1000 test questions), MemN2N adjacent tying, "
              f"PE + TE, d=20, init std 0.1, memory 30/50; the paper's training (Sec. 4.2, as the authors' code runs "
              f"it): linear start {protocol['linear_start_epochs']} epochs then {protocol['epochs']}, {epochs} in all, "
              f"SGD without momentum, lr {protocol['lr']} halved every {protocol['halve_every']} epochs after linear "
              f"start, batch {protocol['batch_size']} with the cost summed over the batch, gradient norm clipped at "
              f"{protocol['clip']:g}; seeds {seeds}. Departures: generated stories instead of the bAbI files (not "
              f"bundled); one run per seed instead of the best of 10 restarts (10x the budget); linear start for a "
              f"fixed 20 epochs (the authors' code) instead of until the validation loss stops falling. Rule written "
              f"before running: per task and seed, 3-hop test accuracy > 1-hop + {MARGIN}; control when it fails: "
              f"qa1 with 1 hop must exceed {CONTROL_PASS}.",
        table={"columns": ["task", "hops", *[f"test acc seed {s}" for s in seeds], "mean",
                           "test acc (lowest train loss seed)"], "rows": rows},
        paper={"source": "Sukhbaatar et al. 2015, Table 1 (bAbI 1k) and Sec. 4.2",
               "statement": "one hop fails the two- and three-supporting-fact tasks; more hops lower their error"},
        figures=["hops.png"],
        data=data,
    )
    print(summary)
