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
and the error of its predictive mean and standard deviation against the GP's.

    zoo reproduce pfn --part repro
"""

from __future__ import annotations

import math
import time

import torch

import zoo
from zoo.reproduce import Run
from zoo_plugins.pfn.prior import gp_posterior_predictive

LR = 1e-3
QUERIES = 10


def gaussian_nll(y, mean, var) -> torch.Tensor:
    return 0.5 * (torch.log(2 * math.pi * var) + (y - mean) ** 2 / var)


def reproduce(run: Run) -> None:
    STEPS, BATCH, WARMUP, TEST_DRAWS = run.pick((1500, 32, 200, 500), (20, 8, 5, 20))
    SIZE = run.pick({"emsize": 64, "nhead": 4, "nhid": 128, "nlayers": 4, "num_buckets": 100},
                    {"emsize": 16, "nhead": 4, "nhid": 32, "nlayers": 1, "num_buckets": 20})
    torch.set_num_threads(1)
    start = time.time()
    task = zoo.get_task("gp-prior/rbf-1d", test_draws=TEST_DRAWS)
    torch.manual_seed(0)
    model = zoo.create("pfn", task=task, **SIZE)
    result = zoo.train(model, task, max_steps=STEPS, epochs=1000, batch_size=BATCH, lr=LR, schedule="cosine",
                       warmup_steps=WARMUP, seed=0, eval_splits=[])
    run.keep(model, "rbf-1d")
    model.eval()
    x, y = task.splits()["test"].tensors
    prior, noise_var = task.prior, task.prior.noise_std ** 2
    n_total = x.shape[1]
    rows, data = [], {}
    for n in (2, 5, 10, 20):
        xq, yq = x[:, n_total - QUERIES:], y[:, n_total - QUERIES:]
        with torch.no_grad():
            logits = model(x[:, :n], y[:, :n], xq)
            pfn_nll = float(-model.bar.log_prob(logits, yq).mean())
            pfn_mean, pfn_var = model.bar.mean(logits), model.bar.variance(logits)
        gp_mean, gp_var = gp_posterior_predictive(prior, x[:, :n], y[:, :n], xq)
        gp_nll = float(gaussian_nll(yq.double(), gp_mean, gp_var).mean())
        prior_nll = float(gaussian_nll(yq.double(), torch.zeros(()), torch.tensor(prior.outputscale + noise_var)).mean())
        closed = (prior_nll - pfn_nll) / (prior_nll - gp_nll)
        mean_err = float((pfn_mean.double() - gp_mean).abs().mean())
        std_ratio = float((pfn_var.double().sqrt() / gp_var.sqrt()).mean())
        rows.append([n, f"{gp_nll:.3f}", f"{pfn_nll:.3f}", f"{prior_nll:.3f}", f"{closed:.0%}", f"{mean_err:.3f}",
                     f"{std_ratio:.2f}", f"{float(gp_var.sqrt().mean()):.3f}"])
        data[n] = {"gp_nll": gp_nll, "pfn_nll": pfn_nll, "prior_nll": prior_nll, "gap_closed": closed,
                   "mean_abs_error_vs_gp": mean_err, "std_ratio_vs_gp": std_ratio}
        print(n, data[n], flush=True)

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

    gaps = [d["gap_closed"] for d in data.values()]
    verdict = "reproduced" if min(gaps) >= 0.9 else "partially reproduced" if min(gaps) >= 0.5 else "not reproduced"
    summary = (f"After {result.steps} training steps on prior draws ({result.steps * BATCH:,} datasets, {result.seconds / 60:.1f} "
               f"min), the PFN's NLL on held-out prior datasets closes "
               + ", ".join(f"{d['gap_closed']:.0%} (n={n})" for n, d in data.items())
               + " of the gap between the prior predictive and the exact GP posterior predictive; e.g. at n=20 "
               f"NLL {data[20]['pfn_nll']:.3f} against {data[20]['gp_nll']:.3f} (exact GP) and "
               f"{data[20]['prior_nll']:.3f} (prior). Its predictive mean is within "
               f"{data[20]['mean_abs_error_vs_gp']:.3f} of the GP mean on average (n=20) and its standard deviation "
               f"is {data[20]['std_ratio_vs_gp']:.2f}x the GP's. Small scale: width {SIZE['emsize']}, "
               f"{SIZE['nlayers']} layers, {SIZE['num_buckets']} bars (paper: 512, 6, 1000) and far fewer steps.")
    run.record(
        "pfn",
        claim="A Prior-Data Fitted Network trained on prior samples approximates the GP posterior predictive in a "
              "single forward pass.",
        verdict=verdict, summary=summary,
        setup=f"gp-prior/rbf-1d: x ~ U[0,1], RBF lengthscale 0.2, outputscale 1, noise std 0.1, 30 points per "
              f"dataset. PFN {SIZE} with bars of equal prior probability under N(0, 1.01). zoo.train: AdamW lr {LR}, "
              f"cosine schedule, {WARMUP} warmup steps, batch {BATCH} datasets, {result.steps} steps, the number of "
              f"training points drawn uniformly in [1, 29] per batch. Test: {TEST_DRAWS} held-out prior datasets, the "
              f"last {QUERIES} points scored given the first n. Exact GP posterior in closed form (float64).",
        table={"columns": ["n training points", "exact GP NLL", "PFN NLL", "prior NLL", "gap closed",
                           "|mean - GP mean|", "sd / GP sd", "GP sd"], "rows": rows},
        paper={"note": "Paper Fig. 3 / Sec. 5.1: PFNs trained on GP priors match the exact GP posterior predictive "
                       "NLL closely for up to hundreds of training points (6-layer, 512-wide transformer)."},
        figures=["pfn_vs_gp.png"],
        data={"by_n_train": data, "train_seconds": result.seconds, "seconds": time.time() - start},
    )
    print(summary)
