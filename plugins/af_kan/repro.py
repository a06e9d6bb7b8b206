"""AF-KAN claim (arXiv:2503.06112): AF-KAN (ReLU-KAN extended with activation-function
combinations) outperforms MLP and ReLU-KAN at equal parameter count, here on `digits`.

The paper's setting scaled down through config only: MNIST 784-64-10 becomes digits 64-64-10
(input (1, 8, 8) flattened), with its best configuration (g = 3, k = 3, SiLU, quad1, global
attention, LayerNorm, L2MM). Baselines at the same parameter count (hidden width chosen to match):
- ReLU-KAN (the `relu-kan` variant: ReLU bumps, constant scale, one weight per basis value);
- the MLP the AF-KAN authors compare against (every layer LayerNorm -> Linear without bias -> SiLU);
- a plain MLP (Linear -> ReLU -> Linear).
AF-KAN's other two reductions (spatial attention, multi-step) run at hidden width 64 for context.
All: AdamW lr 1e-3 (the paper's), batch 64, 100 epochs, seeds 0-4; test accuracy at the end.
AF-KAN of seed 0 is kept as the checkpoint `af-kan.digits`.

Checks (zoo.verdicts, per seed, fixed before judging): "outperforms" is read strictly, AF-KAN's test
accuracy above each equal-parameter baseline's on the same seed (ReLU-KAN, the authors' MLP, the
plain MLP), one check per baseline.

Principled experiment (longer training): the authors train 25-35 epochs (All-KAN run.py / README,
batch 64); this protocol trains 100, and every run's validation accuracy is kept every 10 epochs.
For the seeds where AF-KAN loses to an MLP, the gap in validation accuracy at epoch 30 (about the
authors' budget) is compared with the gap after 100 epochs: if AF-KAN catches up with more training,
our training length is to blame ("our protocol fails"); if the gap stays, "the claim fails at this
scale".

Departures: digits (1,150 training images of 8x8) instead of MNIST / Fashion-MNIST (60,000 of
28x28), hence 64 inputs instead of 784; no weight decay and a constant learning rate where the
authors' script uses weight decay 1e-4 and a per-epoch exponential decay (gamma 0.8, tied to
MNIST's 938 steps per epoch, which digits' 18 steps per epoch cannot reproduce); last-epoch
test accuracy instead of the best validation epoch.

    zoo reproduce af-kan --part repro
"""

from __future__ import annotations

import statistics

import torch
import torch.nn.functional as F
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

BATCH, LR = 64, 1e-3
HIDDEN = 64
AF_KAN = "af-kan"
BASELINES = ("relu-kan", "mlp (authors')", "mlp (plain)")
MLPS = BASELINES[1:]
AUTHORS_EPOCHS = 30  # the authors train 25 (MNIST) to 35 (Fashion-MNIST) epochs
# one thread: on the shared 2-core machine two OpenMP threads mostly wait for each other on models this small
THREADS = 1


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class AuthorsMLP(nn.Module):
    """The MLP of the authors' comparisons: per layer LayerNorm, Linear without bias, SiLU."""

    def __init__(self, width: list[int]):
        super().__init__()
        self.norms = nn.ModuleList(nn.LayerNorm(n) for n in width[:-1])
        self.linears = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(width[:-1], width[1:]))

    def forward(self, x):
        x = x.flatten(1)
        for norm, linear in zip(self.norms, self.linears):
            x = F.silu(linear(norm(x)))
        return x


def plain_mlp(hidden: int) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def matched(build, target: int) -> int:
    return min(range(1, 400), key=lambda h: abs(n_params(build(h)) - target))


def builders() -> dict:
    """Model factories: AF-KAN at hidden width 64, the baselines at its parameter count."""
    budget = n_params(zoo.create("af-kan", width=[64, HIDDEN, 10]))

    def relu_kan(h):
        return zoo.create("af-kan", variant="relu-kan", width=[64, h, 10])

    def authors(h):
        return AuthorsMLP([64, h, 10])

    h_relu_kan, h_authors, h_plain = (matched(b, budget) for b in (relu_kan, authors, plain_mlp))
    return {
        "af-kan": lambda: zoo.create("af-kan", width=[64, HIDDEN, 10]),
        "af-kan (spatial attn)": lambda: zoo.create("af-kan", variant="spatial-attn", width=[64, HIDDEN, 10]),
        "af-kan (multistep)": lambda: zoo.create("af-kan", variant="multistep", width=[64, HIDDEN, 10]),
        "relu-kan": lambda: relu_kan(h_relu_kan),
        "mlp (authors')": lambda: authors(h_authors),
        "mlp (plain)": lambda: plain_mlp(h_plain),
    }


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The claim's checks from the record's data ({"model|seed": run}): per baseline, AF-KAN's test
    accuracy above the baseline's on each seed."""
    seeds = sorted({int(key.rsplit("|", 1)[1]) for key in data})
    acc = {key: run["accuracy"] for key, run in data.items()}
    return seeds, [Check(f"AF-KAN test accuracy > {baseline} (equal parameters)",
                         ours=[acc[f"{AF_KAN}|{s}"] for s in seeds], versus=[acc[f"{baseline}|{s}"] for s in seeds],
                         better="higher")
                   for baseline in BASELINES]


def training_length_finding(data: dict) -> dict:
    """The longer-training experiment, read from the runs' validation curves: on the seeds where
    AF-KAN's test accuracy is below the better MLP's, AF-KAN's validation-accuracy gap to that MLP
    at epoch AUTHORS_EPOCHS and at the last epoch. Training length is to blame if, averaged over
    those seeds, AF-KAN has caught up with the MLP in validation accuracy by the last epoch."""
    seeds = sorted({int(key.rsplit("|", 1)[1]) for key in data})
    rows = []
    for seed in seeds:
        best_mlp = max(MLPS, key=lambda m: data[f"{m}|{seed}"]["accuracy"])
        if data[f"{AF_KAN}|{seed}"]["accuracy"] > data[f"{best_mlp}|{seed}"]["accuracy"]:
            continue
        curves = {m: dict(data[f"{m}|{seed}"]["curve"]) for m in (AF_KAN, best_mlp)}
        if not curves[AF_KAN]:
            continue
        last = max(curves[AF_KAN])
        gap = {e: curves[AF_KAN][e] - curves[best_mlp][e] for e in (AUTHORS_EPOCHS, last) if e in curves[best_mlp]}
        rows.append({"seed": seed, "mlp": best_mlp, "gap_at_authors_epochs": gap.get(AUTHORS_EPOCHS),
                     "gap_at_last_epoch": gap.get(last), "last_epoch": last})
    last_gaps = [r["gap_at_last_epoch"] for r in rows if r["gap_at_last_epoch"] is not None]
    mean_gap = statistics.fmean(last_gaps) if last_gaps else None
    finding = ("no seed to test" if mean_gap is None else
               "our protocol fails" if mean_gap >= 0 else "the claim fails at this scale")
    return {"seeds": rows, "mean_gap_at_last_epoch": mean_gap, "finding": finding}


def plot(accuracy: dict[str, list[float]], params: dict[str, int], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.boxplot(list(accuracy.values()), tick_labels=[f"{n}\n{params[n]} p" for n in accuracy])
    ax.set_ylabel(f"digits test accuracy ({len(next(iter(accuracy.values())))} seeds)")
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def reproduce(run: Run) -> None:
    SEEDS = run.pick((0, 1, 2, 3, 4), (0, 1))  # two at least: the summary reports standard deviations
    EPOCHS = run.pick(100, 1)
    torch.set_num_threads(THREADS)
    task = zoo.get_task("digits")
    runs = {}
    factories = builders()
    for name, build in factories.items():
        for seed in SEEDS:
            torch.manual_seed(seed)
            model = build()
            result = zoo.train(model, task, epochs=EPOCHS, batch_size=BATCH, lr=LR, seed=seed, eval_every=10,
                               progress=False)
            test = zoo.evaluate(model, task)
            runs[(name, seed)] = {"accuracy": test["accuracy"], "loss": test["loss"], "params": n_params(model),
                                  "seconds": result.seconds,
                                  "curve": [(h["epoch"], h.get("val_accuracy")) for h in result.history if "val_accuracy" in h]}
            if (name, seed) == ("af-kan", SEEDS[0]):
                run.keep(model, "digits")
            print(f"{name} seed {seed}: {n_params(model)} params, test accuracy {test['accuracy']:.4f}, "
                  f"{result.seconds:.1f} s", flush=True)

    names = list(factories)
    acc = {n: [runs[(n, s)]["accuracy"] for s in SEEDS] for n in names}
    mean = {n: statistics.mean(v) for n, v in acc.items()}
    std = {n: statistics.stdev(v) for n, v in acc.items()}
    rows = [[n, runs[(n, 0)]["params"], f"{mean[n]:.4f} ± {std[n]:.4f}", f"{min(acc[n]):.4f}", f"{max(acc[n]):.4f}",
             f"{statistics.mean(runs[(n, s)]['seconds'] for s in SEEDS):.1f}"] for n in names]
    beaten = [b for b in BASELINES if mean[AF_KAN] > mean[b]]

    plot(acc, {n: runs[(n, 0)]["params"] for n in names}, run.figure("repro_digits.png"))

    data = {f"{n}|{s}": r for (n, s), r in runs.items()}
    seeds, checks = claim_checks(data)
    longer = training_length_finding(data)
    summary = (f"digits test accuracy on seeds {seeds} at ~{runs[(AF_KAN, 0)]['params']} parameters (per seed): "
               + "; ".join(f"{n} {[round(v, 4) for v in acc[n]]} ({runs[(n, 0)]['params']} params)" for n in names)
               + f". AF-KAN's mean is above {len(beaten)} of {len(BASELINES)} equal-parameter baselines"
               + (f" ({', '.join(beaten)})" if beaten else "") + ". Longer training (validation accuracy, AF-KAN minus "
               "the better MLP, at epoch " f"{AUTHORS_EPOCHS} -> {EPOCHS}, on the seeds where AF-KAN is below it): "
               + ", ".join(f"seed {r['seed']} {fmt_gap(r['gap_at_authors_epochs'])} -> {fmt_gap(r['gap_at_last_epoch'])}"
                           for r in longer["seeds"])
               + f"; finding: {longer['finding']}.")
    run.record(
        "repro_digits",
        claim="AF-KAN (ReLU-KAN extended with activation-function combinations) outperforms MLP and ReLU-KAN at "
              "equal parameter count.",
        seeds=seeds, checks=checks, summary=summary,
        setup=(f"digits (sklearn 8x8, 64/16/20 split), widths [64, h, 10]: AF-KAN h={HIDDEN} (g=3, k=3, SiLU, quad1, "
               f"global attention, LayerNorm, L2MM); baselines with h matched to AF-KAN's parameter count. AdamW lr {LR}, "
               f"batch {BATCH}, {EPOCHS} epochs, no early stopping, seeds {SEEDS}; {THREADS} CPU thread. Departures: "
               "digits instead of MNIST / Fashion-MNIST (64 inputs instead of 784); no weight decay and a constant "
               "learning rate instead of the authors' weight decay 1e-4 and per-epoch exponential decay (0.8, tied to "
               "MNIST's epoch length); last-epoch test accuracy instead of the best validation epoch."),
        table={"columns": ["model", "params", "test accuracy (mean ± std)", "min", "max", "seconds"], "rows": rows},
        paper={"source": "arXiv:2503.06112: on MNIST / Fashion-MNIST (784-64-10), AF-KAN outperforms MLP, ReLU-KAN "
                         "and other KANs with the same parameter count, at a longer training time"},
        figures=["repro_digits.png"],
        data=data,
    )
    print(summary)


def fmt_gap(gap: float | None) -> str:
    return "n/a" if gap is None else f"{100 * gap:+.1f} points"
