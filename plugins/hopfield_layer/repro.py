"""Reproduction for `hopfield-layer` (Hopfield Networks is All You Need, arXiv:2008.02217).

Claim: the modern continuous Hopfield update retrieves a stored pattern from a noisy
query in one update, even when far more patterns than dimensions are stored.

1. Retrieval: N random binary patterns (+-1) of dimension d = 64 are stored; a query is a stored
   pattern with a fraction of its bits flipped (or half of it masked to 0, as the paper's image
   retrieval does). One update xi_new = X softmax(beta X^T xi) (Eq. 3); retrieval counts when
   sign(xi_new) equals the stored pattern exactly. Swept over N (up to 256 d), beta and noise.
   The classical Hopfield network's capacity (~0.14 d patterns) is the reference point.
2. The layer on bundled tabular data (breast-cancer, wine): the three layers (variants) trained
   with zoo.train, 3 seeds, against logistic regression as a plain baseline.

    zoo reproduce hopfield-layer --part repro
"""

from __future__ import annotations

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo_plugins.hopfield_layer.model import hopfield_update

SLUG = "hopfield-layer"
D = 64
BETAS = [0.05, 0.1, 0.25, 1.0]
NOISES = ["flip 10%", "flip 25%", "mask half"]


def corrupt(patterns: torch.Tensor, noise: str, gen: torch.Generator) -> torch.Tensor:
    out = patterns.clone()
    if noise.startswith("flip"):
        rate = int(noise.split()[1].rstrip("%")) / 100
        out[torch.rand(out.shape, generator=gen) < rate] *= -1
    else:
        out[:, D // 2:] = 0  # the second half is unknown
    return out


def retrieval(n: int, beta: float, noise: str, seed: int, queries: int) -> float:
    gen = torch.Generator().manual_seed(seed)
    patterns = torch.randint(0, 2, (n, D), generator=gen).float() * 2 - 1
    targets = patterns[torch.randint(0, n, (queries,), generator=gen)]  # with replacement: as many queries at every N
    new = hopfield_update(patterns, corrupt(targets, noise, gen), beta=beta, steps=1)
    return float((torch.sign(new) == targets).all(1).float().mean())


def classical_capacity(n: int, noise: str, seed: int, queries: int) -> float:
    """Binary Hopfield network with Hebbian weights, one synchronous update: the 1982 baseline."""
    gen = torch.Generator().manual_seed(seed)
    patterns = torch.randint(0, 2, (n, D), generator=gen).float() * 2 - 1
    weights = patterns.T @ patterns
    weights.fill_diagonal_(0)
    targets = patterns[torch.randint(0, n, (queries,), generator=gen)]
    new = torch.sign(corrupt(targets, noise, gen) @ weights)
    return float((new == targets).all(1).float().mean())


def tabular(run: Run, task_name: str, seeds: tuple[int, ...], epochs: int) -> dict:
    from sklearn.linear_model import LogisticRegression

    task = zoo.get_task(task_name)
    out = {}
    for variant in ("hopfield-layer", "hopfield-pooling", "hopfield"):
        accs = []
        for seed in seeds:
            torch.manual_seed(seed)
            model = zoo.create(SLUG, variant=variant, task=task)
            zoo.train(model, task, epochs=epochs, batch_size=32, lr=1e-3, seed=seed, progress=False,
                      eval_splits=["val"], eval_every=epochs)
            accs.append(zoo.evaluate(model, task)["accuracy"])
            if (task_name, variant, seed) == ("breast-cancer", "hopfield-layer", seeds[0]):
                run.keep(model, "breast-cancer")
        out[variant] = accs
    x, y = task.splits()["train"].tensors
    xt, yt = task.splits()["test"].tensors
    clf = LogisticRegression(max_iter=2000).fit(x.numpy(), y.numpy())
    out["logistic regression"] = [float(clf.score(xt.numpy(), yt.numpy()))]
    return out


def reproduce(run: Run) -> None:
    PATTERN_COUNTS = run.pick([16, 64, 256, 1024, 4096, 16384], [16, 64, 256])
    QUERIES = run.pick(500, 50)
    SEEDS, EPOCHS = run.pick(((0, 1, 2), 60), ((0,), 1))
    torch.set_num_threads(1)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = {(n, beta, noise): retrieval(n, beta, noise, seed=0, queries=QUERIES)
            for n in PATTERN_COUNTS for beta in BETAS for noise in NOISES}
    classical = {(n, noise): classical_capacity(n, noise, seed=0, queries=QUERIES)
                 for n in [4, 8, 16, 64] for noise in NOISES}

    fig, axes = plt.subplots(1, len(NOISES), figsize=(13, 3.6), sharey=True)
    for ax, noise in zip(axes, NOISES):
        for beta in BETAS:
            ax.plot(PATTERN_COUNTS, [grid[(n, beta, noise)] for n in PATTERN_COUNTS], "o-", label=f"beta={beta}")
        ax.plot([4, 8, 16, 64], [classical[(n, noise)] for n in [4, 8, 16, 64]], "k--", label="classical (Hebbian)")
        ax.axvline(D, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_title(f"{noise}, d={D}")
        ax.set_xlabel("stored patterns N")
    axes[0].set_ylabel("exact retrieval after one update")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(run.figure("retrieval.png"), dpi=120)

    tab = {name: tabular(run, name, SEEDS, EPOCHS) for name in ("breast-cancer", "wine")}

    rows = []
    for noise in NOISES:
        for beta in BETAS:
            rows.append([noise, beta, *[round(grid[(n, beta, noise)], 3) for n in PATTERN_COUNTS]])
    most = PATTERN_COUNTS[-1]
    best = {noise: max(BETAS, key=lambda b: grid[(most, b, noise)]) for noise in NOISES}
    at_max = {noise: grid[(most, best[noise], noise)] for noise in NOISES}
    # the largest N still retrieved from >= 95% of queries, with the best beta
    largest = {noise: max([n for n in PATTERN_COUNTS if max(grid[(n, b, noise)] for b in BETAS) >= 0.95], default=0)
               for noise in NOISES}
    tab_summary = "; ".join(
        f"{task}: " + ", ".join(f"{k} {np.mean(v):.3f}" for k, v in res.items()) for task, res in tab.items())
    classical_16 = {noise: classical[(16, noise)] for noise in NOISES}
    reproduced = all(n >= 4 * D for n in largest.values())
    summary = (
        f"d={D}. With the best beta, one update retrieves the exact stored pattern from >= 95% of queries up to "
        f"N = {', '.join(f'{n} ({n / D:g}d) for {k}' for k, n in largest.items())}. At N={most} ({most / D:g}d): "
        f"{', '.join(f'{k} {v:.1%}' for k, v in at_max.items())}: with a quarter of the bits flipped, random "
        f"patterns start to come closer to the query than its own pattern, so capacity depends on the noise, "
        f"as the paper's separation condition says. The classical Hebbian Hopfield network already fails at "
        f"N=16 ({', '.join(f'{k}: {v:.1%}' for k, v in classical_16.items())}). Small beta (0.05) puts the "
        f"state in a metastable average of many patterns and retrieval collapses as N grows. "
        f"Tabular test accuracy (mean of {len(SEEDS)} seeds): {tab_summary}; the layers match, not beat, a linear "
        f"model on these small, nearly linearly separable sets."
    )
    run.record(
        "retrieval",
        claim="The modern continuous Hopfield update retrieves a stored pattern from a noisy query in one update, "
              "even when far more patterns than dimensions are stored.",
        verdict="reproduced" if reproduced else "partially reproduced",
        summary=summary,
        setup=f"d={D} random +-1 patterns, {QUERIES} queries per point, one update (Eq. 3), exact sign match; "
              f"tabular: zoo.train {EPOCHS} epochs, batch 32, AdamW lr 1e-3, default sizes, seeds "
              f"{SEEDS[0]}-{SEEDS[-1]}.",
        table={"columns": ["noise", "beta", *[f"N={n}" for n in PATTERN_COUNTS]], "rows": rows},
        paper={"source": "Ramsauer et al. 2020, Theorem 3 and Sec. 3 / Fig. 2 (image retrieval with masked "
                         "queries)", "statement": "storage capacity exponential in d; retrieval with one update"},
        figures=["retrieval.png"],
        data={"retrieval": {f"{n}|{b}|{z}": v for (n, b, z), v in grid.items()},
              "classical": {f"{n}|{z}": v for (n, z), v in classical.items()},
              "tabular_test_accuracy": tab},
    )
    print(summary)
