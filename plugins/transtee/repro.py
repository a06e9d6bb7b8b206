"""Reproduction for `transtee` (Zhang et al., 2022, "Exploring Transformer Backbones for
Heterogeneous Treatment Effect Estimation").

Claim: a transformer treatment-effect estimator gives lower effect-estimation error than MLP-based
TEE models, including for continuous treatments.

Protocol, fixed before running:
- Data (generated, `task.py`): per seed s (0, 1, 2) fresh draws of `transtee/binary` (10
  covariates, two confounded arms, heterogeneous effect; 1000 train / 300 val / 1000 test units)
  and `transtee/dosage` (6 covariates, confounded dosage in [0, 1], VCNet-style dose-response;
  same sizes). Noise std 0.5, confounding 1.
- Models: TransTEE (default config: width 64, 2 heads, 1 encoder and 1 decoder layer, propensity
  head with weight 0.5), against TARNet (binary) and VCNet (dosage, density head alpha 0.5), the
  MLP estimators of the paper's tables, widened to about TransTEE's parameter count (TARNet
  hidden 160, VCNet hidden 120) so that capacity is not the difference.
- Training, identical for every arm: zoo.train, AdamW lr 1e-3, batch 128, 20 epochs, seed s,
  factual-outcome MSE (+ the propensity / density NLL for the arms that have that head).
- Metrics on the test units: sqrt-PEHE and |ATE error| (binary); AMSE of the average
  dose-response curve on 33 dosages, and MISE (dosage).

Checks per seed: sqrt-PEHE(TransTEE) < sqrt-PEHE(TARNet); AMSE(TransTEE) < AMSE(VCNet).

Control, fixed before running: on a seed where a check fails, both arms of that setting are
trained again 2x longer (40 epochs). If TransTEE then wins, our training length was to blame
("our protocol fails"); if it still loses, "the claim fails at this scale".

    zoo reproduce transtee --part repro --out plugins/transtee
"""

from __future__ import annotations

import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

LR, BATCH, EPOCHS = 1e-3, 128, 20
TARNET_HIDDEN, VCNET_HIDDEN = 160, 120


def parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def fit(setting: str, arm: str, task, seed: int, epochs: int) -> tuple[dict, int, float]:
    from .baselines import TARNet, VCNet
    from .task import effect_errors

    torch.manual_seed(seed)
    if arm == "transtee":
        model = zoo.create("transtee", task=task)
    elif setting == "binary":
        model = TARNet(task.info.extra["covariates"], TARNET_HIDDEN)
    else:
        model = VCNet(task.info.extra["covariates"], VCNET_HIDDEN)
    start = time.perf_counter()
    zoo.train(model, task, optimizer="adamw", lr=LR, batch_size=BATCH, epochs=epochs, seed=seed, eval_splits=[],
              final_splits=[], progress=False)
    return effect_errors(model, task), parameters(model), time.perf_counter() - start


def reproduce(run: Run) -> None:
    seeds = list(run.pick((0, 1, 2), (0,)))
    epochs = run.pick(EPOCHS, 1)
    sizes = run.pick({}, {"train": 200, "val": 50, "test": 200})
    torch.set_num_threads(1)
    start = time.time()
    baseline = {"binary": "tarnet", "dosage": "vcnet"}
    metric = {"binary": "sqrt_pehe", "dosage": "amse"}
    results = {s: {arm: [] for arm in ("transtee", baseline[s])} for s in baseline}
    params, rows = {}, []
    for seed in seeds:
        for setting in ("binary", "dosage"):
            task = zoo.get_task(f"transtee/{setting}", seed=seed, **sizes)
            for arm in results[setting]:
                errors, count, seconds = fit(setting, arm, task, seed, epochs)
                results[setting][arm].append(errors)
                params[arm] = count
                print(seed, setting, arm, errors, f"{seconds:.0f}s", flush=True)
            ours, theirs = (results[setting][a][-1] for a in results[setting])
            rows.append([seed, setting, *(f"{v:.4f}" for v in ours.values()), *(f"{v:.4f}" for v in theirs.values())])

    checks = [
        Check("binary: sqrt-PEHE of TransTEE < TARNet's", ours=[e["sqrt_pehe"] for e in results["binary"]["transtee"]],
              versus=[e["sqrt_pehe"] for e in results["binary"]["tarnet"]], better="lower"),
        Check("dosage: AMSE of TransTEE < VCNet's", ours=[e["amse"] for e in results["dosage"]["transtee"]],
              versus=[e["amse"] for e in results["dosage"]["vcnet"]], better="lower"),
    ]
    control = {}
    for setting, m in metric.items():
        for i, seed in enumerate(seeds):
            ours, theirs = (results[setting][a][i][m] for a in results[setting])
            if ours < theirs:
                continue
            task = zoo.get_task(f"transtee/{setting}", seed=seed, **sizes)
            longer = {arm: fit(setting, arm, task, seed, 2 * epochs)[0] for arm in results[setting]}
            won = longer["transtee"][m] < longer[baseline[setting]][m]
            control[f"{setting}, seed {seed}"] = {
                "errors_2x_longer": longer, "transtee_wins_2x_longer": won,
                "conclusion": ("TransTEE wins with 2x longer training: our training length was to blame" if won else
                               "TransTEE still loses with 2x longer training: the claim fails at this scale")}
            print("control", setting, seed, control[f"{setting}, seed {seed}"], flush=True)

    mean = lambda setting, arm, key: float(np.mean([e[key] for e in results[setting][arm]]))  # noqa: E731
    summary = (f"{len(seeds)} seeds, {epochs} epochs each. Binary treatment: sqrt-PEHE TransTEE "
               f"{mean('binary', 'transtee', 'sqrt_pehe'):.3f} vs TARNet {mean('binary', 'tarnet', 'sqrt_pehe'):.3f}"
               f" (ATE error {mean('binary', 'transtee', 'ate_error'):.3f} vs "
               f"{mean('binary', 'tarnet', 'ate_error'):.3f})."
               f" Continuous dosage: AMSE TransTEE {mean('dosage', 'transtee', 'amse'):.4f} vs VCNet "
               f"{mean('dosage', 'vcnet', 'amse'):.4f} (MISE {mean('dosage', 'transtee', 'mise'):.4f} vs "
               f"{mean('dosage', 'vcnet', 'mise'):.4f}). Parameters: TransTEE {params.get('transtee', 0):,}, TARNet "
               f"{params.get('tarnet', 0):,}, VCNet {params.get('vcnet', 0):,}.")
    if control:
        summary += " Control: " + "; ".join(f"{k}: {v['conclusion']}" for k, v in control.items()) + "."
    print(summary)
    run.record(
        "transtee",
        claim="A transformer treatment-effect estimator (TransTEE) gives lower effect-estimation error than MLP-based "
              "TEE models (TARNet for discrete, VCNet for continuous treatments).",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"Generated data per seed (transtee/binary: 10 covariates, 2 confounded arms; transtee/dosage: 6 "
              f"covariates, confounded dosage; {sizes or '1000/300/1000'} train/val/test units, noise 0.5). "
              f"TransTEE default config (width 64, 2 heads, 1+1 layers, propensity weight 0.5); TARNet hidden "
              f"{TARNET_HIDDEN}; VCNet hidden {VCNET_HIDDEN} (truncated power basis, degree 2, knots 1/3, 2/3; density "
              f"head alpha 0.5). zoo.train AdamW lr {LR}, batch {BATCH}, {epochs} epochs, same for all arms. Metrics "
              f"on test units: sqrt-PEHE, ATE error, AMSE (33 dosages), MISE. Control for a failed seed: both arms "
              f"2x longer. Departures: our own simulations instead of IHDP/News/TCGA; no targeted regularisation "
              f"(TR/PTR) on either side; baselines widened to TransTEE's parameter count.",
        table={"columns": ["seed", "setting", "TransTEE sqrt-PEHE / AMSE", "TransTEE ATE error / MISE",
                           "TARNet or VCNet sqrt-PEHE / AMSE", "TARNet or VCNet ATE error / MISE"],
               "rows": rows},
        paper={"note": "Paper Tables 2-4: TransTEE lowers sqrt-PEHE / AMSE against TARNet, DRNet and VCNet on IHDP, "
                       "News and the simulated continuous-dosage benchmarks, with fewer parameters."},
        data={"results": results, "parameters": params, "control": control or None, "epochs": epochs,
              "seconds": time.time() - start},
    )
