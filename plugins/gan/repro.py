"""Reproduction for `gan` (Goodfellow et al., 2014, arXiv:1406.2661).

Claim: an MLP generator trained adversarially against an MLP (maxout) discriminator learns to match
the data distribution: it covers the modes of a 2D Gaussian mixture, and at the end D(x) -> 1/2 on
real and generated samples alike (Theorem 1's equilibrium).

Protocol, fixed before running:
- Tasks `mixture2d/ring8` (8 modes) and `mixture2d/grid25` (25 modes), the mode-coverage test of
  VEEGAN (Srivastava et al., 2017); the paper itself shows image samples and Parzen estimates.
- The paper's training algorithm: Algorithm 1 with k = 1 (the paper's choice) and the
  non-saturating generator loss (Sec. 3), trained with zoo.train (training_step override); the
  paper's architecture family, variant `toy2d`: noise 16, ReLU generator 2x128, maxout
  discriminator 2x128 with 5 pieces; Adam (lr 5e-4, beta1 0.5), batch 128, 3000 steps.
- Seeds 0, 1, 2 on both tasks. 5000 samples scored against 5000 test points with VEEGAN's
  metrics: a sample is high quality within 3 std of its nearest centre; a mode is covered when at
  least one high-quality sample falls nearest to it. D is read on the 5000 real test points and
  5000 samples.
- Checks (zoo.verdicts, per seed), fixed before running, for each task: (1) every mode is covered;
  (2) mean D on real and on generated samples both lie within 0.1 of 1/2 (Theorem 1's equilibrium,
  with a tolerance for a finite run).
- Principled experiment: Theorem 1 is a statement about the end of training with enough capacity,
  so for every task whose checks fail on some seed, its first failing seed is trained again 3x
  longer (9000 steps). If the checks then hold, our budget is to blame; otherwise the claim fails at
  this scale.

Departures: 2D mixtures instead of MNIST/TFD/CIFAR-10 (the paper's Parzen protocol does not test
coverage of known modes); the paper's MNIST widths (generator 1200-1200, discriminator 240-240
maxout, dropout) cost about 8x more per step on CPU than `toy2d`, too much for six runs in the
budget, so the 2D runs use the same structure at 128 units and no dropout; Adam instead of the
paper's momentum SGD with its learning-rate decay and momentum ramp, which are tuned for hundreds
of MNIST epochs; noise 16-d uniform on [-1, 1].

    zoo reproduce gan --part repro
"""

from __future__ import annotations

import time

import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds
from zoo_plugins.gan.mixture import nearest_mode

SEEDS = (0, 1, 2)
BATCH, LR, STEPS = 128, 5e-4, 3000
TASKS = {"mixture2d/ring8": 8, "mixture2d/grid25": 25}
D_TOLERANCE = 0.1  # mean D may sit this far from 1/2 at the end of a finite run
LONGER = 3


def mode_report(samples: torch.Tensor, centres: torch.Tensor, std: float) -> dict:
    idx, dist = nearest_mode(samples, centres)
    good = dist <= 3 * std
    counts = torch.bincount(idx[good], minlength=len(centres)).float()
    fair = len(samples) / len(centres)
    return {"modes_covered": int((counts >= 1).sum()), "modes_balanced": int((counts >= fair / 4).sum()),
            "high_quality": float(good.float().mean())}


def d_readout(model, real: torch.Tensor) -> dict:
    model.eval()
    fake = model.sample(len(real))
    d_real, d_fake = float(model.discriminate(real).mean()), float(model.discriminate(fake).mean())
    return {"d_real": d_real, "d_fake": d_fake, "d_distance": max(abs(d_real - 0.5), abs(d_fake - 0.5))}


def run_mixture(task_name: str, seed: int, steps: int) -> tuple[dict, torch.Tensor, torch.Tensor, torch.nn.Module]:
    task = zoo.get_task(task_name)
    torch.manual_seed(seed)
    model = zoo.create("gan", variant="toy2d", task=task)
    start = time.time()
    zoo.train(model, task, max_steps=steps, epochs=1000, batch_size=BATCH, lr=LR, seed=seed, eval_splits=[])
    real = task.splits()["test"].tensors[0]
    torch.manual_seed(1000 + seed)
    report = {**d_readout(model, real)}
    samples = model.sample(len(real))
    report.update(mode_report(samples, task.centres, task.std))
    report.update({f"zoo_evaluate_{k}": v for k, v in zoo.evaluate(model, task, split="test").items()})
    report.update(steps=steps, train_seconds=time.time() - start)
    return report, samples, real, model


def task_checks(task_name: str, reports: list[dict]) -> list[Check]:
    short, modes = task_name.split("/")[1], TASKS[task_name]
    # mode counts are integers: "no more than 0.5 below K" means all K
    return [Check(f"{short}: all {modes} modes covered", ours=[r["modes_covered"] for r in reports], versus=modes,
                  better="higher", margin=-0.5),
            Check(f"{short}: mean D on real and generated samples within {D_TOLERANCE} of 1/2",
                  ours=[r["d_distance"] for r in reports], versus=D_TOLERANCE, better="lower")]


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The claim's checks from the record's data: per task, mode coverage and D's distance from
    1/2, on every seed."""
    seeds = [int(s) for s in data["seeds"]]
    checks = []
    for task_name in TASKS:
        checks += task_checks(task_name, [data["mixtures"][f"{task_name}/seed{s}"] for s in seeds])
    return seeds, checks


def plot(shown: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(shown), figsize=(4.5 * len(shown), 4.5))
    for ax, (title, (samples, real)) in zip(axes, shown.items()):
        ax.scatter(real[:2000, 0], real[:2000, 1], s=2, color="tab:green", alpha=0.4, label="data")
        ax.scatter(samples[:2000, 0], samples[:2000, 1], s=2, color="tab:blue", alpha=0.4, label="G(z)")
        ax.set_title(title, fontsize=9)
        ax.set_aspect("equal")
    axes[0].legend(fontsize=7, markerscale=4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def reproduce(run: Run) -> None:
    seeds = list(run.pick(SEEDS, SEEDS[:1]))
    steps = run.pick(STEPS, 20)
    torch.set_num_threads(1)
    start = time.time()
    results, shown = {}, {}
    for task_name in TASKS:
        for seed in seeds:
            report, samples, real, _ = run_mixture(task_name, seed, steps)
            results[f"{task_name}/seed{seed}"] = report
            if seed == seeds[0]:
                shown[f"{task_name}, seed {seed}, {steps} steps"] = (samples, real)
            print(task_name, seed, report, flush=True)

    data = {"seeds": seeds, "mixtures": results}
    _, checks = claim_checks(data)
    longer = {}
    for task_name in TASKS:
        failed = failing_seeds(seeds, task_checks(task_name, [results[f"{task_name}/seed{s}"] for s in seeds]))
        if failed and not run.quick:
            seed = failed[0]
            report, samples, real, _ = run_mixture(task_name, seed, LONGER * steps)
            holds = not failing_seeds([seed], task_checks(task_name, [report]))
            report.update(seed=seed, checks_hold=holds, conclusion=(
                f"with {LONGER}x longer training the checks hold on seed {seed}: our budget is to blame" if holds else
                f"the checks still fail on seed {seed} with {LONGER}x longer training: the claim fails at this scale"))
            longer[task_name] = report
            shown[f"{task_name}, seed {seed}, {LONGER * steps} steps"] = (samples, real)
            print("longer", task_name, report, flush=True)
    data.update(longer_training=longer, seconds=time.time() - start)
    plot(shown, run.figure("gan_samples.png"))

    def row(task_name, seed, r, label=""):
        return [task_name + label, seed, f"{r['modes_covered']}/{TASKS[task_name]}", r["modes_balanced"],
                f"{r['high_quality']:.2f}", f"{r['d_real']:.3f}", f"{r['d_fake']:.3f}"]

    rows = [row(t, s, results[f"{t}/seed{s}"]) for t in TASKS for s in seeds]
    rows += [row(t, r["seed"], r, f" ({LONGER}x longer)") for t, r in longer.items()]
    held = [sum(c.holds(o, v) for o, v in c.per_seed()) for c in checks]
    summary = (f"After {steps} steps, modes covered (>= 1 high-quality sample) per seed {seeds}: "
               + "; ".join(f"{t.split('/')[1]} " + ", ".join(str(results[f'{t}/seed{s}']['modes_covered'])
                                                         for s in seeds) + f" of {k}" for t, k in TASKS.items())
               + ". Mean D on real / generated samples: "
               + "; ".join(f"{t.split('/')[1]} " + ", ".join(f"{results[f'{t}/seed{s}']['d_real']:.2f}/"
                                                         f"{results[f'{t}/seed{s}']['d_fake']:.2f}" for s in seeds)
                           for t in TASKS)
               + ". Checks held on " + ", ".join(f"{n} of {len(seeds)} seeds ({c.name})" for c, n in zip(checks, held))
               + "." + "".join(f" {t.split('/')[1]}, seed {r['seed']}, {LONGER}x longer: {r['modes_covered']} modes, "
                               f"D {r['d_real']:.2f}/{r['d_fake']:.2f}; {r['conclusion']}." for t, r in longer.items()))

    run.record(
        "gan",
        claim="An MLP generator trained adversarially against an MLP discriminator learns to match the data "
              "distribution (covers the modes of a 2D mixture, D(x) -> 1/2).",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"gan variant toy2d (noise 16-d uniform, ReLU generator 2x128, maxout discriminator 2x128 with 5 pieces, "
              f"no dropout) on mixture2d/ring8 (8 modes, radius 2, std 0.05) and mixture2d/grid25 (25 modes, spacing "
              f"2, std 0.05); zoo.train with the model's training_step (Algorithm 1, k=1, non-saturating loss), "
              f"Adam(lr {LR}, beta1 0.5), batch {BATCH}, {steps} steps, seeds {seeds} on both tasks; 5000 samples "
              f"scored against 5000 test points; 1 thread. Departures: 2D mixtures (VEEGAN's mode-coverage test) "
              f"instead of the paper's image data sets and Parzen estimates; 128-unit layers without dropout instead "
              f"of the paper's MNIST widths (1200-1200 generator, 240-240 maxout discriminator, dropout), about 8x "
              f"the CPU time per step, beyond the budget for six runs; Adam instead of momentum SGD with the paper's "
              f"decay and momentum schedules, tuned for hundreds of MNIST epochs. Checks fixed before running: all "
              f"modes covered; mean D on real and generated samples within {D_TOLERANCE} of 1/2. The first failing "
              f"seed of a task is trained again {LONGER}x longer.",
        table={"columns": ["task", "seed", "modes covered", "modes balanced", "high quality", "mean D(real)",
                           "mean D(G(z))"], "rows": rows},
        paper={"note": "The paper shows samples on MNIST/TFD/CIFAR-10 and Parzen log-likelihoods; the 2D mixture "
                       "mode-coverage protocol is VEEGAN's (Srivastava et al., 2017)."},
        figures=["gan_samples.png"],
        data=data,
    )
    print(summary)
