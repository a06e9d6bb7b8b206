"""Reproduction for `adc-gan` (Hou et al., 2021, arXiv:2107.10060): the class-overlapping 1D
Gaussian mixture (the synthetic experiment the paper takes from TAC-GAN).

Claim: a generator-aware auxiliary discriminative classifier keeps intra-class diversity where
AC-GAN collapses, while still learning the class-conditional distribution.

Protocol, fixed before running:
- Task `adc-gan/overlap1d`: classes N(0, 1), N(3, 2^2), N(6, 3^2), 128000 training samples each.
- Models: `adc-gan` (loss adc) and its `acgan` variant (loss ac), identical otherwise: the
  paper's synthetic networks (G: [z (2-d Gaussian) || label embedding] -> tanh 10 -> tanh 10 ->
  1; D: three tanh layers of 10 with an adversarial and a classifier head, N(0, 0.02^2) init),
  lambda 1, Adam lr 2e-3, betas (0.5, 0.999), batch 256, seeds 0, 1, 2 (init, data order, noise).
- Length: 5000 discriminator steps with a generator step every 2 (2500 generator steps). The
  paper's setting (TAC-GAN's code) is 30000 discriminator steps with a generator step every 10
  (3000 generator steps); that is 6x the budget here, and keeping 1-in-10 at 5000 steps would
  leave the generator 500 updates, so the ratio is 1-in-2 and the generator gets about as many
  updates as in the paper.
- Evaluation: 20000 generated samples per class. Per class: the Wasserstein-1 distance to the
  class's Gaussian (exact quantile function), and the ratio of generated to true std.
  The Bayes classifier argmax_y N(x; mu_y, s_y^2) labels the (sample, requested label) pairs; on
  real data it is right about 70% of the time (the classes overlap), so a generator that learned
  p(x|y) scores about that, and one that pushes classes apart scores more.

Checks (zoo.verdicts, per seed), written before the first run:
  1. mean per-class W1: ADC-GAN < AC-GAN (closer to the class-conditional distributions);
  2. intra-class diversity, mean over classes of |std_generated / std_real - 1|: ADC-GAN < AC-GAN;
  3. ADC-GAN learns the classes: |Bayes accuracy on its samples - on real data| < 0.05.

Control, fixed before running: if a check fails on some seed, ADC-GAN is trained again on the first
such seed for twice the steps (10000), and the failing check recomputed against the same AC-GAN
run: if it then holds, our length is to blame, otherwise the claim fails at this scale.

    zoo reproduce adc-gan --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds
from zoo_plugins.adc_gan.task import MEANS, STDS, bayes_labels, class_w1, real_label_accuracy

BATCH, LR, K_STEPS = 256, 2e-3, 2
STEPS = 5000
CONTROL_FACTOR = 2
PER_CLASS = 20000
LOSSES = {"ADC-GAN": "adc", "AC-GAN": "ac"}


def train_one(task, loss: str, seed: int, steps: int) -> tuple[torch.nn.Module, float]:
    torch.manual_seed(seed)
    model = zoo.create("adc-gan", task=task, loss=loss, k_steps=K_STEPS)
    start = time.time()
    zoo.train(model, task, max_steps=steps, epochs=1000, batch_size=BATCH, lr=LR, seed=seed, eval_splits=[],
              progress=False)
    return model, time.time() - start


@torch.no_grad()
def measure(model, seed: int, per_class: int) -> dict:
    torch.manual_seed(1000 + seed)
    labels = torch.arange(len(MEANS)).repeat_interleave(per_class)
    x = model.eval().sample(labels).reshape(-1)
    w1 = [class_w1(x[labels == k], MEANS[k], STDS[k]) for k in range(len(MEANS))]
    std = [float(x[labels == k].std()) for k in range(len(MEANS))]
    mean = [float(x[labels == k].mean()) for k in range(len(MEANS))]
    return {"w1": w1, "w1_mean": float(np.mean(w1)), "std": std, "mean": mean,
            "diversity_error": float(np.mean([abs(s / t - 1) for s, t in zip(std, STDS)])),
            "label_accuracy": float((bayes_labels(x) == labels).double().mean()),
            "samples": x[:: max(1, per_class // 4000)].numpy(), "sample_labels": labels[:: max(1, per_class // 4000)].numpy()}


def figure(run: Run, seed0: dict) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    name = "adc_gan_overlap1d.png"
    grid = np.linspace(-8, 16, 400)
    colors = ("tab:blue", "tab:orange", "tab:green")
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), sharey=True)
    for k, color in enumerate(colors):
        axes[0].plot(grid, norm.pdf(grid, MEANS[k], STDS[k]), color=color, label=f"class {k}")
    axes[0].set_title("real p(x|y)", fontsize=9)
    for ax, model in zip(axes[1:], ("AC-GAN", "ADC-GAN")):
        m = seed0[model]
        for k, color in enumerate(colors):
            ax.hist(m["samples"][m["sample_labels"] == k], bins=80, range=(-8, 16), density=True, alpha=0.45,
                    color=color)
            ax.plot(grid, norm.pdf(grid, MEANS[k], STDS[k]), color=color, lw=0.8, ls=":")
        ax.set_title(f"{model} samples per class (seed 0), mean W1 {m['w1_mean']:.2f}", fontsize=9)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(run.figure(name), dpi=110)
    plt.close(fig)
    return name


def reproduce(run: Run) -> None:
    seeds = list(run.pick((0, 1, 2), (0,)))
    steps = run.pick(STEPS, 100)
    per_class = run.pick(PER_CLASS, 2000)
    torch.set_num_threads(1)
    start = time.time()
    task = zoo.get_task("adc-gan/overlap1d", **run.pick({}, {"n_per_class": 2000}))
    real_accuracy = real_label_accuracy(n=600000)
    results = {}
    for seed in seeds:
        for name, loss in LOSSES.items():
            model, seconds = train_one(task, loss, seed, steps)
            results[(name, seed)] = {**measure(model, seed, per_class), "seconds": seconds}
            r = results[(name, seed)]
            print(f"{name} seed {seed}: W1 {np.round(r['w1'], 3).tolist()} std {np.round(r['std'], 2).tolist()} "
                  f"label accuracy {r['label_accuracy']:.3f} ({seconds:.0f}s)", flush=True)

    def values(name, key):
        return [results[(name, s)][key] for s in seeds]

    checks = [
        Check("mean per-class W1 to the true p(x|y): ADC-GAN < AC-GAN", ours=values("ADC-GAN", "w1_mean"),
              versus=values("AC-GAN", "w1_mean"), better="lower"),
        Check("intra-class diversity error mean |std_gen/std_real - 1|: ADC-GAN < AC-GAN",
              ours=values("ADC-GAN", "diversity_error"), versus=values("AC-GAN", "diversity_error"), better="lower"),
        Check("ADC-GAN learns the classes: |Bayes accuracy on its samples - on real data| < 0.05",
              ours=[abs(a - real_accuracy) for a in values("ADC-GAN", "label_accuracy")], versus=0.05,
              better="lower"),
    ]
    control = None
    failing = [(check, s) for check in checks for s in failing_seeds(seeds, [check])]
    if failing:
        check, seed = failing[0]
        model, seconds = train_one(task, "adc", seed, CONTROL_FACTOR * steps)
        longer = measure(model, seed, per_class)
        index = checks.index(check)
        ours = [longer["w1_mean"], longer["diversity_error"], abs(longer["label_accuracy"] - real_accuracy)][index]
        versus = [results[("AC-GAN", seed)]["w1_mean"], results[("AC-GAN", seed)]["diversity_error"], 0.05][index]
        holds = check.holds(ours, versus)
        control = {"check": check.name, "seed": seed, "steps": CONTROL_FACTOR * steps, "ours": ours,
                   "versus": versus, "holds": holds, "seconds": seconds,
                   "w1": longer["w1"], "std": longer["std"], "label_accuracy": longer["label_accuracy"],
                   "conclusion": ("holds with twice the steps: our length is to blame" if holds else
                                  "still fails with twice the steps: the claim fails at this scale")}
        print("control:", control["conclusion"], flush=True)

    rows = []
    for name in LOSSES:
        for s in seeds:
            r = results[(name, s)]
            rows.append([name, s] + [f"{v:.3f}" for v in r["w1"]] + [f"{r['w1_mean']:.3f}"]
                        + [", ".join(f"{v:.2f}" for v in r["std"]), f"{r['diversity_error']:.3f}",
                           f"{r['label_accuracy']:.3f}"])
    figure_name = figure(run, {name: results[(name, seeds[0])] for name in LOSSES})
    mean = {(n, k): float(np.mean(values(n, k))) for n in LOSSES for k in ("w1_mean", "diversity_error", "label_accuracy")}
    summary = (f"Class-overlapping 1D mixture, {steps} discriminator steps (a generator step every {K_STEPS}), "
               f"means of {len(seeds)} seeds: mean per-class W1 ADC-GAN {mean[('ADC-GAN', 'w1_mean')]:.3f} vs AC-GAN "
               f"{mean[('AC-GAN', 'w1_mean')]:.3f}; diversity error |std ratio - 1| {mean[('ADC-GAN', 'diversity_error')]:.3f}"
               f" vs {mean[('AC-GAN', 'diversity_error')]:.3f}; Bayes label accuracy on samples "
               f"{mean[('ADC-GAN', 'label_accuracy')]:.3f} (ADC-GAN) and {mean[('AC-GAN', 'label_accuracy')]:.3f} "
               f"(AC-GAN) against {real_accuracy:.3f} on real data (AC-GAN's excess is the collapse: its classes are "
               f"pushed apart and narrowed; per-class stds in the table, true 1, 2, 3).")
    if control:
        summary += (f" Control ({control['check']} failed on seed {control['seed']}): ADC-GAN with {control['steps']} "
                    f"steps gives {control['ours']:.3f} against {control['versus']:.3f}: {control['conclusion']}.")
    run.record(
        "adc_gan",
        claim="A generator-aware auxiliary discriminative classifier keeps intra-class diversity where AC-GAN collapses, "
              "while still learning the class-conditional distribution.",
        seeds=seeds, checks=checks, summary=summary,
        setup=(f"Task adc-gan/overlap1d (N(0,1), N(3,2^2), N(6,3^2), {task.n_per_class} training samples per class). "
               f"ADC-GAN vs AC-GAN (its classifier on real data only, as in the authors' code), same networks (G: "
               f"z in R^2 + label embedding -> tanh 10 -> tanh 10 -> 1; D: 3 tanh layers of 10, adversarial and "
               f"classifier heads, N(0, 0.02^2) init), lambda 1, Adam lr {LR} betas (0.5, 0.999), batch {BATCH}, "
               f"{steps} D steps, a G step every {K_STEPS}, seeds {seeds}. Metrics on {per_class} samples per class: "
               f"W1 to the class's Gaussian (exact quantiles), std ratio, Bayes-classifier accuracy of the requested "
               f"labels (real data: {real_accuracy:.3f}). Departures: {steps} D steps with 1-in-{K_STEPS} G steps instead "
               f"of TAC-GAN's 30000 with 1-in-10 (budget; the generator gets a similar number of updates); a tanh "
               f"after both hidden layers of G. Control if a check fails: ADC-GAN on its first failing seed with "
               f"{CONTROL_FACTOR}x the steps."),
        table={"columns": ["model", "seed", "W1 class 0", "W1 class 1", "W1 class 2", "mean W1", "stds (true 1, 2, 3)",
                           "diversity error", "Bayes label accuracy"], "rows": rows},
        paper={"note": "ADC-GAN paper, synthetic data (after TAC-GAN, Gong et al. 2019): on overlapping 1D/2D "
                       "Gaussian classes AC-GAN's classes collapse (narrow, pushed apart) while ADC-GAN (and TAC-GAN) "
                       "recover each class's distribution; the paper shows this in its figures of generated densities "
                       "and class-wise distances."},
        figures=[figure_name],
        data={"results": {f"{n}/seed{s}": {k: v for k, v in r.items() if k not in ("samples", "sample_labels")}
                          for (n, s), r in results.items()},
              "real_label_accuracy": real_accuracy, "control": control, "seconds": time.time() - start},
    )
    print(summary)
