"""Reproduction for `multistage-nn` (Wang & Lai, 2023, arXiv:2307.08934): regression to machine precision.

Claim (abstract): a single network struggles to bring the prediction error below O(1e-5); the
multi-stage network, each stage fitting the normalised residue of the previous ones, brings it
close to the machine precision of float64.

Setup (the authors' 1D regression example): u_g(x) = sin(2x + 1) + 0.2 exp(1.3x), 300 uniform training
points on [-1.05, 1.05], error measured on 200 uniform points of [-1, 1] (relative L2, the paper's
measure). Four stages, each a 3 x 20 tanh network (sin first layer with kappa = 2 pi f_d for stages
2-4), Xavier init, float64, full-batch Adam (lr 1e-3) then L-BFGS. The comparison: ONE network of the
same total parameter count (3 x 41 tanh: 3,568 parameters against 4 x 901 = 3,604) trained with the
same total budget (the sum of the stages' Adam steps and L-BFGS iterations). Seeds 0, 1, 2 (init).

Verdict rule (written before running; zoo.verdicts computes it from the per-seed numbers):
  1. "far below a single network": the multi-stage test error is at least 100x lower than the single
     network's, per seed (Check factor=100);
  2. "approaching machine precision": the multi-stage test error is below 1e-10 (six orders above
     float64's 2.2e-16, four below the single-network plateau the paper quotes).
Reproduced if both hold on every seed; partially if on some seeds or on the mean; not otherwise.

Budget departure: the authors' code runs 3000 / 5000 Adam steps and 3333 k L-BFGS iterations for stage
k (51,000 iterations per model); here 1000 / 1200 Adam steps and 700 k L-BFGS iterations (11,600),
for both sides alike, to fit one CPU core. Control (seed 0, multistage only): the same run on 1201
training points, to tell an error floor set by the sampling (the last stage's residue frequency nears
the Nyquist frequency of 300 points) from one of the method.

    zoo reproduce multistage-nn
"""

from __future__ import annotations

import statistics
import time

import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

from .method import relative_l2

WIDTH_SINGLE = 41  # 2 w^2 + 5 w + 1 = 3,568 parameters, the closest to four 20-wide stages' 3,604


def target(x: torch.Tensor) -> torch.Tensor:
    return torch.sin(2 * x + 1) + 0.2 * torch.exp(1.3 * x)


def data(points: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.linspace(-1.05, 1.05, points, dtype=torch.float64)[:, None]
    return x, target(x)


def fit(stages: int, width: int, schedule: dict, x, y, seed: int):
    model = zoo.create("multistage-net", stages=stages, hidden_dim=width)
    result = zoo.method("multistage-nn", **schedule).run(model, (x, y), seed=seed)
    return model, result


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    seeds = run.pick([0, 1, 2], [0])
    adam, later, lbfgs = run.pick((1000, 1200, 700), (60, 60, 40))
    n_stages = run.pick(4, 3)
    x, y = data(300)
    x_test = torch.linspace(-1, 1, 200, dtype=torch.float64)[:, None]
    y_test = target(x_test)
    staged = {"adam_steps": adam, "later_adam_steps": later, "lbfgs_iterations": lbfgs}
    total_adam = adam + (n_stages - 1) * later
    total_lbfgs = lbfgs * n_stages * (n_stages + 1) // 2
    single = {"adam_steps": total_adam, "lbfgs_iterations": total_lbfgs}
    start = time.time()
    rows, ms_err, one_err, per_stage, seconds = [], [], [], {}, {}
    for seed in seeds:
        t0 = time.time()
        model, result = fit(n_stages, 20, staged, x, y, seed)
        t1 = time.time()
        with torch.no_grad():
            stage_errors = [relative_l2(model.partial(x_test, k + 1), y_test) for k in range(len(result.stages))]
        single_model, single_result = fit(1, WIDTH_SINGLE, single, x, y, seed)
        t2 = time.time()
        with torch.no_grad():
            single_error = relative_l2(single_model(x_test), y_test)
        ms_err.append(stage_errors[-1])
        one_err.append(single_error)
        per_stage[seed] = [{"stage": s.stage + 1, "kappa": s.kappa, "eps": s.scale, "f_d": s.frequency,
                            "train_error": s.train_error, "test_error": e}
                           for s, e in zip(result.stages, stage_errors)]
        seconds[seed] = {"multistage": t1 - t0, "single": t2 - t1}
        rows.append([seed, *[f"{e:.2e}" for e in stage_errors], f"{single_error:.2e}",
                     f"{single_result.train_error:.2e}"])
        print(seed, stage_errors, single_error, seconds[seed], flush=True)
    params_ms = sum(p.numel() for p in model.parameters())
    params_one = sum(p.numel() for p in single_model.parameters())

    control = None
    if not run.quick:
        xc, yc = data(1201)
        t0 = time.time()
        dense, dense_result = fit(n_stages, 20, staged, xc, yc, seeds[0])
        with torch.no_grad():
            control = {"points": 1201, "seed": seeds[0], "seconds": time.time() - t0,
                       "test_errors": [relative_l2(dense.partial(x_test, k + 1), y_test)
                                       for k in range(len(dense_result.stages))],
                       "f_d": [s.frequency for s in dense_result.stages]}
        print("control", control, flush=True)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    for seed in seeds:
        ax[0].semilogy([r["stage"] for r in per_stage[seed]], [r["test_error"] for r in per_stage[seed]], "o-",
                       label=f"multistage, seed {seed}")
    ax[0].semilogy([1, n_stages], [statistics.fmean(one_err)] * 2, "k--", label="one network, same size and budget")
    if control:
        ax[0].semilogy(range(1, len(control["test_errors"]) + 1), control["test_errors"], "s:",
                       label="multistage, 1201 points (control)")
    ax[0].axhline(2.2e-16, color="gray", lw=0.8)
    ax[0].set_xlabel("stage")
    ax[0].set_ylabel("relative L2 test error")
    ax[0].legend(fontsize=7)
    with torch.no_grad():
        ax[1].semilogy(x_test[:, 0], (model(x_test) - y_test).abs()[:, 0] + 1e-18, lw=0.8, label="multistage")
        ax[1].semilogy(x_test[:, 0], (single_model(x_test) - y_test).abs()[:, 0] + 1e-18, lw=0.8, label="one network")
    ax[1].set_xlabel("x")
    ax[1].set_ylabel("|u - u_g| (last seed)")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(run.figure("multistage_nn.png"), dpi=110)

    def spread(values):
        return f"{statistics.fmean(values):.2e} (min {min(values):.2e}, max {max(values):.2e})"

    summary = (f"Relative L2 test error over seeds {seeds}: multistage ({n_stages} stages, {params_ms:,} parameters) "
               f"{spread(ms_err)}; one network of {params_one:,} parameters with the same budget "
               f"{spread(one_err)}; ratio (single / multistage) per seed "
               f"{', '.join(f'{o / m:.0f}x' for o, m in zip(one_err, ms_err))}. Per stage (seed {seeds[0]}): "
               + ", ".join(f"{r['test_error']:.1e}" for r in per_stage[seeds[0]])
               + (f". Control with 1201 training points (seed {seeds[0]}): per stage "
                  + ", ".join(f"{e:.1e}" for e in control["test_errors"]) if control else "")
               + f". Budget per model: {total_adam} Adam steps and {total_lbfgs} L-BFGS iterations (the authors' "
                 f"code: 18,000 and 33,333).")
    run.record(
        "multistage-nn",
        claim="Multi-stage training brings the regression error far below the plateau of a single network "
              "(O(1e-5)), close to the machine precision of float64.",
        seeds=list(seeds),
        checks=[Check("multistage error 100x below one network of equal size and budget", ours=ms_err,
                      versus=one_err, better="lower", factor=100),
                Check("multistage error below 1e-10 (approaching machine precision)", ours=ms_err, versus=1e-10,
                      better="lower")],
        summary=summary,
        setup=f"u_g = sin(2x+1) + 0.2 exp(1.3x); 300 uniform training points on [-1.05, 1.05], 200 test points on "
              f"[-1, 1]; relative L2 error. Multistage: {n_stages} stages of 3 x 20 tanh (sin first layer, kappa = "
              f"2 pi f_d for stages >= 2), eps = residue RMS, Adam lr 1e-3 ({adam} steps stage 1, {later} later) "
              f"then L-BFGS ({lbfgs} k iterations at stage k), float64. Single network: 3 x {WIDTH_SINGLE} tanh, "
              f"{total_adam} Adam steps then {total_lbfgs} L-BFGS iterations. Departure: the authors' code runs "
              f"3000/5000 Adam steps and 3333 k L-BFGS iterations (budget). Verdict rule in the script docstring: "
              f"error 100x below the single network's, and below 1e-10, on every seed.",
        table={"columns": ["seed", *[f"stage {k + 1}" for k in range(n_stages)], "one network (test)",
                           "one network (train)"], "rows": rows},
        paper={"note": "Paper Sec. 3 / Fig. 3-4: the single-stage error stalls near 1e-5 to 1e-6; with 4 stages the "
                       "regression error reaches O(1e-13) or lower, near float64 precision."},
        figures=["multistage_nn.png"],
        data={"per_stage": per_stage, "single_test_error": dict(zip(seeds, one_err)), "control": control,
              "parameters": {"multistage": params_ms, "single": params_one}, "seconds": seconds,
              "total_seconds": time.time() - start},
    )
    print(summary)
