"""Reproduction for `pfn` (Mueller et al., 2022, arXiv:2112.10510).

Claim: a Prior-Data Fitted Network trained only on datasets sampled from a GP prior approximates
the GP posterior predictive in a single forward pass.

Setup: task `gp-prior/rbf-1d` (x ~ U[0,1], RBF kernel with lengthscale 0.2, outputscale 1, noise
std 0.1, 30 points per dataset). A small PFN (the paper's architecture, width scaled down) is
trained with zoo.train on fresh prior draws every step (training_step: random split into training
and query points, bar-distribution NLL). On 500 held-out prior draws we condition on the first n
points (n in 2, 5, 10, 20) and score the remaining 10 against the exact GP posterior predictive
(closed form, the Bayes-optimal answer) and the prior predictive N(0, 1 + noise^2) (what a model
that ignores the data can do). Reported: NLL, the share of the prior-to-GP NLL gap the PFN closes,
and the error of its predictive mean and standard deviation against the GP's. Three seeds; the
check, per seed and per n: the PFN closes more than 90% of that gap. Principled experiment when
a check fails: the first failing seed trained 4x as long; if the checks then hold, the short
training was to blame. (The first record under this rule trained 1500 steps: the PFN closed
87-88% of the gap at n=2 on all three seeds, and 6000 steps on seed 0 closed 94-97% at every n,
so the short training was our protocol's fault; 6000 steps became the protocol.)

    zoo reproduce pfn --part repro
"""

from __future__ import annotations

import math
import time

import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds
from zoo_plugins.pfn.prior import gp_posterior_predictive

LR = 1e-3
QUERIES = 10
SEEDS = (0, 1, 2)
CONTEXT_SIZES = (2, 5, 10, 20)
LONGER = 4  # the principled experiment trains this many times as many steps
GAP_TARGET = 0.9  # share of the prior-to-GP NLL gap the PFN must close to count as approximating the GP


def gaussian_nll(y, mean, var) -> torch.Tensor:
    return 0.5 * (torch.log(2 * math.pi * var) + (y - mean) ** 2 / var)


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The claim's checks from a record's data: at every context size n, on every seed, the PFN
    closes more than GAP_TARGET of the NLL gap between the prior predictive and the exact GP."""
    seeds = list(data["seeds"])
    return seeds, [Check(f"closes more than {GAP_TARGET:.0%} of the prior-to-GP NLL gap at n={n}",
                         ours=[data["by_seed"][str(s)][str(n)]["gap_closed"] for s in seeds],
                         versus=GAP_TARGET, better="higher")
                   for n in CONTEXT_SIZES]


def score(model, task) -> dict:
    """NLL of the last QUERIES points of each test dataset given its first n, for the PFN, the exact
    GP posterior predictive and the prior predictive."""
    x, y = task.splits()["test"].tensors
    prior, noise_var = task.prior, task.prior.noise_std ** 2
    n_total = x.shape[1]
    scores = {}
    for n in CONTEXT_SIZES:
        xq, yq = x[:, n_total - QUERIES:], y[:, n_total - QUERIES:]
        with torch.no_grad():
            logits = model(x[:, :n], y[:, :n], xq)
            pfn_nll = float(-model.bar.log_prob(logits, yq).mean())
            pfn_mean, pfn_var = model.bar.mean(logits), model.bar.variance(logits)
        gp_mean, gp_var = gp_posterior_predictive(prior, x[:, :n], y[:, :n], xq)
        gp_nll = float(gaussian_nll(yq.double(), gp_mean, gp_var).mean())
        prior_nll = float(gaussian_nll(yq.double(), torch.zeros(()), torch.tensor(prior.outputscale + noise_var)).mean())
        scores[str(n)] = {"gp_nll": gp_nll, "pfn_nll": pfn_nll, "prior_nll": prior_nll,
                          "gap_closed": (prior_nll - pfn_nll) / (prior_nll - gp_nll),
                          "mean_abs_error_vs_gp": float((pfn_mean.double() - gp_mean).abs().mean()),
                          "std_ratio_vs_gp": float((pfn_var.double().sqrt() / gp_var.sqrt()).mean()),
                          "gp_sd": float(gp_var.sqrt().mean())}
    return scores


def reproduce(run: Run) -> None:
    STEPS, BATCH, WARMUP, TEST_DRAWS = run.pick((6000, 32, 200, 500), (20, 8, 5, 20))
    SIZE = run.pick({"emsize": 64, "nhead": 4, "nhid": 128, "nlayers": 4, "num_buckets": 100},
                    {"emsize": 16, "nhead": 4, "nhid": 32, "nlayers": 1, "num_buckets": 20})
    seeds = list(run.pick(SEEDS, SEEDS[:1]))
    torch.set_num_threads(1)
    start = time.time()
    task = zoo.get_task("gp-prior/rbf-1d", test_draws=TEST_DRAWS)
    by_seed, train_seconds = {}, []

    def train(seed: int, steps: int):
        torch.manual_seed(seed)
        trained = zoo.create("pfn", task=task, **SIZE)
        result = zoo.train(trained, task, max_steps=steps, epochs=1000, batch_size=BATCH, lr=LR, schedule="cosine",
                           warmup_steps=WARMUP, seed=seed, eval_splits=[])
        return trained.eval(), result

    for seed in seeds:
        trained, result = train(seed, STEPS)
        by_seed[str(seed)] = score(trained, task)
        train_seconds.append(result.seconds)
        print(seed, by_seed[str(seed)], flush=True)
        if seed == seeds[0]:
            run.keep(trained, "rbf-1d")
            model = trained
    data = {"seeds": seeds, "by_seed": by_seed}
    seeds, checks = claim_checks(data)
    failed = failing_seeds(seeds, checks)
    control = None
    if failed and not run.quick:  # the principled experiment: is the miss our short training?
        longer, _ = train(failed[0], LONGER * STEPS)
        scores = score(longer, task)
        holds = all(scores[str(n)]["gap_closed"] > GAP_TARGET for n in CONTEXT_SIZES)
        control = {"seed": failed[0], "steps": LONGER * STEPS, "by_n": scores, "checks_hold": holds,
                   "conclusion": "the short training was our protocol's fault" if holds else
                                 "the miss stays with longer training: it fails at this scale"}
        print("longer", control, flush=True)
    data["control"] = control
    x, y = task.splits()["test"].tensors
    prior = task.prior
    rows = []
    for n in CONTEXT_SIZES:
        per = [by_seed[str(s)][str(n)] for s in seeds]

        def mean(key):
            return sum(p[key] for p in per) / len(per)

        rows.append([n, f"{mean('gp_nll'):.3f}", ", ".join(f"{p['pfn_nll']:.3f}" for p in per), f"{mean('prior_nll'):.3f}",
                     ", ".join(f"{p['gap_closed']:.0%}" for p in per), f"{mean('mean_abs_error_vs_gp'):.3f}",
                     f"{mean('std_ratio_vs_gp'):.2f}", f"{mean('gp_sd'):.3f}"])

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
    grid = torch.linspace(0, 1, 200).reshape(1, -1, 1)
    for ax, (draw, n) in zip(axes, ((0, 3), (1, 8), (2, 20))):
        xt, yt = x[draw:draw + 1, :n], y[draw:draw + 1, :n]
        with torch.no_grad():
            pred = model.predict(xt, yt, grid)
        gm, gv = gp_posterior_predictive(prior, xt, yt, grid)
        g = grid.squeeze().numpy()
        ax.plot(g, gm[0].numpy(), color="black", lw=1, label="exact GP mean ± 2 sd")
        ax.fill_between(g, (gm - 2 * gv.sqrt())[0].numpy(), (gm + 2 * gv.sqrt())[0].numpy(), color="gray", alpha=0.2)
        ax.plot(g, pred["mean"][0].numpy(), color="tab:blue", lw=1, label="PFN mean ± 2 sd")
        sd = pred["variance"][0].sqrt().numpy()
        ax.plot(g, pred["mean"][0].numpy() + 2 * sd, color="tab:blue", lw=0.6, ls="--")
        ax.plot(g, pred["mean"][0].numpy() - 2 * sd, color="tab:blue", lw=0.6, ls="--")
        ax.scatter(xt[0, :, 0], yt[0], color="tab:red", s=12, zorder=3)
        ax.set_title(f"{n} training points", fontsize=9)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(run.figure("pfn_vs_gp.png"), dpi=110)

    last = str(CONTEXT_SIZES[-1])
    held = [sum(c.holds(o, v) for o, v in c.per_seed()) for c in checks]
    summary = (f"{len(seeds)} seeds, each trained {STEPS} steps on prior draws ({STEPS * BATCH:,} datasets, "
               f"{sum(train_seconds) / len(seeds) / 60:.1f} min per seed). Share of the gap between the prior "
               f"predictive and the exact GP posterior predictive that the PFN's NLL closes on held-out prior "
               f"datasets, per seed: " + "; ".join(
                   f"n={n} " + ", ".join(f"{by_seed[str(s)][str(n)]['gap_closed']:.0%}" for s in seeds)
                   for n in CONTEXT_SIZES)
               + f". The {GAP_TARGET:.0%} check holds on " + ", ".join(
                   f"{h} of {len(seeds)} seeds at n={n}" for h, n in zip(held, CONTEXT_SIZES))
               + f". At n={last}: NLL " + ", ".join(f"{by_seed[str(s)][last]['pfn_nll']:.3f}" for s in seeds)
               + f" against {by_seed[str(seeds[0])][last]['gp_nll']:.3f} (exact GP) and "
               f"{by_seed[str(seeds[0])][last]['prior_nll']:.3f} (prior); the predictive mean is within "
               + ", ".join(f"{by_seed[str(s)][last]['mean_abs_error_vs_gp']:.3f}" for s in seeds)
               + " of the GP mean on average and the standard deviation "
               + ", ".join(f"{by_seed[str(s)][last]['std_ratio_vs_gp']:.2f}" for s in seeds)
               + f"x the GP's. Small scale: width {SIZE['emsize']}, {SIZE['nlayers']} layers, "
               f"{SIZE['num_buckets']} bars (paper: 512, 6, 1000) and far fewer steps.")
    if control:
        summary += (f" Principled experiment, seed {control['seed']} trained {LONGER}x as long ({control['steps']} "
                    "steps): gap closed " + ", ".join(f"{control['by_n'][str(n)]['gap_closed']:.0%} (n={n})"
                                                      for n in CONTEXT_SIZES) + f"; {control['conclusion']}.")
    run.record(
        "pfn",
        claim="A Prior-Data Fitted Network trained on prior samples approximates the GP posterior predictive in a "
              "single forward pass.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"gp-prior/rbf-1d: x ~ U[0,1], RBF lengthscale 0.2, outputscale 1, noise std 0.1, 30 points per "
              f"dataset. PFN {SIZE} with bars of equal prior probability under N(0, 1.01). zoo.train: AdamW lr {LR}, "
              f"cosine schedule, {WARMUP} warmup steps, batch {BATCH} datasets, {STEPS} steps, seeds {seeds}, the number of "
              f"training points drawn uniformly in [1, 29] per batch. Test: {TEST_DRAWS} held-out prior datasets, the "
              f"last {QUERIES} points scored given the first n. Exact GP posterior in closed form (float64).",
        table={"columns": ["n training points", "exact GP NLL", "PFN NLL (per seed)", "prior NLL",
                           "gap closed (per seed)",
                           "|mean - GP mean|", "sd / GP sd", "GP sd"], "rows": rows},
        paper={"note": "Paper Fig. 3 / Sec. 5.1: PFNs trained on GP priors match the exact GP posterior predictive "
                       "NLL closely for up to hundreds of training points (6-layer, 512-wide transformer)."},
        figures=["pfn_vs_gp.png"],
        data={**data, "train_seconds": train_seconds, "seconds": time.time() - start},
    )
    print(summary)
