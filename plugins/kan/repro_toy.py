"""KAN paper, toy functions and grid extension (arXiv:2404.19756, Sec. 2.4 Fig. 2.3, Sec. 3.1 Fig. 3.1).

    zoo reproduce kan --part repro_toy

f(x, y) = exp(sin(pi x) + y^2) (task toy/exp-sin: 1000 train / 1000 test points on [-1, 1]^2).
(1) KANs [2,1,1] and [2,5,1] against SiLU MLPs with more parameters, all trained with LBFGS through
    zoo.train (one full-batch LBFGS step of up to 20 iterations per epoch; protocol.py).
(2) Grid extension G = 3, 5, 10, 20, 50 (least-squares refit, then more training): test RMSE at
    each step and the exponent alpha of test RMSE ~ G^-alpha (paper: ~3 for [2,1,1], theory 4).
The [2,5,1] KAN after the last grid extension is kept as `kan.toy-exp-sin-grid50` (trained in
float64, kept in float32, the dtype of the task's data).
"""

from __future__ import annotations

import tempfile

import torch

from zoo.reproduce import Run

from .protocol import fit_exponent, task_arrays, train_kan, train_mlp

KEPT_TAG = "toy-exp-sin-grid50"


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


def reproduce(run: Run) -> None:
    # LBFGS steps (zoo.train epochs, up to 20 iterations each) per grid (paper: 200)
    steps = run.pick(15, 1)
    grids = run.pick([3, 5, 10, 20, 50], [3, 5])
    torch.set_num_threads(1)
    data = task_arrays("toy/exp-sin")
    kans = {}
    for width in ([2, 1, 1], [2, 5, 1]):
        print(f"KAN {width}", flush=True)
        kept = width == [2, 5, 1]
        with tempfile.TemporaryDirectory(prefix="zoo-repro-") as run_dir:  # the kept model's card needs its curves
            model, kans[str(width)] = train_kan(width, data, grids, steps, run_dir=run_dir if kept else None)
            if kept:
                run.keep(model.float(), KEPT_TAG, run=run_dir)
    mlps = {}
    for widths in ([2, 32, 32, 1], [2, 64, 64, 64, 1]):
        print(f"MLP {widths}", flush=True)
        mlps[str(widths)] = train_mlp(widths, data, steps * len(grids))[1]
        print(f"  {mlps[str(widths)]}", flush=True)

    rows = []
    for width, history in kans.items():
        for h in history:
            rows.append([f"KAN {width}", h["grid"], h["params"], f"{h['train_rmse']:.2e}", f"{h['test_rmse']:.2e}"])
    for widths, m in mlps.items():
        rows.append([f"MLP {widths} (SiLU)", "-", m["params"], f"{m['train_rmse']:.2e}", f"{m['test_rmse']:.2e}"])

    # scaling exponent over the grids where the error still falls (the paper fits the same way)
    exponents = {}
    for width, history in kans.items():
        points = [(h["grid"], h["test_rmse"]) for h in history]
        exponents[width] = fit_exponent(points)
    best_kan = min(h["test_rmse"] for hist in kans.values() for h in hist)
    small_kan = kans["[2, 5, 1]"][-1]
    best_mlp = min(m["test_rmse"] for m in mlps.values())
    biggest_mlp = max(m["params"] for m in mlps.values())
    monotone = {w: all(b["test_rmse"] < a["test_rmse"] for a, b in zip(h, h[1:])) for w, h in kans.items()}

    plot(kans, mlps, exponents, grids, run.figure("toy_grid_extension.png"))

    small_beats = small_kan["test_rmse"] < best_mlp and small_kan["params"] < biggest_mlp
    run.record(
        "toy_exp_sin",
        claim="A [2,5,1]-style KAN reaches a much lower test RMSE on exp(sin(pi x)+y^2) than an MLP with more "
              "parameters; grid extension lowers the test RMSE step by step (paper Fig. 2.3 / 3.1).",
        verdict="reproduced" if small_beats and all(monotone.values()) else
                ("partially reproduced" if small_beats or any(monotone.values()) else "not reproduced"),
        summary=(f"KAN [2,5,1] after grid extension to G={grids[-1]} ({small_kan['params']} parameters): test RMSE "
                 f"{small_kan['test_rmse']:.2e}; best MLP (up to {biggest_mlp} parameters, same LBFGS budget): "
                 f"{best_mlp:.2e}, i.e. {best_mlp / small_kan['test_rmse']:.0f}x higher. Best KAN overall "
                 f"{best_kan:.2e}. Test RMSE fell at every grid extension: {monotone}. Measured scaling exponent "
                 f"alpha (test RMSE ~ G^-alpha over G = {grids}): "
                 + ", ".join(f"{w}: {-e:.2f}" for w, e in exponents.items())
                 + "; the paper observes about 3 for [2,1,1] (theory k + 1 = 4). "
                 f"Runs use {steps} LBFGS steps (of up to 20 iterations) per grid instead of the paper's 200; "
                 "trained through zoo.train."),
        setup=f"toy/exp-sin (1000 train, 1000 test, uniform on [-1,1]^2), float64 data and loss, zoo.train with "
              f"optimizer='lbfgs' (history 10, strong Wolfe, up to 20 iterations per step), batch = the whole "
              f"training set, {steps} steps (epochs) per grid, grid updates (a callback) in the first half "
              f"of the first grid, refine() between zoo.train calls; MLPs: SiLU, the same LBFGS for "
              f"{steps * len(grids)} steps; seed 0.",
        table={"columns": ["model", "grid G", "parameters", "train RMSE", "test RMSE"], "rows": rows},
        paper={"source": "KAN paper Fig. 2.3 (grid extension of [2,1,1] and [2,5,1] on exp(sin(pi x)+y^2)): test "
                         "loss falls with G down to ~1e-7 (RMSE) for [2,1,1] at G=1000 with 200 LBFGS steps per grid; "
                         "scaling ~G^-3 observed vs G^-4 theory. pykan hellokan notebook: [2,5,1] test RMSE 4.7e-4 "
                         "after refine(10).",
               "alpha_observed": 3, "alpha_theory": 4},
        figures=["toy_grid_extension.png"],
        data={"kan": kans, "mlp": mlps, "exponents": exponents},
    )
