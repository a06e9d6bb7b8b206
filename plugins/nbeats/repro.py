"""Reproduction for `nbeats` (N-BEATS, arXiv:1905.10437).

Claim: a deep stack of fully-connected blocks with backward/forward residual links
beats statistical benchmarks on univariate forecasting, and its interpretable configuration gives
a trend/seasonality decomposition with little accuracy loss.

1. `nbeats/m4-like`: 300 generated monthly series (trend + 12-step season + noise), M4 protocol
   (the last 18 points of every series are the test horizon, the 18 before them validation).
   N-BEATS-G (generic) and N-BEATS-I (interpretable) are trained with zoo.train on windows from
   every series' training part (lookback 36 = 2H), three seeds each, no ensembling. Baselines, fitted
   per series on its whole history before the test horizon: naive (last value), seasonal naive,
   Theta (statsmodels ThetaModel, the M4 benchmark) and damped additive Holt-Winters ETS
   (statsmodels; slow here, so on the first 50 series, with every method also scored there).
   Metrics: sMAPE and MASE as defined for M4 (MASE scaled by the in-sample seasonal-naive error).
2. `forecast/goog` (a real series bundled with matplotlib: Google's daily log price, horizon 5):
   N-BEATS-G against the no-change forecast, the natural baseline of a near random walk.

Scaled down from the paper (N-BEATS-G: 30 stacks of width 512; N-BEATS-I: widths 256/2048; an
ensemble of 180 models), because the paper's sizes do not train within the CPU budget: G has 6
generic stacks of width 256, I a trend stack (3 shared blocks, width 64) and a seasonality stack
(3 shared blocks, width 256), single models. G's theta is sized L + H, as in the authors' code.
The N-BEATS-G model of seed 0 is kept as `weights/m4-like/` (too large to ship in the package).

Checks (zoo.verdicts, per seed, fixed before running): test sMAPE of N-BEATS-G, and of N-BEATS-I,
below the best of naive, seasonal naive and Theta ("beats statistical benchmarks"); N-BEATS-I's
sMAPE at most 10% above N-BEATS-G's on the same seed ("little accuracy loss"). Principled
experiment, when a check fails: each N-BEATS configuration whose check failed is trained
LONGER_FACTOR times longer (epochs and step cap) on seed 0. If it then passes, the short training is what failed; if it
still fails, the claim fails at this scale.

The first record trained 3 epochs (at most 800 steps): N-BEATS-G missed Theta on seed 0 and passed
when trained 4x longer, so the short training was our protocol's fault; 12 epochs (at most 3200
steps) became the protocol.

The baselines need statsmodels (the `bench` extra); without it the run stops before training.

    zoo reproduce nbeats --part repro
"""

from __future__ import annotations

import tempfile
import time
import warnings

import numpy as np
import torch

import zoo
from zoo.errors import ZooError
from zoo.reproduce import Run
from zoo.verdicts import Check
from zoo_plugins.nbeats.task import SEASON

SLUG = "nbeats"
H, L = 18, 36
SEEDS = [0, 1, 2]
CONFIGS = {
    "N-BEATS-G": dict(stack_types=["generic"] * 6, layer_widths=[256] * 6, generic_theta_dim=L + H),
    "N-BEATS-I": dict(stack_types=["trend", "seasonality"], blocks_per_stack=3, layer_widths=[64, 256],
                      share_weights_in_stack=True),
}
TRAIN = dict(epochs=12, batch_size=256, lr=1e-3, optimizer="adam", progress=False, eval_splits=["val"], eval_every=100)
KEPT = ("N-BEATS-G", "m4-like")  # (model, checkpoint tag)
STATISTICAL = ("naive", "seasonal naive", "theta")
LITTLE_LOSS = 1.10  # "little accuracy loss": N-BEATS-I's sMAPE at most 10% above N-BEATS-G's
LONGER_FACTOR = 4  # the principled experiment: this many times the training (epochs and step cap), on seed 0


def statsmodels_version() -> str:
    """The release of statsmodels, which fits the Theta and ETS baselines; a ZooError naming the extra
    that installs it where it is missing."""
    try:
        import statsmodels
    except ModuleNotFoundError:
        raise ZooError('the Theta and ETS baselines need statsmodels, which is not installed; install it with: '
                       'pip install "paperzoo[bench]"') from None
    return statsmodels.__version__


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The claim's checks from the record's data (its table: per method, test sMAPE first; N-BEATS
    rows per seed, "N-BEATS-G (seed 0)")."""
    table = data["table"]
    seeds = list(data["seeds"])
    smape_of = {label: [table[f"{label} (seed {s})"][0] for s in seeds] for label in CONFIGS}
    best = min(table[m][0] for m in STATISTICAL)
    return seeds, [
        Check("test sMAPE: N-BEATS-G < best of naive, seasonal naive, Theta", ours=smape_of["N-BEATS-G"],
              versus=best, better="lower"),
        Check("test sMAPE: N-BEATS-I < best of naive, seasonal naive, Theta", ours=smape_of["N-BEATS-I"],
              versus=best, better="lower"),
        Check(f"test sMAPE: N-BEATS-I <= {LITTLE_LOSS:.2f} x N-BEATS-G", ours=smape_of["N-BEATS-I"],
              versus=smape_of["N-BEATS-G"], better="lower", factor=1 / LITTLE_LOSS),
    ]


def smape(y, f):
    return float(np.mean(200 * np.abs(y - f) / (np.abs(y) + np.abs(f))))


def mase(y, f, history):
    scale = np.mean(np.abs(history[SEASON:] - history[:-SEASON]))
    return float(np.mean(np.abs(y - f)) / scale)


def statistical(history: np.ndarray, method: str) -> np.ndarray:
    if method == "naive":
        return np.repeat(history[-1], H)
    if method == "seasonal naive":
        return np.resize(history[-SEASON:], H)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "theta":
            from statsmodels.tsa.forecasting.theta import ThetaModel

            return np.asarray(ThetaModel(history, period=SEASON).fit().forecast(H))
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        fit = ExponentialSmoothing(history, trend="add", seasonal="add", seasonal_periods=SEASON,
                                   damped_trend=True).fit()
        return np.asarray(fit.forecast(H))


def reproduce(run: Run) -> None:
    statsmodels_release = statsmodels_version()  # fail before the training, not after it
    num_series, ets_series = run.pick((300, 50), (20, 5))
    max_steps, goog_epochs = run.pick((3200, 20), (10, 1))
    seeds = list(run.pick(SEEDS, SEEDS[:1]))
    torch.set_num_threads(1)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = time.time()
    task = zoo.get_task("nbeats/m4-like", num_series=num_series, horizon=H, input_size=L)
    x_test, y_test = (t.numpy() for t in task.splits()["test"].tensors)
    histories = task.history

    forecasts: dict[str, np.ndarray] = {}
    models = {}
    for label, cfg in CONFIGS.items():
        runs = []
        for seed in seeds:
            torch.manual_seed(seed)
            model = zoo.create(SLUG, task=task, **cfg)
            kept = (label, seed) == (KEPT[0], seeds[0])
            with tempfile.TemporaryDirectory(prefix="zoo-repro-") as run_dir:  # the kept model's card needs its curves
                zoo.train(model, task, seed=seed, out_dir=run_dir if kept else None, max_steps=max_steps, **TRAIN)
                if kept:
                    run.keep(model, KEPT[1], run=run_dir)
            model.eval()
            with torch.no_grad():
                runs.append(model(torch.from_numpy(x_test)).numpy())
            models.setdefault(label, model)
        forecasts.update({f"{label} (seed {s})": f for s, f in zip(seeds, runs)})
        print(label, f"{time.time() - start:.0f}s")
    for method in STATISTICAL:
        forecasts[method] = np.stack([statistical(h, method) for h in histories])
    ets = np.stack([statistical(h, "ets") for h in histories[:ets_series]])
    print("statistical", f"{time.time() - start:.0f}s")

    def scores(f, count=None):
        count = count or len(f)
        return (float(np.mean([smape(y_test[i], f[i]) for i in range(count)])),
                float(np.mean([mase(y_test[i], f[i], histories[i]) for i in range(count)])))

    table = {}
    for name, f in forecasts.items():
        table[name] = (*scores(f), *scores(f, ets_series))
    table["ets (damped Holt-Winters)"] = (None, None, *scores(ets, ets_series))
    rows = [[name, *(round(v, 3) if v is not None else None for v in vals)] for name, vals in table.items()]

    def mean_of(label, i):
        return float(np.mean([table[f"{label} (seed {s})"][i] for s in seeds]))

    g, i_ = mean_of("N-BEATS-G", 0), mean_of("N-BEATS-I", 0)
    ets_subset = table["ets (damped Holt-Winters)"][2]
    g_subset, i_subset = mean_of("N-BEATS-G", 2), mean_of("N-BEATS-I", 2)

    # decomposition figure: trend and seasonality stacks of N-BEATS-I on three test series
    model = models["N-BEATS-I"]
    with torch.no_grad():
        trend, season = (p.numpy() for p in model.decompose(torch.from_numpy(x_test[:3])))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    for k, ax in enumerate(axes):
        past, future = np.arange(-L, 0), np.arange(H)
        ax.plot(past, x_test[k], "k", lw=1, label="lookback")
        ax.plot(future, y_test[k], "k--", lw=1, label="actual")
        ax.plot(future, trend[k] + season[k], "C0", label="N-BEATS-I forecast")
        ax.plot(future, trend[k], "C1", label="trend stack")
        ax.plot(future, season[k] + trend[k].mean(), "C2", label="seasonality stack (+ mean trend)")
        ax.set_title(f"test series {k}")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(run.figure("decomposition.png"), dpi=120)

    # the real bundled series
    goog = zoo.get_task("forecast/goog")
    goog_scores = {}
    goog_sizes = zoo.create(SLUG, task=goog, stack_types=["generic"], layer_widths=[1]).config
    for seed in seeds:
        torch.manual_seed(seed)
        m = zoo.create(SLUG, task=goog, stack_types=["generic"] * 3, layer_widths=[128] * 3,
                       generic_theta_dim=goog_sizes.input_size + goog_sizes.horizon)
        zoo.train(m, goog, seed=seed, epochs=goog_epochs, batch_size=64, lr=1e-3, optimizer="adam", progress=False,
                  eval_splits=["val"], eval_every=goog_epochs)
        goog_scores[seed] = zoo.evaluate(m, goog)["mse"]
    goog_naive = goog.info.extra["naive_mse"]
    goog_mean = float(np.mean(list(goog_scores.values())))

    data = {"seeds": seeds, "table": {k: list(v) for k, v in table.items()}, "goog_test_mse": goog_scores,
            "goog_naive_mse": goog_naive}
    checked_seeds, checks = claim_checks(data)
    held = [sum(c.holds(o, v) for o, v in c.per_seed()) for c in checks]
    failing = [label for label, n in (("N-BEATS-G", held[0]), ("N-BEATS-I", min(held[1:])))
               if n < len(seeds)]
    longer = {}
    for label in failing:  # the principled experiment: the same model, trained longer, on seed 0
        torch.manual_seed(seeds[0])
        model = zoo.create(SLUG, task=task, **CONFIGS[label])
        zoo.train(model, task, seed=seeds[0], max_steps=LONGER_FACTOR * max_steps,
                  **{**TRAIN, "epochs": LONGER_FACTOR * TRAIN["epochs"]})
        model.eval()
        with torch.no_grad():
            longer[label] = scores(model(torch.from_numpy(x_test)).numpy())[0]
        print(label, "longer", f"{time.time() - start:.0f}s")
    best_statistical = min(table[m][0] for m in STATISTICAL)
    g_short = table[f"N-BEATS-G (seed {seeds[0]})"][0]
    passes_longer = {
        "N-BEATS-G": lambda v: v < best_statistical,
        "N-BEATS-I": lambda v: v < best_statistical and v <= LITTLE_LOSS * longer.get("N-BEATS-G", g_short),
    }
    if longer:
        fixed = [label for label, v in longer.items() if passes_longer[label](v)]
        experiment = (f" Principled experiment, {LONGER_FACTOR}x the training steps on seed {seeds[0]}: "
                      + ", ".join(f"{label} sMAPE {v:.2f}" for label, v in longer.items())
                      + f" (best statistical {best_statistical:.2f}): "
                      + ("the longer-trained model passes, so the short training is what failed (our protocol), "
                         "not the claim." if len(fixed) == len(longer) else
                         "still failing with longer training, so the claim fails at this scale, not the "
                         "training length." if not fixed else
                         f"{', '.join(fixed)} passes with longer training (our protocol failed there), the "
                         f"rest still fails (the claim fails at this scale there)."))
    else:
        experiment = ""
    steps = min(max_steps, TRAIN["epochs"] * -(-len(task.splits()["train"]) // TRAIN["batch_size"]))
    data["longer_training"] = {"factor": LONGER_FACTOR, "seed": seeds[0], "steps": LONGER_FACTOR * steps,
                               "smape": longer}
    data["seconds"] = time.time() - start
    summary = (
        f"m4-like ({num_series} series, H={H}): test sMAPE N-BEATS-G {g:.2f}, N-BEATS-I {i_:.2f} (means of "
        f"{len(seeds)} seeds) vs naive {table['naive'][0]:.2f}, seasonal naive {table['seasonal naive'][0]:.2f}, "
        f"Theta {table['theta'][0]:.2f}; MASE G {mean_of('N-BEATS-G', 1):.3f}, I {mean_of('N-BEATS-I', 1):.3f}, "
        f"Theta {table['theta'][1]:.3f}. On the first {ets_series} series: ETS {ets_subset:.2f}, G {g_subset:.2f}, "
        f"I {i_subset:.2f}. The interpretable model is {100 * (i_ / g - 1):+.1f}% in sMAPE from the generic one "
        f"and splits its forecast into a polynomial trend and a Fourier seasonality (decomposition.png). "
        f"forecast/goog (real, near random walk): N-BEATS-G test MSE {goog_mean:.3f} vs no-change "
        f"{goog_naive:.3f} -- {'better' if goog_mean < goog_naive else 'not better'} than the naive forecast. "
        f"Checks held on " + ", ".join(f"{n} of {len(seeds)} seeds ({c.name})" for n, c in zip(held, checks))
        + "." + experiment
    )
    run.record(
        "forecasting",
        claim="A deep stack of fully-connected blocks with backward/forward residual links beats statistical "
              "benchmarks on univariate forecasting, and its interpretable configuration gives trend/seasonality "
              "decomposition with little accuracy loss.",
        seeds=checked_seeds, checks=checks, summary=summary,
        setup=f"nbeats/m4-like, {num_series} series, H={H}, L={L}; G: 6 generic stacks width 256, theta L + H; I: "
              f"trend 3x64 + seasonality 3x256 shared; zoo.train {TRAIN['epochs']} epochs ({steps} steps), batch 256, "
              f"Adam 1e-3, MAE loss, "
              f"seeds {seeds}; statsmodels {statsmodels_release} Theta and damped Holt-Winters (first {ets_series} "
              f"series only: slow). Departures, forced by the CPU budget or the data: generated M4-like series "
              f"instead of M4; 6 x 256 generic and 64/256-wide interpretable stacks instead of 30 x 512 and "
              f"256/2048; {steps} steps at batch 256 instead of the paper's longer training at batch 1024; "
              f"one MAE-trained model per seed instead of an ensemble of 180 (3 losses x 6 lookbacks x 10 seeds).",
        table={"columns": ["method", "sMAPE", "MASE", f"sMAPE (first {ets_series})", f"MASE (first {ets_series})"],
               "rows": rows},
        paper={"source": "Oreshkin et al. 2019, Table 1 (M4, M3, TOURISM)",
               "statement": "N-BEATS-G and N-BEATS-I ensembles beat the Theta benchmark and the M4 winner; "
                            "N-BEATS-I is close to N-BEATS-G"},
        figures=["decomposition.png"],
        data=data,
    )
    print(summary)
