"""KAN paper, toy functions and grid extension (arXiv:2404.19756, Sec. 2.4 Fig. 2.3, Sec. 3.1 Fig. 3.1).

    zoo reproduce kan --part repro_toy

f(x, y) = exp(sin(pi x) + y^2) (task toy/exp-sin: 1000 train / 1000 test points on [-1, 1]^2).
(1) KANs [2,1,1] and [2,5,1] against SiLU MLPs with more parameters, all trained with LBFGS through
    zoo.train (one full-batch LBFGS step of up to 20 iterations per epoch; protocol.py).
(2) Grid extension G = 3, 5, 10, 20, 50 (least-squares refit, then more training): test RMSE at
    each step and the exponent alpha of test RMSE ~ G^-alpha (paper: ~3 for [2,1,1], theory 4).
Three seeds (initial weights and zoo.train seed; the task's data are fixed). The checks, fixed
before running from the claim "much smaller KANs match or beat larger MLPs, with faster neural
scaling": per seed, each KAN after the last grid extension has a lower test RMSE than the better of
the two MLPs, and each KAN's test RMSE falls at every grid extension. A seed where a check fails is
re-run with CONTROL_FACTOR times more steps for every model: the paper trains 200 LBFGS steps per
grid, far more than the budget allows on three seeds, so the control tells short training apart
from the claim failing at this size.
The [2,5,1] KAN of seed 0 after the last grid extension is kept as `kan.toy-exp-sin-grid50`
(trained in float64, kept in float32, the dtype of the task's data).
"""

from __future__ import annotations

import tempfile
import time

import torch

from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds

from .protocol import fit_exponent, task_arrays, train_kan, train_mlp

KEPT_TAG = "toy-exp-sin-grid50"
SEEDS = [0, 1, 2]
KAN_WIDTHS = ([2, 1, 1], [2, 5, 1])
MLP_WIDTHS = ([2, 32, 32, 1], [2, 64, 64, 64, 1])
CONTROL_FACTOR = 4  # the control's steps per grid, times the main run's


def plot(kans: dict, mlps: dict, exponents: dict, grids: list[int], path) -> None:
    """Test RMSE against grid size (log-log) with the G^-4 line and the MLPs' levels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=120)
    for width, history in kans.items():
        ax.loglog([h["grid"] for h in history], [h["test_rmse"] for h in history], "o-",
                  label=f"KAN {width} (alpha = {-exponents[width]:.2f})")
    sizes = torch.tensor(grids, dtype=torch.float64)
    anchor = kans["[2, 1, 1]"][0]["test_rmse"]
    ax.loglog(grids, anchor * (sizes / grids[0]) ** -4, "k--", lw=0.8, label="G^-4 (theory)")
    for (widths, m), color in zip(mlps.items(), ("tab:green", "tab:red")):
        ax.axhline(m["test_rmse"], ls=":", lw=1, color=color, label=f"MLP {widths}, {m['params']} params")
    ax.set_xticks(grids)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("grid size G")
    ax.set_ylabel("test RMSE")
    ax.set_title("exp(sin(pi x) + y^2): grid extension")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path)


def run_seed(data: dict, grids: list[int], steps: int, seed: int, run: Run | None = None) -> dict:
    """Both KANs through grid extension and both MLPs with the same LBFGS budget, on one seed;
    with `run`, the [2,5,1] KAN is kept as KEPT_TAG."""
    kans, mlps = {}, {}
    for width in KAN_WIDTHS:
        print(f"seed {seed} KAN {width}", flush=True)
        kept = run is not None and width == [2, 5, 1]
        with tempfile.TemporaryDirectory(prefix="zoo-repro-") as run_dir:  # the kept model's card needs its curves
            model, kans[str(width)] = train_kan(width, data, grids, steps, seed=seed,
                                                run_dir=run_dir if kept else None)
            if kept:
                run.keep(model.float(), KEPT_TAG, run=run_dir)
    for widths in MLP_WIDTHS:
        mlps[str(widths)] = train_mlp(widths, data, steps * len(grids), seed=seed)[1]
        print(f"seed {seed} MLP {widths}: {mlps[str(widths)]}", flush=True)
    # scaling exponent over all grids (the paper fits the same way over the falling part)
    exponents = {w: fit_exponent([(h["grid"], h["test_rmse"]) for h in history]) for w, history in kans.items()}
    return {"seed": seed, "steps_per_grid": steps, "kan": kans, "mlp": mlps, "exponents": exponents}


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The claim's checks from the per-seed runs in data["seeds"] (see the module docstring)."""
    runs = data["seeds"]
    seeds = [r["seed"] for r in runs]
    best_mlp = [min(m["test_rmse"] for m in r["mlp"].values()) for r in runs]
    mlp_params = " and ".join(f"{m['params']:,}" for m in runs[0]["mlp"].values())
    checks = []
    for width in (str(w) for w in KAN_WIDTHS):
        last = [r["kan"][width][-1] for r in runs]
        checks.append(Check(f"KAN {width} after grid extension to G={last[0]['grid']} ({last[0]['params']} parameters) "
                            f"has a lower test RMSE than the better SiLU MLP ({mlp_params} parameters)",
                            ours=[h["test_rmse"] for h in last], versus=best_mlp, better="lower"))
    for width in (str(w) for w in KAN_WIDTHS):
        # the largest ratio of test RMSE after / before an extension: below 1 when every extension helped
        worst = [max(b["test_rmse"] / a["test_rmse"] for a, b in zip(r["kan"][width], r["kan"][width][1:]))
                 for r in runs]
        grids = [h["grid"] for h in runs[0]["kan"][width]]
        checks.append(Check(f"KAN {width}: every grid extension (G = {grids}) lowers the test RMSE (largest ratio "
                            "after/before < 1)", ours=worst, versus=1.0, better="lower"))
    return seeds, checks


def reproduce(run: Run) -> None:
    # LBFGS steps (zoo.train epochs, up to 20 iterations each) per grid (paper: 200)
    steps = run.pick(15, 1)
    grids = run.pick([3, 5, 10, 20, 50], [3, 5])
    seeds = run.pick(SEEDS, SEEDS[:1])
    torch.set_num_threads(1)
    wall = time.time()
    data = task_arrays("toy/exp-sin")
    runs = [run_seed(data, grids, steps, seed, run if seed == seeds[0] else None) for seed in seeds]
    record_data = {"seeds": runs}
    seeds, checks = claim_checks(record_data)
    failed = failing_seeds(seeds, checks)

    controls = []
    for seed in failed if not run.quick else []:
        longer = run_seed(data, grids, CONTROL_FACTOR * steps, seed)
        _, control_checks = claim_checks({"seeds": [longer]})
        held = {c.name: c.holds(*c.per_seed()[0]) for c in control_checks}
        was = {c.name: c.holds(*c.per_seed()[seeds.index(seed)]) for c in checks}
        repaired = [n for n in held if held[n] and not was[n]]
        still = [n for n in held if not held[n]]
        controls.append({
            "seed": seed, "steps_per_grid": CONTROL_FACTOR * steps, "run": longer, "held": held,
            "conclusion": (f"with {CONTROL_FACTOR}x longer training every check holds on seed {seed}: its failure "
                           "was our short training (protocol), not the claim") if not still
            else (f"with {CONTROL_FACTOR}x longer training on seed {seed} still failing: " + "; ".join(still)
                  + ": the claim fails there at this scale"
                  + (f" (repaired by longer training: {'; '.join(repaired)})" if repaired else ""))})
    record_data.update(controls=controls, wall_seconds=time.time() - wall)

    first = runs[0]
    plot(first["kan"], first["mlp"], first["exponents"], grids, run.figure("toy_grid_extension.png"))
    rows = []
    for r in runs:
        for width, history in r["kan"].items():
            for h in history:
                rows.append([r["seed"], f"KAN {width}", h["grid"], h["params"], f"{h['train_rmse']:.2e}",
                             f"{h['test_rmse']:.2e}"])
        for widths, m in r["mlp"].items():
            rows.append([r["seed"], f"MLP {widths} (SiLU)", "-", m["params"], f"{m['train_rmse']:.2e}",
                         f"{m['test_rmse']:.2e}"])

    def per_seed(values) -> str:
        return "/".join(f"{v:.2e}" for v in values)

    held = [sum(c.holds(o, v) for o, v in c.per_seed()) for c in checks]
    summary = (f"{len(seeds)} seeds, {steps} LBFGS steps (of up to 20 iterations) per grid instead of the paper's 200. "
               f"Test RMSE after grid extension to G={grids[-1]} (seeds {seeds}): "
               + "; ".join(f"KAN {w} {per_seed(r['kan'][w][-1]['test_rmse'] for r in runs)}" for w in runs[0]["kan"])
               + "; best MLP " + per_seed(min(m["test_rmse"] for m in r["mlp"].values()) for r in runs)
               + ". Scaling exponent alpha (test RMSE ~ G^-alpha over G = " + str(grids) + "): "
               + "; ".join(f"{w} " + "/".join(f"{-r['exponents'][w]:.2f}" for r in runs) for w in runs[0]["kan"])
               + " (paper: about 3 for [2,1,1], theory k + 1 = 4). Checks held on: "
               + "; ".join(f"{c.name}: {h} of {len(seeds)}" for c, h in zip(checks, held))
               + ". The paper (Sec. 2.4) expects the [2,5,1] test loss to bottom out near its interpolation "
                 "threshold, G = 1000 points / 15 parameters per interval ~ 67 (observed ~50), so its last "
                 "extension is where that check is marginal.")
    for control in controls:
        summary += f" Control: {control['conclusion']}."
    run.record(
        "toy_exp_sin",
        claim="Much smaller KANs match or beat larger MLPs: [2,1,1] and [2,5,1] KANs after grid extension reach a "
              "lower test RMSE on exp(sin(pi x)+y^2) than SiLU MLPs with more parameters, and grid extension lowers "
              "the test RMSE step by step (paper Fig. 2.3 / 3.1).",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"toy/exp-sin (1000 train, 1000 test, uniform on [-1,1]^2), float64 data and loss, zoo.train with "
              f"optimizer='lbfgs' (history 10, strong Wolfe, up to 20 iterations per step), batch = the whole "
              f"training set, {steps} steps (epochs) per grid over G = {grids}, grid updates (a callback) in the "
              f"first half of the first grid, refine() between zoo.train calls; MLPs {[list(w) for w in MLP_WIDTHS]}: "
              f"SiLU, the same LBFGS for {steps * len(grids)} steps; seeds {seeds}. Departures, forced by the "
              f"budget (three seeds of two KANs and two MLPs in about ten minutes): {steps} instead of the paper's "
              f"200 LBFGS steps per grid, grids up to G={grids[-1]} instead of 1000; the controls re-run each failing "
              f"seed with {CONTROL_FACTOR}x the steps. torch's LBFGS, not pykan's copy (curvature-update cutoff "
              "1e-10 vs 1e-32). Checks fixed before running: per seed, each KAN's final test RMSE below the "
              "better MLP's, and every extension lowering each KAN's test RMSE.",
        table={"columns": ["seed", "model", "grid G", "parameters", "train RMSE", "test RMSE"], "rows": rows},
        paper={"source": "KAN paper Fig. 2.3 (grid extension of [2,1,1] and [2,5,1] on exp(sin(pi x)+y^2)): test "
                         "loss falls with G down to ~1e-7 (RMSE) for [2,1,1] at G=1000 with 200 LBFGS steps per grid; "
                         "for [2,5,1] it bottoms out near the interpolation threshold G ~ 50 (Sec. 2.4); scaling "
                         "~G^-3 observed vs G^-4 theory. pykan hellokan notebook: [2,5,1] test RMSE 4.7e-4 after "
                         "refine(10).",
               "alpha_observed": 3, "alpha_theory": 4},
        figures=["toy_grid_extension.png"],
        data=record_data,
    )
    print(summary)
