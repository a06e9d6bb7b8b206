"""Why DFA trains the MLP and not the transformer: alignment of the DFA update with the gradient.

DFA learns when the forward weights come to align with the feedback, so that the update B_l e points
the way backprop's gradient would (Nokland 2016, Launay et al. 2020 measure this angle). This script
trains the reproduction's MLP and transformer with DFA (seed 0, the same epochs as repro.py) and, at
the end of each epoch, on a fixed batch of 256 training digits, records per hidden block the cosine
between the DFA update (gradient of the DFA surrogate) and the true backprop gradient of the block's
parameters. A cosine well above 0 means the hidden blocks move in a descent direction; near 0, the
feedback tells them nothing useful. A measurement (no verdict) of repro.py's FIRST protocol for the
transformer (feedback at the embedding too, a B_l row per unit of every token position; the recorded
run now shares B_l across positions, see repro_transformer.py): it explains why that one failed.

    zoo reproduce dfa --part repro_alignment
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

import zoo
from zoo.reproduce import Run

from zoo.training.blocks import cut_modules, sequential_blocks
from .method import dfa_objective
from .repro import BATCH, EPOCHS, LR, make


def block_gradients(blocks: list[list[torch.nn.Module]]) -> list[torch.Tensor]:
    grads = []
    for block in blocks:
        grads.append(torch.cat([p.grad.flatten() for layer in block for p in layer.parameters()]))
    return grads


def cosines(model, method, x, y) -> list[float]:
    """Per hidden block, cos(DFA update, backprop gradient) of its parameters on (x, y)."""
    hidden = sequential_blocks(model)[:-1]
    params = list(model.parameters())
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    true = block_gradients(hidden)
    model.zero_grad()
    _, surrogate = dfa_objective(model, (x,), cut_modules(model, None), method.feedback,
                                 lambda out: F.cross_entropy(out, y))
    surrogate.backward()
    dfa = block_gradients(hidden)
    for p in params:
        p.grad = None
    return [float(F.cosine_similarity(a, b, dim=0)) for a, b in zip(dfa, true)]


class AlignmentProbe:
    def __init__(self, method, x, y):
        self.method, self.x, self.y, self.history = method, x, y, []

    def zoo_train_epoch_end(self, run, metrics):
        self.history.append(cosines(run.model, self.method, self.x, self.y))


def figure(run: Run, data: dict) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = "dfa_alignment.png"
    fig, axes = plt.subplots(1, len(data), figsize=(9, 3.4), sharey=True)
    for ax, (architecture, values) in zip(axes, data.items()):
        history = values["cosine_per_epoch"]
        epochs = range(1, len(history) + 1)
        for block in range(len(history[0])):
            ax.plot(epochs, [h[block] for h in history], label=f"hidden block {block + 1}")
        ax.axhline(0, color="gray", lw=0.8, ls=":")
        ax.set_title(f"{architecture} (DFA test accuracy {100 * values['test_accuracy']:.1f}%)", fontsize=9)
        ax.set_xlabel("epoch")
    axes[0].set_ylabel("cos(DFA update, backprop gradient)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(run.figure(name), dpi=110)
    plt.close(fig)
    return name


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    start = time.time()
    task = zoo.get_task("digits")
    x, y = (t[:256].clone() for t in task.splits()["train"].tensors[:2])
    rows, data = [], {}
    for architecture, epochs in EPOCHS.items():
        epochs = run.pick(epochs, 2)
        torch.manual_seed(0)
        model = make(architecture)
        method = zoo.method("dfa")
        probe = AlignmentProbe(method, x, y)
        result = zoo.train(model, task, methods=[method], optimizer="adam", lr=LR, batch_size=BATCH, epochs=epochs,
                           seed=0, eval_splits=[], final_splits=["test"], progress=False, callbacks=[probe])
        data[architecture] = {"cosine_per_epoch": probe.history, "test_accuracy": result.final["test_accuracy"]}
        first, last = probe.history[0], probe.history[-1]
        rows.append([architecture, " / ".join(f"{c:.2f}" for c in first), " / ".join(f"{c:.2f}" for c in last),
                     f"{100 * result.final['test_accuracy']:.1f}"])
        print(rows[-1], flush=True)
    summary = ("Cosine between the DFA update and the backprop gradient per hidden block (first -> last epoch): "
               + "; ".join(f"{r[0]}: {r[1]} -> {r[2]} (test accuracy {r[3]}%)" for r in rows) + ".")
    run.record("alignment", claim="DFA learns when its updates align with the backprop gradient (diagnostic).",
               verdict="measured", summary=summary,
               setup=f"seed 0, the models, optimizer and epochs of repro.py ({dict(EPOCHS)}); after each epoch, on "
                     f"256 fixed training digits, cos(DFA update, backprop gradient) of each hidden block's parameters",
               table={"columns": ["architecture", "cosine per block, epoch 1", "cosine per block, last epoch",
                                  "test accuracy (%)"], "rows": rows},
               figures=[figure(run, data)],
               data={**data, "seconds": time.time() - start})
    print(summary)
