"""S-KAN claim (arXiv:2408.08338): a selectable-activation KAN (per-node choice among
activation spaces) fits functions better than single-basis KANs and equal-parameter MLPs.

Tasks: the five toy functions of the KAN paper built into the zoo (`toy/bessel-j0`, `toy/exp-sin`,
`toy/xy`, `toy/four-var`, `toy/exp-sum-sin2-100d`; 1000 train / 1000 test points on [-1, 1]^n).
The paper used seven function-fitting tasks of its own; these five stand in for them.
Models, all [n, 5, 1] with G = 5, k = 3 (every space has 8 basis functions per edge):
- S-KAN over all six spaces, trained in the paper's three stages: full training (300 steps),
  selection + pruning (`select_spaces`), selective training (100 steps);
- the six single-space KANs (B-spline = KAN, RBF = FastKAN, RSWAF = FasterKAN, Chebyshev, Jacobi,
  ReLU-KAN bumps), 400 steps each;
- an MLP [n, H, H, 1] (SiLU) with as many parameters as the unpruned S-KAN, 400 steps.
Full-batch Adam (lr 1e-2), seeds 0, 1, 2; test RMSE after training. The S-KAN of seed 0 on
`toy/bessel-j0`, after its three stages, is kept as the checkpoint `s-kan.toy-bessel-j0`.
Checks, fixed before running, per task and seed: S-KAN's test RMSE below the best of the six
single-space KANs on that seed ("better than single-basis KANs"), and below the MLP's.
Principled experiment, fixed before running: if a check fails on some seed, the first failing
(task, seed) is trained again with 4x the steps for every model (S-KAN 1200 + 400, the others
1600); if both checks then hold, our short training is to blame, otherwise the claim fails at this
scale.

    zoo reproduce s-kan --part repro
"""

from __future__ import annotations

import collections
import statistics

import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds

from .spaces import SPACE_NAMES

TASKS = ("toy/bessel-j0", "toy/exp-sin", "toy/xy", "toy/four-var", "toy/exp-sum-sin2-100d")
SEEDS = (0, 1, 2)
FULL_STEPS, SELECTIVE_STEPS = 300, 100
CONTROL_FACTOR = 4
LR = 1e-2
# one thread: on the shared 2-core machine, two OpenMP threads spend most of a small model's step
# waiting for each other, which would only add noise here
THREADS = 1


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def mlp(n_in: int, hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 1))


def train(model: nn.Module, task, steps: int, seed: int) -> None:
    zoo.train(model, task, epochs=steps, batch_size=1000, optimizer="adam", lr=LR, seed=seed,
              eval_every=steps, shuffle=False, progress=False)


def run_task(run: Run | None, task_name: str, seed: int, full_steps: int, selective_steps: int) -> dict:
    task = zoo.get_task(task_name)
    n_in = task.info.input_dim
    width = [n_in, 5, 1]
    results = {}
    torch.manual_seed(seed)
    skan = zoo.create("s-kan", width=width)
    full_params = n_params(skan)
    train(skan, task, full_steps, seed)
    after_full = zoo.evaluate(skan, task)["rmse"]
    skan.select_spaces()
    train(skan, task, selective_steps, seed)
    chosen = collections.Counter(s for layer in skan.chosen_spaces() for node in layer for s in node)
    results["s-kan"] = {"rmse": zoo.evaluate(skan, task)["rmse"], "rmse_before_selection": after_full,
                        "params": full_params, "active_params": skan.active_parameter_count(), "chosen": dict(chosen)}
    if run is not None and (task_name, seed) == (TASKS[0], 0):
        run.keep(skan, "toy-bessel-j0")
    for space in SPACE_NAMES:
        torch.manual_seed(seed)
        model = zoo.create("s-kan", variant=space, width=width)
        train(model, task, full_steps + selective_steps, seed)
        results[space] = {"rmse": zoo.evaluate(model, task)["rmse"], "params": n_params(model)}
    torch.manual_seed(seed)
    hidden = min(range(1, 400), key=lambda h: abs(n_params(mlp(n_in, h)) - full_params))
    model = mlp(n_in, hidden)
    train(model, task, full_steps + selective_steps, seed)
    results["mlp"] = {"rmse": zoo.evaluate(model, task)["rmse"], "params": n_params(model)}
    return results


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """Per task: S-KAN's test RMSE below the best single-space KAN's and below the MLP's, seed by seed.
    `data` maps "task|seed" to that run's results (the record's data, less its extra keys)."""
    runs = {key: value for key, value in data.items() if "|" in key}
    seeds = sorted({int(key.rsplit("|", 1)[1]) for key in runs})
    tasks = list(dict.fromkeys(key.rsplit("|", 1)[0] for key in runs))
    checks = []
    for task in tasks:
        per_seed = [runs[f"{task}|{s}"] for s in seeds]
        ours = [r["s-kan"]["rmse"] for r in per_seed]
        checks.append(Check(f"{task.removeprefix('toy/')}: S-KAN test RMSE below the best single-space KAN",
                            ours=ours, versus=[min(r[space]["rmse"] for space in SPACE_NAMES) for r in per_seed],
                            better="lower"))
        checks.append(Check(f"{task.removeprefix('toy/')}: S-KAN test RMSE below the equal-parameter MLP",
                            ours=ours, versus=[r["mlp"]["rmse"] for r in per_seed], better="lower"))
    return seeds, checks


def reproduce(run: Run) -> None:
    seeds = list(run.pick(SEEDS, (0,)))
    full_steps, selective_steps = run.pick((FULL_STEPS, SELECTIVE_STEPS), (2, 1))
    torch.set_num_threads(THREADS)
    runs = {}
    for task in TASKS:
        for seed in seeds:
            runs[(task, seed)] = run_task(run, task, seed, full_steps, selective_steps)
            r = runs[(task, seed)]
            print(f"{task} seed {seed}: " + ", ".join(f"{m} {v['rmse']:.3g}" for m, v in r.items())
                  + f" | chosen {r['s-kan']['chosen']}", flush=True)
    data = {f"{t}|{s}": r for (t, s), r in runs.items()}
    _, checks = claim_checks(data)

    control = None
    failing = [(task, seed) for i, task in enumerate(TASKS) for check in checks[2 * i:2 * i + 2]
               for seed in failing_seeds(seeds, [check])]
    if failing and not run.quick:
        task, seed = failing[0]
        longer = run_task(None, task, seed, CONTROL_FACTOR * full_steps, CONTROL_FACTOR * selective_steps)
        best = min(SPACE_NAMES, key=lambda space: longer[space]["rmse"])
        holds = longer["s-kan"]["rmse"] < min(longer[best]["rmse"], longer["mlp"]["rmse"])
        control = {"task": task, "seed": seed, "steps": [CONTROL_FACTOR * full_steps, CONTROL_FACTOR * selective_steps],
                   "results": longer, "best_space": best, "both_hold": holds,
                   "conclusion": (f"with {CONTROL_FACTOR}x the steps S-KAN beats every single space and the MLP on "
                                  f"{task}, seed {seed}: our short training is to blame") if holds else
                                 (f"with {CONTROL_FACTOR}x the steps S-KAN still does not beat every single space and "
                                  f"the MLP on {task}, seed {seed}: the claim fails at this scale")}
        print(f"control: {control['conclusion']}", flush=True)

    models = ("s-kan", *SPACE_NAMES, "mlp")
    mean = {(t, m): statistics.mean(runs[(t, s)][m]["rmse"] for s in seeds) for t in TASKS for m in models}
    rows, per_task = [], []
    for i, task in enumerate(TASKS):
        singles = {s: mean[(task, s)] for s in SPACE_NAMES}
        best_space = min(singles, key=singles.get)
        first = runs[(task, seeds[0])]
        held = [sum(c.holds(o, v) for o, v in c.per_seed()) for c in checks[2 * i:2 * i + 2]]
        rows.append([task, f"{mean[(task, 's-kan')]:.2e}", *(f"{singles[s]:.2e}" for s in SPACE_NAMES),
                     f"{mean[(task, 'mlp')]:.2e}", best_space,
                     f"{first['s-kan']['params']} / {first['s-kan']['active_params']}", first["bspline"]["params"],
                     first["mlp"]["params"], f"{held[0]} / {len(seeds)}", f"{held[1]} / {len(seeds)}"])
        per_task.append(f"{task}: S-KAN {mean[(task, 's-kan')]:.2e}, best single space {singles[best_space]:.2e} "
                        f"({best_space}), MLP {mean[(task, 'mlp')]:.2e} (S-KAN below every single space on "
                        f"{held[0]} of {len(seeds)} seeds, below the MLP on {held[1]})")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4))
    width = 0.8 / len(models)
    for i, m in enumerate(models):
        ax.bar([t + i * width for t in range(len(TASKS))], [mean[(task, m)] for task in TASKS], width, label=m)
    ax.set_xticks([t + 0.4 - width / 2 for t in range(len(TASKS))], [t.removeprefix("toy/") for t in TASKS])
    ax.set_yscale("log")
    ax.set_ylabel(f"test RMSE (mean of {len(seeds)} seeds)")
    ax.legend(ncol=4, fontsize=8)
    fig.tight_layout()
    fig.savefig(run.figure("repro_fitting.png"), dpi=120)
    plt.close(fig)

    summary = (f"Test RMSE, mean of seeds {seeds}: " + "; ".join(per_task) + ".")
    if control:
        c = control["results"]
        summary += (f" Principled experiment ({control['task']}, seed {control['seed']}, {CONTROL_FACTOR}x the steps "
                    f"for every model): S-KAN {c['s-kan']['rmse']:.2e}, best single space {c[control['best_space']]['rmse']:.2e} "
                    f"({control['best_space']}), MLP {c['mlp']['rmse']:.2e}; {control['conclusion']}.")
    data["control"] = control
    run.record(
        "repro_fitting",
        claim="Selectable-activation KAN (per-node choice among activation spaces) fits functions better than "
              "single-basis KANs and equal-parameter MLPs.",
        seeds=seeds, checks=checks, summary=summary,
        setup=(f"Tasks {', '.join(TASKS)}; width [n, 5, 1], G=5, k=3, 8 basis functions per edge and space. S-KAN: "
               f"{full_steps} full-training steps, select_spaces, {selective_steps} selective steps; single-space KANs "
               f"and the MLP [n, H, H, 1] (SiLU, parameters matched to the unpruned S-KAN): "
               f"{full_steps + selective_steps} steps. Full-batch Adam lr {LR}; seeds {seeds}; {THREADS} CPU thread. "
               f"Checks per task and seed: S-KAN RMSE < min over the six single-space KANs; S-KAN RMSE < MLP. "
               f"Departures: the KAN paper's toy functions stand in for the paper's seven tasks; the space pool (six "
               f"spaces linear in their coefficients), the stage schedule and the selection rule are ours, as we "
               f"could not read the paper's."),
        table={"columns": ["task", "S-KAN", *SPACE_NAMES, "MLP", "best single space (mean)",
                           "S-KAN params (all / after pruning)", "single-space params", "MLP params",
                           "S-KAN < best single space (seeds)", "S-KAN < MLP (seeds)"], "rows": rows},
        paper={"source": "arXiv:2408.08338 (abstract): S-KAN outperforms baseline methods in seven function fitting "
                         "tasks and significantly surpasses MLPs with the same level of parameters"},
        figures=["repro_fitting.png"],
        data=data,
    )
    print(summary)
