"""Reproduction for `snnk` (Sehanobish, Choromanski, Zhao, Dubey & Likhosherstov, ICLR 2024,
arXiv:2310.13225).

Claim: SNNK layers approximate regular feed-forward layers, and networks built with them reach
competitive accuracy with several-fold fewer trainable parameters.

Protocol, fixed before running:
- Kernel approximation (per seed s, float64): 64 inputs x ~ U[-1,1]^16 scaled by 1/4 (the layer's
  1/sqrt(d)), a regular layer W (32 x 16, entries N(0, 0.5^2/16)), b ~ N(0, 0.5^2), f = cos;
  relative RMS error of phi(x)^T Psi(W, b) against the exact f(W x + b) for m = 16, 256, 4096
  random features (fresh draws from seed s).
- Networks, f = cos, hidden width 64, linear read-out: (a) SNNK layer with m = 16 random features
  (the trained layer is 16 x 64 against the regular layer's 65 x 64 on digits: 4x fewer); (b) the
  same with m = 32; (c) the regular feed-forward network f(W x + b); (d) the regular network narrowed
  to the parameter count of (a), for reference.
- Tasks: `digits` (the built-in split of seed s) and `snnk/teacher` (generated regression, 32
  inputs, seed s). Training identical for every arm: zoo.train, Adam, lr 3e-3, batch 64, cosine
  schedule, 40 epochs; seeds 0, 1, 2.
Checks per seed:
  1. kernel: the relative RMS error at m = 4096 is below 0.05 (an unbiased estimator at 1/sqrt(m));
  2. digits: SNNK (m = 16) accuracy at least the regular network's - 0.02 ("competitive");
  3. snnk/teacher: SNNK (m = 16) test RMSE below 1.1 x the regular network's;
  (the parameter ratio regular / SNNK is reported, fixed by construction).
Control, fixed before running, for the first seed where check 2 or 3 fails: SNNK with m = 16 trained
3x longer, and SNNK with m = 64 (no parameter saving on digits) at the protocol's length. If the
longer run matches, our training length is to blame (our protocol fails); if only m = 64 matches,
the accuracy needs as many features as the savings give away (the claim fails at this scale); if
neither, the random-feature layer falls short here (the claim fails at this scale).

    zoo reproduce snnk --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds

from .model import kernel_approximation

HIDDEN, LR, BATCH, EPOCHS = 64, 3e-3, 64, 40
TASKS = {"digits": "test_accuracy", "snnk/teacher": "test_rmse"}
KERNEL_FEATURES = (16, 256, 4096)


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def kernel_errors(seed: int) -> dict[int, float]:
    """Relative RMS error of the URF estimate of cos(W x + b) for each feature count."""
    generator = torch.Generator().manual_seed(seed)
    x = (torch.rand(64, 16, generator=generator, dtype=torch.float64) * 2 - 1) / 4
    weight = torch.randn(32, 16, generator=generator, dtype=torch.float64) * 0.5 / 4
    bias = torch.randn(32, generator=generator, dtype=torch.float64) * 0.5
    errors = {}
    for m in KERNEL_FEATURES:
        estimate, exact = kernel_approximation(x, weight, bias, m, "cos", generator)
        errors[m] = float((estimate - exact).pow(2).mean().sqrt() / exact.pow(2).mean().sqrt())
    return errors


def arms(task: str) -> dict[str, dict]:
    snnk = zoo.create("snnk", task=task, hidden_dim=HIDDEN, features=16)
    d_in, d_out = snnk.config.input_dim, snnk.config.output_dim
    narrow = max(1, round((n_params(snnk) - d_out) / (d_in + 1 + d_out)))  # h (d + 1) + d_out (h + 1) params
    return {"SNNK, m=16": {"features": 16, "hidden_dim": HIDDEN},
            "SNNK, m=32": {"features": 32, "hidden_dim": HIDDEN},
            "regular": {"layer": "regular", "hidden_dim": HIDDEN},
            "regular, SNNK's params": {"layer": "regular", "hidden_dim": narrow}}


def fit(task: str, options: dict, seed: int, epochs: int) -> dict:
    torch.manual_seed(seed)
    model = zoo.create("snnk", task=task, **options)
    start = time.perf_counter()
    result = zoo.train(model, task, task_options={"seed": seed}, optimizer="adam", lr=LR, batch_size=BATCH,
                       epochs=epochs, schedule="cosine", seed=seed, eval_splits=[], final_splits=["test"],
                       progress=False)
    return {"metric": float(result.final[TASKS[task]]), "params": n_params(model),
            "seconds": time.perf_counter() - start}


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    seeds = list(run.pick((0, 1, 2), (0,)))
    epochs = run.pick(EPOCHS, 2)
    start = time.time()
    kernel = [kernel_errors(seed) for seed in seeds]
    print("kernel", kernel, flush=True)
    results = {}
    for task in TASKS:
        for name, options in arms(task).items():
            for seed in seeds:
                results.setdefault(task, {}).setdefault(name, []).append(fit(task, options, seed, epochs))
            print(task, name, [round(r["metric"], 4) for r in results[task][name]], results[task][name][0]["params"],
                  flush=True)

    def metric(task, name):
        return [r["metric"] for r in results[task][name]]

    ratio = {t: results[t]["regular"][0]["params"] / results[t]["SNNK, m=16"][0]["params"] for t in TASKS}
    checks = [
        Check("kernel: relative RMS error of phi(x)^T Psi(W, b) against cos(W x + b) below 0.05 at m = 4096",
              ours=[k[4096] for k in kernel], versus=0.05, better="lower"),
        Check(f"digits: SNNK (m=16, {ratio['digits']:.1f}x fewer parameters) accuracy at least the regular network's "
              f"- 0.02", ours=metric("digits", "SNNK, m=16"), versus=metric("digits", "regular"), better="higher",
              margin=-0.02),
        Check(f"snnk/teacher: SNNK (m=16, {ratio['snnk/teacher']:.1f}x fewer parameters) test RMSE below 1.1x the "
              f"regular network's", ours=metric("snnk/teacher", "SNNK, m=16"), versus=metric("snnk/teacher", "regular"),
              better="lower", factor=1 / 1.1),
    ]

    control = None
    for check, task in zip(checks[1:], TASKS):
        failing = failing_seeds(seeds, [check])
        if failing and not run.quick and control is None:
            seed = failing[0]
            regular = results[task]["regular"][seeds.index(seed)]["metric"]
            longer = fit(task, {"features": 16, "hidden_dim": HIDDEN}, seed, 3 * epochs)["metric"]
            more = fit(task, {"features": 64, "hidden_dim": HIDDEN}, seed, epochs)["metric"]
            longer_ok, more_ok = check.holds(longer, regular), check.holds(more, regular)
            control = {"task": task, "seed": seed, "regular": regular, "m16_3x_epochs": longer, "m64": more,
                       "longer_matches": longer_ok, "m64_matches": more_ok,
                       "conclusion": "3x longer training matches: our training length was to blame (our protocol "
                                     "fails)" if longer_ok else
                                     "only m = 64 features match, which gives the parameter savings away: the claim "
                                     "fails at this scale" if more_ok else
                                     "neither longer training nor m = 64 matches the regular network: the claim fails "
                                     "at this scale"}
            print("control", control, flush=True)

    rows = [["kernel (cos)", f"m = {m}", "", " ".join(f"{k[m]:.4f}" for k in kernel),
             f"{np.mean([k[m] for k in kernel]):.4f}", ""] for m in KERNEL_FEATURES]
    for task, by_arm in results.items():
        for name, rs in by_arm.items():
            vals = [r["metric"] for r in rs]
            rows.append([task, name, rs[0]["params"], " ".join(f"{v:.4f}" for v in vals), f"{np.mean(vals):.4f}",
                         f"{np.mean([r['seconds'] for r in rs]):.1f}"])
    mean = lambda task, name: float(np.mean(metric(task, name)))  # noqa: E731
    summary = (f"Seeds {seeds}. Kernel: relative RMS error of the URF estimate of cos(W x + b) "
               + ", ".join(f"{np.mean([k[m] for k in kernel]):.4f} at m = {m}" for m in KERNEL_FEATURES)
               + f" (falling as 1/sqrt(m)). digits accuracy: SNNK m=16 {mean('digits', 'SNNK, m=16'):.4f} "
               f"({results['digits']['SNNK, m=16'][0]['params']} trainable parameters), m=32 "
               f"{mean('digits', 'SNNK, m=32'):.4f}, regular {mean('digits', 'regular'):.4f} "
               f"({results['digits']['regular'][0]['params']}), regular narrowed to SNNK's parameters "
               f"{mean('digits', 'regular, SNNK' + chr(39) + 's params'):.4f}. snnk/teacher RMSE: SNNK m=16 "
               f"{mean('snnk/teacher', 'SNNK, m=16'):.4f}, m=32 {mean('snnk/teacher', 'SNNK, m=32'):.4f}, regular "
               f"{mean('snnk/teacher', 'regular'):.4f}, narrowed regular "
               f"{mean('snnk/teacher', 'regular, SNNK' + chr(39) + 's params'):.4f}.")
    if control:
        summary += (f" Control ({control['task']}, seed {control['seed']}): SNNK m=16 with 3x the epochs "
                    f"{control['m16_3x_epochs']:.4f}, m=64 {control['m64']:.4f}, regular {control['regular']:.4f}; "
                    f"{control['conclusion']}.")
    print(summary)
    run.record(
        "snnk",
        claim="SNNK layers approximate regular feed-forward layers with several-fold fewer trainable parameters at "
              "competitive accuracy.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"f = cos; URFs: phi_k(x) = exp(omega_k^T x - |x|^2/2)/sqrt(m), psi_k(w, b) = exp(|w|^2/2) "
              f"cos(omega_k^T w + b)/sqrt(m); inputs scaled by 1/sqrt(d). Networks: x -> layer (hidden {HIDDEN}) -> "
              f"linear read-out; the SNNK layer trains only its m x {HIDDEN} matrix, initialised to Psi(W0, b0). "
              f"zoo.train, Adam lr {LR}, batch {BATCH}, cosine, {epochs} epochs, same for every arm. Tolerances "
              f"fixed before running: accuracy within 0.02, RMSE within 10%. Departures: the paper evaluates SNNK "
              f"layers as adapters in pretrained Transformers and in small image / UCI networks; here a single "
              f"layer in a small network on digits and a generated regression; f = cos, one of the activations "
              f"with closed-form URFs (ReLU/GELU instantiations not built).",
        table={"columns": ["task", "arm", "trainable params", "per seed", "mean", "train s (mean)"], "rows": rows},
        paper={"note": "The paper reports up to 5x fewer trainable parameters than regular layers / adapters at "
                       "competitive accuracy (e.g. GLUE fine-tuning with SNNK-inspired adapters), and accurate "
                       "point-wise kernel estimates."},
        data={"kernel": [{str(m): e for m, e in k.items()} for k in kernel], "results": results,
              "param_ratio": ratio, "control": control, "seconds": time.time() - start},
    )
