"""Reproduction for `decoding-regression` (Song and Bahri, Decoding-based Regression, 2025,
arXiv:2501.19383).

Claim: a causal decoder that emits the target as digit tokens, trained with cross entropy, is as
accurate as a regression head trained with the MSE on tabular regression, and can also represent
multimodal target densities, which an MSE head (a conditional mean) cannot.

Protocol, fixed before running:
- Data: the bundled `diabetes` (target standardised), `decoding-regression/make-regression`
  (sklearn make_regression, 1000 x 10, 5 informative, noise 10, standardised) and
  `decoding-regression/bimodal` (2000 points; y = f(x) +- 1 + N(0, 0.1^2), two conditional modes).
  Seeds 0, 1, 2 (data or split, initialisation, batch order, sampling).
- Models share the encoder (2 x 256 ReLU MLP): the decoder head (2-layer causal transformer, width
  64, 4 heads; normalized tokenization, base 10, 4 digits, y scaled by the training split's min and
  max), the same with the unnormalized tokenization (sign, exponent sign, 1 exponent digit, 4
  mantissa digits; tabular tables only, reported, not checked), and the MSE head (a linear layer).
  Same recipe: Adam lr 1e-3, batch 64, up to 100 epochs, early stopping on the validation value of
  each model's own objective (token cross entropy / MSE), patience 10, best epoch restored. The
  decoder's point prediction: the mean of its distribution from 64 samples per input (the median
  of 64 decoded samples is reported beside it, not checked).
- Metrics: test RMSE (tables); on bimodal, test negative log density (decoder: its histogram
  density; MSE head: a Gaussian at its prediction with the training residuals' RMS as std, the
  best a point head can state), and from 32 samples per test input the share lying within 0.3
  (3 noise std) of a true mode and the share at the upper mode; for the MSE head, the share of its
  predictions within 0.3 of a mode.
Checks (per seed, zoo.verdicts):
  1-2. diabetes, make-regression: decoder RMSE no more than 5% above the MSE head's;
  3. bimodal: decoder test NLL below the MSE head's Gaussian NLL;
  4. bimodal: the decoder's samples lie near a true mode at least 50 points more often than the
     MSE head's predictions do;
  5. bimodal: both modes are represented: |share of samples at the upper mode - 0.5| <= 0.15.
Control, fixed before running, for a table and seed where check 1 or 2 fails: the decoder trained
with 3x the epoch budget (300 epochs, patience 30) and its mean taken from 256 samples. If it then
passes, our short schedule / Monte Carlo error was to blame; if not, the claim fails there at this
scale.

    zoo reproduce decoding-regression --part repro
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

from .loop import fit
from .task import bimodal_modes

TABLES = ("diabetes", "decoding-regression/make-regression")
BIMODAL = "decoding-regression/bimodal"
RECIPE = {"lr": 1e-3, "batch_size": 64, "epochs": 100, "patience": 10}
ARMS = {"decoder": {"head": "decoder"}, "decoder (unnormalized)": {"head": "decoder", "tokenization": "unnormalized"},
        "MSE head": {"head": "mse"}}
TOLERANCE, NEAR, SAMPLES = 1.05, 0.3, 32


def build(task, seed: int, **options):
    y = task.splits()["train"].tensors[1]
    torch.manual_seed(seed)
    return zoo.create("decoding-regression", task=task, target_low=float(y.min()), target_high=float(y.max()),
                      **options)


def rmse(model, task) -> float:
    x, y = task.splits()["test"].tensors
    model.eval()
    with torch.no_grad():
        return float((model(x) - y).square().mean().sqrt())


def median_rmse(model, task, seed: int) -> float:
    """RMSE of the median of 64 decoded samples (robust to the heavy tails a sampled exponent can give)."""
    x, y = task.splits()["test"].tensors
    samples = model.sample(x, 64, torch.Generator().manual_seed(seed))
    return float((samples.median(-1).values - y[:, 0]).square().mean().sqrt())


def train_table(table: str, arm: str, seed: int, recipe: dict, **extra) -> dict:
    task = zoo.get_task(table, seed=seed)
    model = build(task, seed, **{**ARMS[arm], **extra})
    start = time.perf_counter()
    trained = fit(model, task, seed=seed, **recipe)
    entry = {"table": table, "arm": arm, "seed": seed, "rmse": rmse(model, task), **trained,
             "seconds": time.perf_counter() - start}
    if model.config.head == "decoder":
        entry["rmse_median"] = median_rmse(model, task, seed)
    return entry


def bimodal(seed: int, recipe: dict) -> dict:
    task = zoo.get_task(BIMODAL, seed=seed)
    (x_train, y_train), (x, y) = (task.splits()[s].tensors for s in ("train", "test"))
    modes = torch.from_numpy(bimodal_modes(x.numpy(), task.info.extra["gap"])).float()
    decoder, head = build(task, seed, head="decoder"), build(task, seed, head="mse")
    fit(decoder, task, seed=seed, **recipe)
    fit(head, task, seed=seed, **recipe)
    with torch.no_grad():
        nll_decoder = float(-decoder.log_density(x, y[:, 0]).mean())
        sigma = float((head(x_train) - y_train).square().mean().sqrt())
        point = head(x)
        nll_head = float((0.5 * ((y - point) / sigma) ** 2 + math.log(sigma * math.sqrt(2 * math.pi))).mean())
        samples = decoder.sample(x, SAMPLES, torch.Generator().manual_seed(seed))  # (n, SAMPLES)
    distance = (samples[..., None] - modes[:, None, :]).abs()  # (n, SAMPLES, 2)
    near = distance.min(-1).values < NEAR
    upper = near & (distance[..., 1] < distance[..., 0])
    head_near = (point - modes).abs().min(-1).values < NEAR
    from .task import bimodal_log_density

    oracle = float(-bimodal_log_density(x.numpy(), y.numpy()[:, 0], task.info.extra["gap"],
                                        task.info.extra["noise"]).mean())
    return {"seed": seed, "nll_decoder": nll_decoder, "nll_mse_head": nll_head, "nll_true_density": oracle,
            "near_mode_decoder": float(near.float().mean()), "near_mode_mse_head": float(head_near.float().mean()),
            "upper_share": float(upper.float().sum() / near.float().sum().clamp(min=1)), "mse_head_sigma": sigma,
            "rmse_decoder": rmse(decoder, task), "rmse_mse_head": rmse(head, task),
            "example": {"x": x[:3].tolist(), "modes": modes[:3].tolist(), "samples": samples[:3, :12].tolist(),
                        "mse_head": point[:3, 0].tolist()}}


def reproduce(run: Run) -> None:
    seeds = list(run.pick((0, 1, 2), (0,)))
    recipe = run.pick(RECIPE, {**RECIPE, "epochs": 2})
    torch.set_num_threads(1)
    start = time.time()
    runs, density = [], []
    for seed in seeds:
        for table in TABLES:
            for arm in ARMS:
                runs.append(train_table(table, arm, seed, recipe))
                print(f"seed {seed} {table} {arm}: RMSE {runs[-1]['rmse']:.4f} (best epoch "
                      f"{runs[-1]['best_epoch']}, {runs[-1]['seconds']:.0f}s)", flush=True)
        density.append(bimodal(seed, recipe))
        print(f"seed {seed} bimodal: { {k: v for k, v in density[-1].items() if k != 'example'} }", flush=True)
    by = {(r["table"], r["arm"], r["seed"]): r["rmse"] for r in runs}
    medians = {(r["table"], r["arm"], r["seed"]): r.get("rmse_median") for r in runs}
    checks = [Check(f"{table}: decoder RMSE no more than 5% above the MSE head's",
                    ours=[by[(table, "decoder", s)] for s in seeds], versus=[by[(table, "MSE head", s)] for s in seeds],
                    better="lower", factor=1.0 / TOLERANCE) for table in TABLES]  # lower: ours < versus / factor
    checks += [
        Check("bimodal: decoder test NLL below the MSE head's Gaussian NLL", ours=[d["nll_decoder"] for d in density],
              versus=[d["nll_mse_head"] for d in density], better="lower"),
        Check("bimodal: share of decoder samples within 0.3 of a true mode >= MSE head's share + 0.5",
              ours=[d["near_mode_decoder"] for d in density], versus=[d["near_mode_mse_head"] for d in density],
              better="higher", margin=0.5),
        Check("bimodal: both modes represented, |upper-mode share - 0.5| <= 0.15",
              ours=[abs(d["upper_share"] - 0.5) for d in density], versus=0.15, better="lower", margin=-1e-9),
    ]

    control = {}
    longer = {**recipe, "epochs": 3 * recipe["epochs"], "patience": 3 * recipe["patience"]}
    for table in TABLES:
        for seed in seeds:
            if by[(table, "decoder", seed)] < by[(table, "MSE head", seed)] * TOLERANCE:
                continue
            again = train_table(table, "decoder", seed, longer, samples=256)
            ok = again["rmse"] < by[(table, "MSE head", seed)] * TOLERANCE
            control[f"{table}, seed {seed}"] = {
                "decoder": by[(table, "decoder", seed)], "mse_head": by[(table, "MSE head", seed)],
                "decoder_3x_budget_256_samples": again["rmse"], "best_epoch": again["best_epoch"],
                "conclusion": ("within 5% with 3x the budget and 256 samples: our schedule / Monte Carlo error was "
                               "to blame" if ok else "still more than 5% worse with 3x the budget and 256 samples: the "
                               "claim fails there at this scale")}
            print("control", table, seed, control[f"{table}, seed {seed}"], flush=True)

    cell = lambda t, arm, s: (f"{by[(t, arm, s)]:.4g}" + (f" (median {medians[(t, arm, s)]:.4f})"  # noqa: E731
                                                           if medians[(t, arm, s)] is not None else ""))
    rows = [[s, t, *(cell(t, arm, s) for arm in ARMS), "", ""] for s in seeds for t in TABLES]
    rows += [[d["seed"], "bimodal", f"{d['rmse_decoder']:.4f}", "", f"{d['rmse_mse_head']:.4f}",
              f"{d['nll_decoder']:.3f} / {d['nll_mse_head']:.3f} / {d['nll_true_density']:.3f}",
              f"{d['near_mode_decoder']:.3f} / {d['near_mode_mse_head']:.3f} (upper {d['upper_share']:.2f})"]
             for d in density]
    mean = lambda xs: float(np.mean(xs))  # noqa: E731
    summary = " ".join(f"{t} (RMSE, mean of {len(seeds)} seeds): " + ", ".join(
        f"{arm} {mean([by[(t, arm, s)] for s in seeds]):.4g}" + (
            f" (median of samples {mean([medians[(t, arm, s)] for s in seeds]):.4f})" if arm != "MSE head" else "")
        for arm in ARMS) + "." for t in TABLES)
    summary += (f" Bimodal: test NLL decoder {mean([d['nll_decoder'] for d in density]):.3f} vs MSE head (Gaussian) "
                f"{mean([d['nll_mse_head'] for d in density]):.3f} (true density "
                f"{mean([d['nll_true_density'] for d in density]):.3f}); decoder samples within {NEAR} of a true mode "
                f"{mean([d['near_mode_decoder'] for d in density]):.3f} (upper-mode share "
                f"{mean([d['upper_share'] for d in density]):.2f}), MSE-head predictions "
                f"{mean([d['near_mode_mse_head'] for d in density]):.3f}.")
    if control:
        summary += " Control: " + "; ".join(f"{k}: {v['decoder']:.4f} -> {v['decoder_3x_budget_256_samples']:.4f} vs "
                                            f"MSE head {v['mse_head']:.4f}, {v['conclusion']}"
                                            for k, v in control.items()) + "."
    print(summary)
    run.record(
        "decoding-regression",
        claim="A causal decoder emitting digit tokens, trained with cross entropy, matches an MSE regression head on "
              "tabular regression and represents multimodal target densities that an MSE head cannot.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"Shared encoder 2 x 256 ReLU. Decoder: 2 causal transformer layers, width 64, 4 heads, normalized "
              f"tokens (base 10, 4 digits, min-max of the training targets); unnormalized arm: sign, exponent sign, "
              f"1 exponent digit, 4 mantissa digits. MSE head: linear. Adam lr {recipe['lr']}, batch "
              f"{recipe['batch_size']}, up to {recipe['epochs']} epochs, early stopping on each model's validation "
              f"objective (patience {recipe['patience']}), in a minimal loop calling the model's training_step "
              f"(zoo.train's per-epoch overhead was too slow). Point prediction: mean of 64 samples (each digit's "
              f"conditional expectation). Bimodal: NLL of the decoder's histogram density vs a Gaussian at the MSE "
              f"head's prediction with the training RMS as std; 32 samples per input, 'near a mode' = within "
              f"{NEAR}. Departures: small fixed sizes instead of the paper's tuned ones; generated and bundled data "
              f"instead of the paper's benchmark suites.",
        table={"columns": ["seed", "data", "RMSE decoder", "RMSE decoder (unnormalized)", "RMSE MSE head",
                           "NLL decoder / MSE head / true", "near a mode: decoder samples / MSE head"],
               "rows": rows},
        paper={"note": "The paper reports decoding-based regression as accurate as MSE-trained heads on tabular "
                       "regression benchmarks and able to fit arbitrary densities (density estimation)."},
        data={"runs": runs, "bimodal": density, "control": control or None, "seconds": time.time() - start},
    )
