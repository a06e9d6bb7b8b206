"""Reproduction for `hopfield-layer` (Hopfield Networks is All You Need, arXiv:2008.02217).

Claim: the modern continuous Hopfield update retrieves a stored pattern from a noisy
query in one update, even when far more patterns than dimensions are stored.

1. Retrieval: N random binary patterns (+-1) of dimension d = 64 are stored; a query is a stored
   pattern with a fraction of its bits flipped (or half of it masked to 0, as the paper's image
   retrieval does). One update xi_new = X softmax(beta X^T xi) (Eq. 3); retrieval counts when
   sign(xi_new) equals the stored pattern exactly. Swept over N (up to 256 d), beta and noise, on
   seeds 0, 1, 2 (patterns, queries and noise drawn anew per seed). The classical Hopfield
   network's capacity (~0.14 d patterns) is the reference point.
2. The layer on bundled tabular data (breast-cancer, wine): the three layers (variants) trained
   with zoo.train, 3 seeds, against logistic regression as a plain baseline (not part of the claim).

Checks, fixed before running (zoo.verdicts, per seed): for each noise kind, one update with
beta = 1 retrieves the exact pattern from more than 95% of the queries at N = 256 d = 16384, the
largest N of the sweep. beta = 1 is the retrieval regime of the paper's analysis (large beta
separates single patterns; small beta gives metastable averages, Sec. 2-3), fixed rather than
picked per point from the sweep; 95% is the criterion the zoo's record used before.

Principled experiment: the nearest stored pattern (the beta -> infinity limit of the update,
argmax_i x_i^T xi) on the same patterns and queries. It is the best any one-step associative
retrieval can do: where it also fails, the query is closer to another stored pattern than to its
own (the separation the paper's Theorem 3 needs is absent), so the claim fails at that noise and
N, not our protocol; where it succeeds and the Hopfield update fails, the update is to blame.

    zoo reproduce hopfield-layer --part repro
"""

from __future__ import annotations

import tempfile

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check
from zoo_plugins.hopfield_layer.model import hopfield_update

SLUG = "hopfield-layer"
D = 64
BETAS = [0.05, 0.1, 0.25, 1.0]
NOISES = ["flip 10%", "flip 25%", "mask half"]
SEEDS = (0, 1, 2)
CHECK_BETA = 1.0
CHECK_RATE = 0.95  # retrieval must exceed this fraction of the queries


def corrupt(patterns: torch.Tensor, noise: str, gen: torch.Generator) -> torch.Tensor:
    out = patterns.clone()
    if noise.startswith("flip"):
        rate = int(noise.split()[1].rstrip("%")) / 100
        out[torch.rand(out.shape, generator=gen) < rate] *= -1
    else:
        out[:, D // 2:] = 0  # the second half is unknown
    return out


def stored_and_queries(n: int, noise: str, seed: int, queries: int):
    """(patterns, targets, corrupted queries): the same draw for every beta of a seed."""
    gen = torch.Generator().manual_seed(seed)
    patterns = torch.randint(0, 2, (n, D), generator=gen).float() * 2 - 1
    targets = patterns[torch.randint(0, n, (queries,), generator=gen)]  # with replacement: as many queries at every N
    return patterns, targets, corrupt(targets, noise, gen)


def retrieval(n: int, beta: float, noise: str, seed: int, queries: int) -> float:
    patterns, targets, noisy = stored_and_queries(n, noise, seed, queries)
    new = hopfield_update(patterns, noisy, beta=beta, steps=1)
    return float((torch.sign(new) == targets).all(1).float().mean())


def nearest_pattern(n: int, noise: str, seed: int, queries: int) -> float:
    """The beta -> infinity limit: the stored pattern with the largest dot product with the query
    (ties count as failures), i.e. whether the query is strictly closer to its own pattern than to
    any other (random +-1 patterns of d = 64 do not repeat)."""
    patterns, targets, noisy = stored_and_queries(n, noise, seed, queries)
    scores = noisy @ patterns.T
    own = (noisy * targets).sum(1)
    strictly_closest = (scores >= own[:, None]).sum(1) == 1  # only the own pattern reaches its score
    return float(strictly_closest.float().mean())


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
            kept = (task_name, variant, seed) == ("breast-cancer", "hopfield-layer", seeds[0])
            with tempfile.TemporaryDirectory(prefix="zoo-repro-") as run_dir:  # the kept model's card needs its curves
                zoo.train(model, task, epochs=epochs, batch_size=32, lr=1e-3, seed=seed, progress=False,
                          eval_splits=["val"], eval_every=epochs, out_dir=run_dir if kept else None)
                if kept:
                    run.keep(model, "breast-cancer", run=run_dir)
            accs.append(zoo.evaluate(model, task)["accuracy"])
        out[variant] = accs
    x, y = task.splits()["train"].tensors
    xt, yt = task.splits()["test"].tensors
    clf = LogisticRegression(max_iter=2000).fit(x.numpy(), y.numpy())
    out["logistic regression"] = [float(clf.score(xt.numpy(), yt.numpy()))]
    return out


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The claim's checks from the record's data: per noise kind, exact retrieval after one update
    with beta = CHECK_BETA at the largest N, on every seed, above CHECK_RATE."""
    seeds = data["seeds"]
    most = max(int(key.split("|")[0]) for key in data["retrieval"])
    return seeds, [Check(f"one update (beta {CHECK_BETA:g}) retrieves > {CHECK_RATE:.0%} of queries exactly at "
                         f"N = {most} ({most // D} d), {noise}",
                         ours=[data["retrieval"][f"{most}|{CHECK_BETA}|{noise}"][str(seed)] for seed in seeds],
                         versus=CHECK_RATE, better="higher")
                   for noise in NOISES]


def reproduce(run: Run) -> None:
    pattern_counts = run.pick([16, 64, 256, 1024, 4096, 16384], [16, 64, 256])
    queries = run.pick(500, 50)
    seeds = list(run.pick(SEEDS, SEEDS[:1]))
    tab_seeds, epochs = run.pick((SEEDS, 60), ((0,), 1))
    torch.set_num_threads(1)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # per point: {seed: fraction of queries retrieved}
    grid = {(n, beta, noise): {seed: retrieval(n, beta, noise, seed, queries) for seed in seeds}
            for n in pattern_counts for beta in BETAS for noise in NOISES}
    nearest = {(n, noise): {seed: nearest_pattern(n, noise, seed, queries) for seed in seeds}
               for n in pattern_counts for noise in NOISES}
    classical = {(n, noise): {seed: classical_capacity(n, noise, seed, queries) for seed in seeds}
                 for n in [4, 8, 16, 64] for noise in NOISES}

    def mean(values: dict) -> float:
        return float(np.mean(list(values.values())))

    fig, axes = plt.subplots(1, len(NOISES), figsize=(13, 3.6), sharey=True)
    for ax, noise in zip(axes, NOISES):
        for beta in BETAS:
            ax.plot(pattern_counts, [mean(grid[(n, beta, noise)]) for n in pattern_counts], "o-", label=f"beta={beta}")
        ax.plot(pattern_counts, [mean(nearest[(n, noise)]) for n in pattern_counts], "k:",
                label="nearest stored pattern")
        ax.plot([4, 8, 16, 64], [mean(classical[(n, noise)]) for n in [4, 8, 16, 64]], "k--",
                label="classical (Hebbian)")
        ax.axvline(D, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_title(f"{noise}, d={D}")
        ax.set_xlabel("stored patterns N")
    axes[0].set_ylabel(f"exact retrieval after one update (mean of {len(seeds)} seeds)")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(run.figure("retrieval.png"), dpi=120)

    tab = {name: tabular(run, name, tab_seeds, epochs) for name in ("breast-cancer", "wine")}

    data = {"seeds": seeds, "queries": queries,
            "retrieval": {f"{n}|{b}|{z}": {str(s): v for s, v in per.items()} for (n, b, z), per in grid.items()},
            "nearest_pattern": {f"{n}|{z}": {str(s): v for s, v in per.items()} for (n, z), per in nearest.items()},
            "classical": {f"{n}|{z}": {str(s): v for s, v in per.items()} for (n, z), per in classical.items()},
            "tabular_test_accuracy": tab}
    _, checks = claim_checks(data)
    most = pattern_counts[-1]
    rows = [[noise, beta, *[round(mean(grid[(n, beta, noise)]), 3) for n in pattern_counts]]
            for noise in NOISES for beta in BETAS]
    rows += [[noise, "nearest pattern", *[round(mean(nearest[(n, noise)]), 3) for n in pattern_counts]]
             for noise in NOISES]

    def per_seed(values: dict) -> str:
        return "/".join(f"{values[s]:.3f}" for s in seeds)

    failing = [noise for noise, check in zip(NOISES, checks) if not all(check.holds(o, v) for o, v in check.per_seed())]
    explained = [noise for noise in failing if mean(nearest[(most, noise)]) < CHECK_RATE]
    tab_summary = "; ".join(
        f"{task}: " + ", ".join(f"{k} {np.mean(v):.3f}" for k, v in res.items()) for task, res in tab.items())
    summary = (
        f"d={D}, {queries} queries per point, seeds {seeds}. Exact retrieval after one update with beta "
        f"{CHECK_BETA:g} at N = {most} ({most // D} d), per seed: "
        + "; ".join(f"{noise} {per_seed(grid[(most, CHECK_BETA, noise)])}" for noise in NOISES)
        + ". The nearest stored pattern (the beta -> infinity limit, the best one-step retrieval can do) at the "
          "same N: " + "; ".join(f"{noise} {per_seed(nearest[(most, noise)])}" for noise in NOISES) + ". "
        + ("The check holds for every noise kind on every seed." if not failing else
           f"The check fails for {', '.join(failing)}"
           + (f"; there the query is already closer to another of the {most} random patterns than to its own for "
              f"{', '.join(explained)} (nearest-pattern retrieval below {CHECK_RATE:.0%}): the separation the "
              f"paper's retrieval theorem requires is absent at this noise and N, so the claim fails at this "
              f"scale, not our protocol." if explained == failing else
              "; the nearest stored pattern is retrieved there, so the update, not the data, falls short.")
           + f" At N = d = {D} and beta {CHECK_BETA:g}: "
           + "; ".join(f"{noise} {per_seed(grid[(D, CHECK_BETA, noise)])}" for noise in failing) + ".")
        + " The classical Hebbian Hopfield network (one synchronous update) already fails at N=16 ("
        + ", ".join(f"{noise}: {mean(classical[(16, noise)]):.1%}" for noise in NOISES)
        + "). Small beta (0.05) puts the state in a metastable average of many patterns and retrieval collapses "
          f"as N grows. Tabular test accuracy (mean of {len(tab_seeds)} seeds, not part of the claim): {tab_summary}."
    )
    run.record(
        "retrieval",
        claim="The modern continuous Hopfield update retrieves a stored pattern from a noisy query in one update, "
              "even when far more patterns than dimensions are stored.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"d={D} random +-1 patterns, {queries} queries per point (drawn with replacement), one update "
              f"(Eq. 3), exact sign match; N {pattern_counts}, beta {BETAS}, seeds {seeds} (patterns, queries and "
              f"noise). Rule written before running: per noise kind and seed, beta {CHECK_BETA:g}, N = {most}: "
              f"retrieval > {CHECK_RATE:.0%}. Departures: random +-1 patterns instead of the paper's images "
              f"(generated data, the setting of its Theorem 3). Principled experiment: nearest stored pattern "
              f"(beta -> infinity) on the same draws. Tabular (not judged): zoo.train {epochs} epochs, batch 32, "
              f"AdamW lr 1e-3, default sizes, seeds {list(tab_seeds)}.",
        table={"columns": ["noise", "beta", *[f"N={n}" for n in pattern_counts]], "rows": rows},
        paper={"source": "Ramsauer et al. 2020, Theorem 3 and Sec. 3 / Fig. 2 (image retrieval with masked "
                         "queries)", "statement": "storage capacity exponential in d; retrieval with one update"},
        figures=["retrieval.png"],
        data=data,
    )
    print(summary)
