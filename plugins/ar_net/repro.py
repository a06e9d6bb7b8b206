"""Reproduction for `ar-net` (Triebe, Laptev & Rajagopal, 2019, arXiv:1911.12436), Sec. 4.

Claim: AR-Net learns the same coefficients as least-squares AR (Classic-AR), and, with the sparsity
regulariser R(theta), recovers sparse AR coefficients without knowing the order.

Protocol, fixed before running:
- Data (the paper's setting, `ar-net/ar3` generator): per seed s (0, 1, 2) one stationary AR(3)
  process with random coefficients drawn as in the authors' generator, unit Gaussian noise, 100k
  training steps (the paper's 1e5), 12.5k validation and 12.5k test steps after them in time.
- Part 1, order known: window p = 3. AR-Net (one linear layer with intercept, no regularisation)
  trained with zoo.train: Adam, lr 1e-3, cosine schedule, batch 128, 10 epochs (the authors' code
  trains 10 epochs at batch 128). References on the same training rows: least squares with an
  intercept by numpy lstsq, and statsmodels AutoReg(lags=3, trend="c") (which must agree with it).
- Part 2, order unknown: window p = 100 (the paper's AR(3) in 100 lags), the same process. AR-Net
  with R(theta) (c1 = c2 = 3) and lambda = 0.02 (1 / s_hat - 1), s_hat = 3 / 100, rising linearly
  over the first half of training; same optimiser and length. Reference: least squares on the same
  100 lags. Control arm: the same AR-Net without the regulariser (it should land on least squares).
- Metric: the paper's sTPE = 100 sum|w_hat - w| / sum(|w_hat| + |w|) against the true coefficients.

Verdict rule (written before the first full run), checks per seed:
  1. order known: max_i |w_AR-Net,i - w_OLS,i| below the largest standard error of the OLS
     coefficients (AutoReg's bse): AR-Net's coefficients are statistically indistinguishable from
     Classic-AR's;
  2. order known: sTPE(AR-Net) no more than 1 point above sTPE(OLS);
  3. order unknown: sTPE(regularised AR-Net) below sTPE(OLS on the 100 lags);
  4. order unknown: the 3 largest |w| of the regularised AR-Net are exactly the 3 true lags (the
     share of true lags among them must be 1).
Each check: reproduced on all seeds, partially on some, not on none (zoo.verdicts).

Control, fixed before running, for a seed where check 4 fails: (a) the OLS t-statistic of each
missed lag on the 100-lag window (is it detectable from the data at all?); (b) the same regularised
AR-Net trained 2x longer (20 epochs). If (b) recovers the lag, our length is to blame; if not while
OLS detects the lag, the regulariser's lambda suppresses such small coefficients (the claim fails
there); if OLS cannot detect it either, no method could recover it from these data.

Departures: Adam with a cosine schedule at lr 1e-3 instead of the authors' learning-rate range test
and one-cycle policy (zoo.train has no one-cycle schedule); lambda's ramp is linear over half of
training (the authors' code ramps it too); one process per seed instead of the paper's many.

    zoo reproduce ar-net --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

ORDER, SPARSE_WINDOW = 3, 100
LR, BATCH, EPOCHS = 1e-3, 128, 10


def stpe(estimate: np.ndarray, true: np.ndarray) -> float:
    """The paper's symmetric total percentage error of coefficients (percent)."""
    return float(100 * np.abs(estimate - true).sum() / (np.abs(estimate).sum() + np.abs(true).sum() + 1e-12))


def least_squares(task) -> tuple[np.ndarray, np.ndarray]:
    """OLS coefficients (lag 1 first) with an intercept on the task's training rows, and their t-statistics."""
    x, y = (t.double().numpy() for t in task.splits()["train"].tensors)
    design = np.c_[x, np.ones(len(x))]
    beta, residual, *_ = np.linalg.lstsq(design, y[:, 0], rcond=None)
    sigma2 = float(residual[0]) / (len(x) - design.shape[1])
    se = np.sqrt(np.diag(np.linalg.inv(design.T @ design)) * sigma2)
    return beta[:-1], beta[:-1] / se[:-1]


def autoreg(task) -> tuple[np.ndarray, np.ndarray]:
    """statsmodels AutoReg on the same rows: coefficients (lag 1 first) and their standard errors."""
    from statsmodels.tsa.ar_model import AutoReg

    series = task.series[: task.window + task.sizes["train"]]
    fit = AutoReg(series, lags=task.window, trend="c").fit()
    return np.asarray(fit.params[1:]), np.asarray(fit.bse[1:])


def fit_arnet(task, seed: int, epochs: int, sparsity: float = 1.0) -> tuple[np.ndarray, dict, float]:
    torch.manual_seed(seed)
    model = zoo.create("ar-net", lags=task.window, sparsity=sparsity)
    start = time.perf_counter()
    result = zoo.train(model, task, optimizer="adam", lr=LR, batch_size=BATCH, epochs=epochs, schedule="cosine",
                       seed=seed, eval_splits=[], final_splits=["test"], progress=False)
    return model.coefficients().double().numpy(), result.final, time.perf_counter() - start


def _lists(entries: list[dict]) -> list[dict]:
    """The entries with numpy arrays as lists, for the JSON record."""
    return [{k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in e.items()} for e in entries]


def figure(run: Run, example: dict) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = "ar_net_sparse_coefficients.png"
    lags = np.arange(1, SPARSE_WINDOW + 1)
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    ax.plot(lags, example["ols"], "o", ms=3, color="tab:orange", label=f"least squares (sTPE {example['ols_stpe']:.1f})")
    ax.plot(lags, example["arnet"], "o", ms=3, color="tab:blue",
            label=f"AR-Net + R(theta) (sTPE {example['arnet_stpe']:.1f})")
    ax.plot(lags[:ORDER], example["true"][:ORDER], "kx", ms=8, label="true coefficients")
    ax.axhline(0, color="gray", lw=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("lag")
    ax.set_ylabel("coefficient")
    ax.set_title(f"AR(3) fitted through {SPARSE_WINDOW} lags (seed {example['seed']})", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(run.figure(name), dpi=110)
    plt.close(fig)
    return name


def reproduce(run: Run) -> None:
    seeds = list(run.pick((0, 1, 2), (0,)))
    epochs = run.pick(EPOCHS, 1)
    sizes = run.pick({}, {"train": 5000, "val": 500, "test": 500})
    torch.set_num_threads(1)
    start = time.time()
    from .task import ARProcessTask

    known, sparse, rows, example = [], [], [], None
    for seed in seeds:
        task = ARProcessTask(order=ORDER, window=ORDER, seed=seed, **sizes)
        true = task.coefficients
        ols, _ = least_squares(task)
        ar_params, ar_se = autoreg(task)
        net, final, seconds = fit_arnet(task, seed, epochs)
        known.append({"seed": seed, "true": true, "ols": ols, "autoreg": ar_params, "autoreg_se": ar_se,
                      "arnet": net, "max_diff": float(np.abs(net - ols).max()),
                      "autoreg_vs_lstsq": float(np.abs(ar_params - ols).max()), "tolerance": float(ar_se.max()),
                      "arnet_stpe": stpe(net, true), "ols_stpe": stpe(ols, true), "test_mse": final["test_mse"],
                      "seconds": seconds})
        print(f"seed {seed} p=3: AR-Net {np.round(net, 4)} OLS {np.round(ols, 4)} true {np.round(true, 4)} "
              f"max diff {known[-1]['max_diff']:.5f} (se {ar_se.max():.5f}) {seconds:.0f}s", flush=True)

        wide = ARProcessTask(order=ORDER, window=SPARSE_WINDOW, seed=seed, **sizes)
        assert np.allclose(wide.coefficients[:ORDER], true)
        ols_w, t_w = least_squares(wide)
        reg, reg_final, reg_seconds = fit_arnet(wide, seed, epochs, sparsity=ORDER / SPARSE_WINDOW)
        plain, plain_final, _ = fit_arnet(wide, seed, epochs)
        top = np.argsort(-np.abs(reg))[:ORDER]
        recovered = float(np.isin(top, np.arange(ORDER)).mean())
        entry = {"seed": seed, "true": wide.coefficients, "ols": ols_w, "ols_t": t_w, "arnet": reg, "plain": plain,
                 "arnet_stpe": stpe(reg, wide.coefficients), "ols_stpe": stpe(ols_w, wide.coefficients),
                 "plain_stpe": stpe(plain, wide.coefficients), "recovered": recovered,
                 "top_lags": (top + 1).tolist(), "max_spurious": float(np.abs(reg[ORDER:]).max()),
                 "max_spurious_ols": float(np.abs(ols_w[ORDER:]).max()),
                 "test_mse": reg_final["test_mse"], "ols_plain_test_mse": plain_final["test_mse"],
                 "seconds": reg_seconds}
        sparse.append(entry)
        print(f"seed {seed} p=100: sTPE AR-Net+R {entry['arnet_stpe']:.2f}, OLS {entry['ols_stpe']:.2f}, "
              f"AR-Net plain {entry['plain_stpe']:.2f}; top lags {entry['top_lags']}", flush=True)
        if example is None or entry["recovered"] < 1:
            example = entry

    checks = [
        Check("order known: max |AR-Net - OLS| coefficient difference < OLS's largest standard error",
              ours=[k["max_diff"] for k in known], versus=[k["tolerance"] for k in known], better="lower"),
        Check("order known: sTPE(AR-Net) <= sTPE(OLS) + 1 point", ours=[k["arnet_stpe"] for k in known],
              versus=[k["ols_stpe"] for k in known], better="lower", margin=-1.0),
        Check("order unknown (3 in 100 lags): sTPE(AR-Net + R) < sTPE(OLS)", ours=[s["arnet_stpe"] for s in sparse],
              versus=[s["ols_stpe"] for s in sparse], better="lower"),
        Check("order unknown: the 3 largest |w| are the 3 true lags (share recovered = 1)",
              ours=[s["recovered"] for s in sparse], versus=1.0, better="higher", margin=-1e-9),
    ]

    control = {}
    for entry in sparse:
        if entry["recovered"] >= 1:
            continue
        seed = entry["seed"]
        wide = ARProcessTask(order=ORDER, window=SPARSE_WINDOW, seed=seed, **sizes)
        longer, _, _ = fit_arnet(wide, seed, 2 * epochs, sparsity=ORDER / SPARSE_WINDOW)
        missed = [lag for lag in range(1, ORDER + 1) if lag not in entry["top_lags"]]
        top_longer = (np.argsort(-np.abs(longer))[:ORDER] + 1).tolist()
        t_missed = {lag: float(entry["ols_t"][lag - 1]) for lag in missed}
        recovered_longer = all(lag in top_longer for lag in missed)
        detectable = any(abs(t) > 3 for t in t_missed.values())
        control[str(seed)] = {
            "missed_lags": missed, "true_value": {lag: float(entry["true"][lag - 1]) for lag in missed},
            "ols_t_statistic": t_missed, "top_lags_2x_longer": top_longer, "arnet_2x_longer": longer.tolist(),
            "sTPE_2x_longer": stpe(longer, wide.coefficients),
            "conclusion": ("recovered with 2x longer training: our length is to blame" if recovered_longer else
                           "not recovered with 2x longer training while OLS detects a missed lag (|t| > 3): "
                           "the regulariser suppresses a coefficient this small" if detectable else
                           "not recovered, and OLS cannot detect the lag either (|t| <= 3): the data do not show it")}
        print("control", seed, control[str(seed)]["conclusion"], flush=True)

    for k, s in zip(known, sparse):
        rows.append([k["seed"], " ".join(f"{v:+.3f}" for v in k["true"]), " ".join(f"{v:+.4f}" for v in k["ols"]),
                     " ".join(f"{v:+.4f}" for v in k["arnet"]), f"{k['max_diff']:.5f} / {k['tolerance']:.5f}",
                     f"{k['arnet_stpe']:.2f} / {k['ols_stpe']:.2f}",
                     f"{s['arnet_stpe']:.2f} / {s['ols_stpe']:.2f} / {s['plain_stpe']:.2f}",
                     " ".join(map(str, s["top_lags"])), f"{s['max_spurious']:.4f} / {s['max_spurious_ols']:.4f}"])
    figure_name = figure(run, {k: example[k] for k in ("seed", "true", "ols", "arnet", "arnet_stpe", "ols_stpe")})
    mean = lambda xs: float(np.mean(xs))  # noqa: E731
    summary = (f"Order known (AR(3), 3 lags, {len(seeds)} seeds): AR-Net's coefficients differ from least squares by at "
               f"most {max(k['max_diff'] for k in known):.5f} (OLS standard errors {min(k['tolerance'] for k in known):.4f}"
               f"-{max(k['tolerance'] for k in known):.4f}); statsmodels AutoReg and numpy lstsq agree to "
               f"{max(k['autoreg_vs_lstsq'] for k in known):.1e}; sTPE AR-Net {mean([k['arnet_stpe'] for k in known]):.2f} "
               f"vs OLS {mean([k['ols_stpe'] for k in known]):.2f}. Order unknown (AR(3) through {SPARSE_WINDOW} lags): "
               f"sTPE of the regularised AR-Net {mean([s['arnet_stpe'] for s in sparse]):.2f} vs least squares "
               f"{mean([s['ols_stpe'] for s in sparse]):.2f} (AR-Net without R(theta): "
               f"{mean([s['plain_stpe'] for s in sparse]):.2f}, i.e. least squares again); the 3 largest weights are the "
               f"true lags on {sum(s['recovered'] >= 1 for s in sparse)} of {len(seeds)} seeds.")
    if control:
        summary += " Control: " + "; ".join(f"seed {s}: lag(s) {c['missed_lags']} (true {c['true_value']}, OLS t "
                                            f"{ {k: round(v, 1) for k, v in c['ols_t_statistic'].items()} }) "
                                            f"{c['conclusion']}" for s, c in control.items()) + "."
    print(summary)
    run.record(
        "ar-net",
        claim="AR-Net learns the same coefficients as least-squares AR and, with sparsity regularization, recovers "
              "sparse AR coefficients without knowing the order (Sec. 4).",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"Per seed one AR(3) process (authors' generator, unit noise), {sizes.get('train', 100000)} training "
              f"steps. AR-Net: zoo.train, Adam lr {LR}, cosine schedule, batch {BATCH}, {epochs} epochs. Order known: "
              f"3 lags, no regulariser, vs numpy lstsq and statsmodels AutoReg(trend='c') on the same rows. Order "
              f"unknown: {SPARSE_WINDOW} lags, R(theta) with c1 = c2 = 3, lambda = 0.02 (1/s_hat - 1), s_hat = 3/100, "
              f"linear ramp over the first half; control arm without R(theta). Rule (fixed before running): "
              f"max coefficient difference to OLS < OLS's largest standard error; sTPE(AR-Net) <= sTPE(OLS) + 1; "
              f"sparse sTPE(AR-Net + R) < sTPE(OLS); the 3 largest weights are the true lags. Control for a missed "
              f"lag: its OLS t-statistic, and 2x longer training. Departures: Adam + cosine instead of the authors' "
              f"LR range test and one-cycle policy; one process per seed.",
        table={"columns": ["seed", "true a1..a3", "OLS (3 lags)", "AR-Net (3 lags)", "max diff / OLS se",
                           "sTPE AR-Net / OLS (3 lags)", "sTPE AR-Net+R / OLS / AR-Net (100 lags)",
                           "top-3 lags (AR-Net+R)", "max spurious |w| AR-Net+R / OLS"], "rows": rows},
        paper={"note": "Sec. 4 / Fig. 3-5: AR-Net and Classic-AR reach the same sTPE when the order is known; with "
                       "the order unknown (e.g. AR(3) in 100 lags) AR-Net with regularisation has a much lower sTPE "
                       "than Classic-AR, whose spurious coefficients grow with p."},
        figures=[figure_name],
        data={"known": _lists(known), "sparse": _lists(sparse), "control": control or None, "epochs": epochs,
              "seconds": time.time() - start},
    )
