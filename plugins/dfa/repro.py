"""Reproduction for `dfa` (Launay, Poli, Boniface & Krzakala, 2020, arXiv:2006.12878).

Claim (abstract, Sec. 4): DFA "successfully trains a large range of state-of-the-art deep learning
architectures, with performance close to fine-tuned backpropagation", transformers included.

Protocol, fixed before running:
- Task `digits` (8x8 digits in [0, 1]; 1150 train / 288 val / 360 test). Two architectures:
  * MLP: 64-256-256-256-10, ReLU (the fully connected networks of the DFA papers, three hidden layers);
  * transformer on digit rows: each of the 8 image rows is a token (8 pixels -> width 64, learned
    positions), two pre-LayerNorm transformer blocks (4 heads, MLP 128), LayerNorm, mean over tokens,
    linear classifier. DFA as the paper's "macro" setting (its reference code): the feedback arrives at
    the output of each transformer block, the row embedding is trained inside the first block (no
    feedback of its own), backprop acts inside a block, and token positions count as batch
    dimensions: one B_l (64 x 10) shared by the 8 rows (dfa option shared_positions=True).
- Three ways to train each, same init, data order and optimizer: backprop (BP), DFA
  (methods=["dfa"]), and a control that trains only the last block by backprop with the others
  frozen at their random init ("last layer"): it tells learning in the hidden blocks from a
  random-features effect. Adam, lr 1e-3, batch 64, EPOCHS epochs (fixed, no early stopping), seeds
  0, 1, 2 (init, data order, feedback matrices). Test accuracy after the last epoch.

Verdict rule (written before running), per seed, test accuracy:
  A (MLP) DFA >= BP - 3 points;  B (transformer) DFA >= BP - 3 points;
  C (MLP) DFA > last layer;      D (transformer) DFA > last layer.
  The 3-point tolerance: "close to backprop" is not quantified by the paper; its gaps on its own tasks
  are a few percent of the metric, and 3 points is 11 of the 360 test digits, about three times the
  seed-to-seed spread of BP on this task. Verdict computed by zoo.verdicts from the four checks.
If a check fails, a control trains the failing architecture with seed 0 for 3x the epochs (BP and DFA):
if the check then holds, the protocol (training length) is to blame, else the claim fails at this scale.

Protocol correction (second run): the first run gave the embedding a feedback of its own and every
token position its own rows of B_l (512 x 10). Then DFA reached 22-28% on the transformer, below
the frozen-random-blocks control (54%): the blocks got worse than random. repro_transformer.py
diagnoses it (learning rate, feedback scale, attention removed: none of them helps; position-shared
feedback does), and the paper's reference code shares B_l across positions and puts no feedback
at the embedding. The transformer's DFA now follows that; the rule, the learning rate and
everything else are unchanged. First run (seeds 0, 1, 2): transformer DFA 21.9 / 27.5 / 25.6%.

Departures (budget and data): digits instead of the paper's tasks (NeRF, recommenders, graph
networks, WikiText-103 language models); small widths; Adam at one learning rate for all (the paper
tunes DFA's lr separately: Adam at 5e-5 for the transformer, against a warmup schedule for BP; tuning
here would bend the verdict); one independent Gaussian B_l per
block instead of TinyDFA's single shared matrix.

    zoo reproduce dfa
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

LR, BATCH, TOLERANCE = 1e-3, 64, 0.03
EPOCHS = {"MLP": 40, "transformer": 30}


class RowTokens(nn.Module):
    """Each image row as a token: (N, 1, 8, 8) -> (N, 8, width), plus a learned position per row."""

    def __init__(self, pixels: int = 8, rows: int = 8, width: int = 64):
        super().__init__()
        self.embed = nn.Linear(pixels, width)
        self.position = nn.Parameter(torch.randn(rows, width) * 0.02)

    def forward(self, x):
        return self.embed(x.flatten(1, 2)) + self.position


class TransformerBlock(nn.Module):
    """Pre-LayerNorm block: x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, width: int = 64, heads: int = 4, hidden: int = 128):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, width))

    def forward(self, x):
        y = self.norm1(x)
        x = x + self.attention(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class MeanPoolHead(nn.Module):
    def __init__(self, width: int = 64, classes: int = 10):
        super().__init__()
        self.norm, self.linear = nn.LayerNorm(width), nn.Linear(width, classes)

    def forward(self, x):
        return self.linear(self.norm(x).mean(1))


def make(architecture: str) -> nn.Sequential:
    if architecture == "MLP":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                             nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    return nn.Sequential(RowTokens(), TransformerBlock(), TransformerBlock(), MeanPoolHead())


def output_layer_parameters(model: nn.Sequential) -> list[nn.Parameter]:
    from zoo.training.blocks import sequential_blocks

    return [p for layer in sequential_blocks(model)[-1] for p in layer.parameters()]


def dfa_method(architecture: str):
    """The MLP: a feedback per hidden layer. The transformer: the paper's macro DFA, feedback at the
    output of each transformer block (children 1 and 2; the embedding, child 0, trains inside block
    1), one B_l shared by the token positions."""
    if architecture == "MLP":
        return zoo.method("dfa")
    return zoo.method("dfa", blocks=["1", "2"], shared_positions=True)


def train_one(architecture: str, how: str, seed: int, epochs: int, task) -> float:
    """Test accuracy of one architecture trained one way ("BP", "DFA" or "last layer")."""
    torch.manual_seed(seed)
    model = make(architecture)
    if how == "last layer":
        keep = {id(p) for p in output_layer_parameters(model)}
        for p in model.parameters():
            p.requires_grad_(id(p) in keep)
    result = zoo.train(model, task, methods=[dfa_method(architecture)] if how == "DFA" else [], optimizer="adam", lr=LR,
                       batch_size=BATCH, epochs=epochs, seed=seed, eval_splits=[], final_splits=["test"],
                       progress=False)
    return result.final["test_accuracy"]


def reproduce(run: Run) -> None:
    seeds = run.pick([0, 1, 2], [0])
    epochs = {a: run.pick(e, 2) for a, e in EPOCHS.items()}
    torch.set_num_threads(1)
    start = time.time()
    task = zoo.get_task("digits")
    hows = ("BP", "DFA", "last layer")
    acc = {a: {h: [] for h in hows} for a in EPOCHS}
    for seed in seeds:
        for architecture in EPOCHS:
            for how in hows:
                acc[architecture][how].append(train_one(architecture, how, seed, epochs[architecture], task))
            print(f"seed {seed} {architecture}: " + ", ".join(f"{h} {100 * acc[architecture][h][-1]:.1f}%"
                                                                for h in hows), flush=True)
    checks = []
    for architecture in EPOCHS:
        a = acc[architecture]
        checks.append(Check(f"{architecture}: DFA test accuracy within {100 * TOLERANCE:.0f} points of BP",
                            ours=a["DFA"], versus=a["BP"], better="higher", margin=-TOLERANCE))
    for architecture in EPOCHS:
        a = acc[architecture]
        checks.append(Check(f"{architecture}: DFA test accuracy above the last-layer-only control",
                            ours=a["DFA"], versus=a["last layer"], better="higher"))

    control = {}
    for architecture in EPOCHS:
        a = acc[architecture]
        gap_holds = all(d >= b - TOLERANCE for d, b in zip(a["DFA"], a["BP"]))
        if gap_holds or run.quick:
            continue
        longer = 3 * epochs[architecture]
        bp, dfa = (train_one(architecture, h, seeds[0], longer, task) for h in ("BP", "DFA"))
        holds = dfa >= bp - TOLERANCE
        control[architecture] = {"epochs": longer, "seed": seeds[0], "BP": bp, "DFA": dfa, "holds": holds,
                                 "conclusion": "holds with 3x longer training: the protocol (training length) is to "
                                               "blame" if holds else "still fails with 3x longer training: the claim "
                                                                     "fails at this scale"}
        print(f"control {architecture}: BP {100 * bp:.1f}%, DFA {100 * dfa:.1f}%: {control[architecture]['conclusion']}")

    rows = []
    for architecture in EPOCHS:
        for how in hows:
            values = acc[architecture][how]
            rows.append([architecture, how] + [f"{100 * v:.1f}" for v in values]
                        + [f"{100 * np.mean(values):.1f} +- {100 * np.std(values):.1f}"])
    means = {a: {h: 100 * float(np.mean(acc[a][h])) for h in hows} for a in EPOCHS}
    summary = ("Test accuracy on digits, mean of seeds " + ", ".join(map(str, seeds)) + ": " + "; ".join(
        f"{a}: BP {m['BP']:.1f}%, DFA {m['DFA']:.1f}%, last layer only {m['last layer']:.1f}%" for a, m in means.items())
        + ". DFA is held to within 3 points of BP and must beat the frozen-hidden-layers control on every seed.")
    if control:
        summary += " Controls: " + "; ".join(f"{a} with {c['epochs']} epochs: BP {100 * c['BP']:.1f}%, DFA "
                                             f"{100 * c['DFA']:.1f}%, {c['conclusion']}" for a, c in control.items()) + "."
    seconds = time.time() - start
    run.record(
        "dfa",
        claim="DFA trains diverse architectures (here an MLP and a transformer) to performance close to backprop.",
        seeds=list(seeds), checks=checks, summary=summary,
        setup=f"Task digits (1150 train / 360 test). MLP 64-256-256-256-10 ReLU; transformer on the 8 image rows "
              f"(width 64, 2 pre-LN blocks, 4 heads, MLP 128, mean pool), DFA at the transformer blocks' outputs "
              f"('macro'; the embedding trained inside block 1; one B_l shared by the 8 token positions, as in the "
              f"paper's code). Each "
              f"trained three ways from the same init: backprop, dfa (Gaussian B_l, N(0, 1/10)), and backprop on the "
              f"last block only with the others frozen at init (control for random features). Adam lr {LR}, batch "
              f"{BATCH}, epochs {epochs}, seeds {list(seeds)}; test accuracy at the end. Rule, per seed: DFA >= BP - 3 "
              f"points (11 of 360 test digits, ~3x BP's seed spread; the paper's 'close' is unquantified) and DFA > "
              f"last-layer control, for both architectures. Departures: digits instead of the paper's tasks; small "
              f"widths; one lr for all methods (no per-method tuning; the paper's transformer DFA used Adam at 5e-5 "
              f"against a warmup schedule for BP); independent B_l per block instead of TinyDFA's shared matrix. "
              f"Protocol corrected after a first run, which gave the embedding a feedback of its own and each token "
              f"position its own B_l rows: transformer DFA 21.9 / 27.5 / 25.6%, below the control; diagnosis in the "
              f"dfa-transformer record.",
        table={"columns": ["architecture", "training", *[f"seed {s} acc (%)" for s in seeds], "mean +- std"],
               "rows": rows},
        paper={"note": "Table/figures of Launay et al. 2020: DFA close to BP on NeRF (PSNR), recommender systems (AUC), "
                       "graph convolutional networks (accuracy) and transformers (perplexity, with a larger gap)."},
        data={"accuracy": acc, "epochs": epochs, "control": control, "seconds": seconds},
    )
    print(summary, f"({seconds:.0f} s)")
