"""XNet claim (arXiv:2410.02033): XNet (Cauchy-activation network) fits functions faster
and more accurately than KAN and MLP.

Same tasks, equal parameter budgets, same optimizer and steps, seeds 0, 1, 2:
- tasks: a discontinuous 1D step (the paper's Heaviside example, generated here: 1000 train and
  1000 test points uniform on [-1, 1]) and the KAN paper's toy functions `toy/bessel-j0` (1D),
  `toy/exp-sin` and `toy/xy` (2D), all built in;
- budget: the parameters of a KAN [n, 5, 1] with G = 10, k = 3 (150 for n = 1, 225 for n = 2);
  XNet [n, N, 1] and an MLP [n, H, H, 1] (SiLU) take the width closest to it;
- XNet's initialisation: the plugin's default `init="spread"` (first-layer nodes equally spaced over
  [-1, 1], d = their spacing; the papers state no initialisation we could read);
- training: full-batch LBFGS (the KAN paper's optimizer, strong-Wolfe line search), 60 steps; the
  KAN additionally gets pykan's grid updates (every 5 steps during the first 50);
- measured: test RMSE at the end, and test RMSE against CPU time of the one thread (to compare
  speed; CPU time rather than wall time, since the machine is shared).
Checks, fixed before running, per task and seed: "more accurate" = XNet's final test RMSE below
both the KAN's and the MLP's; "faster" = XNet reaches the seed's common target (the worst final
RMSE of the three models on that seed, which all of them reach) in fewer CPU seconds than both.
Principled experiment, fixed before running: if the accuracy check fails on some seed, the first
failing (task, seed) is trained again with 5x the steps (300) for all three models; if XNet then
beats both, our short training is to blame, otherwise the claim fails at this scale.
The XNet of seed 0 on `toy/bessel-j0` (the first task in the catalog) is kept as the checkpoint
`xnet.toy-bessel-j0`.

    zoo reproduce xnet --part repro
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds

TASKS = ("heaviside", "toy/bessel-j0", "toy/exp-sin", "toy/xy")
SEEDS = (0, 1, 2)
STEPS = 60
CONTROL_FACTOR = 5
NAMES = ("xnet", "kan", "mlp")
EVAL_EVERY = 2
KAN_GRID = 10
# one thread: on the shared 2-core machine, two OpenMP threads spend most of a small model's step
# waiting for each other (10x slower here), which would bury the differences being measured
THREADS = 1


def heaviside_task() -> dict:
    generator = torch.Generator().manual_seed(0)
    splits = {}
    for split in ("train", "test"):
        x = torch.rand(1000, 1, generator=generator) * 2 - 1
        splits[split] = (x, (x > 0).float())
    return splits


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def mlp(n_in: int, hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 1))


def models_for(n_in: int) -> dict[str, nn.Module]:
    """KAN, and XNet / MLP sized to the KAN's parameter count."""
    kan = zoo.create("kan", width=[n_in, 5, 1], grid=KAN_GRID)
    budget = n_params(kan)
    n_xnet = min(range(1, 400), key=lambda n: abs(n_params(zoo.create("xnet", width=[n_in, n, 1])) - budget))
    h_mlp = min(range(1, 100), key=lambda h: abs(n_params(mlp(n_in, h)) - budget))
    return {"xnet": zoo.create("xnet", width=[n_in, n_xnet, 1]), "kan": kan, "mlp": mlp(n_in, h_mlp)}


class Clock:
    """Records (CPU seconds since start, test RMSE) at every evaluation; refreshes a KAN's grids like
    pykan's fit (every 5 steps during the first 50)."""

    def __init__(self, grid_samples: torch.Tensor | None):
        self.grid_samples, self.curve = grid_samples, []

    def zoo_train_start(self, run):
        self.start = time.process_time()

    def zoo_train_batch_end(self, run, logs):
        if self.grid_samples is not None and run.global_step < 50 and run.global_step % 5 == 0:
            run.model.update_grid(self.grid_samples)

    def zoo_train_epoch_end(self, run, metrics):
        if "test_rmse" in metrics:
            self.curve.append((time.process_time() - self.start, metrics["test_rmse"]))


def fit(name: str, model: nn.Module, task, seed: int, steps: int) -> dict:
    data = task if isinstance(task, dict) else zoo.get_task(task)
    x_train = data["train"][0] if isinstance(data, dict) else data.splits()["train"][:][0]
    clock = Clock(x_train.float() if name == "kan" else None)
    result = zoo.train(model, data, epochs=steps, batch_size=1000, optimizer="lbfgs", lr=1.0, seed=seed,
                       eval_every=EVAL_EVERY, shuffle=False, callbacks=[clock], progress=False)
    final = zoo.evaluate(model, data)["rmse"]
    return {"rmse": final, "seconds": result.seconds, "cpu_seconds": clock.curve[-1][0], "curve": clock.curve,
            "params": n_params(model)}


def time_to_reach(curve: list, target: float) -> float:
    return next(t for t, rmse in curve if rmse <= target)


def task_data(task: str):
    return heaviside_task() if task == "heaviside" else task


def inputs_of(task: str) -> int:
    return 1 if task in ("heaviside", "toy/bessel-j0") else 2


def common_target(runs: dict, task: str, seed: int) -> float:
    """An accuracy every model reaches on this seed: the worst final test RMSE of the three."""
    return max(runs[f"{task}|{n}|{seed}"]["rmse"] for n in NAMES) * (1 + 1e-6)


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """Per task, "more accurate" (final test RMSE) and "faster" (CPU seconds to the seed's common
    target), XNet against the better of KAN and MLP on each seed."""
    runs = data["runs"]
    seeds = sorted({int(key.rsplit("|", 1)[1]) for key in runs})
    checks = []
    for task in data["tasks"]:
        rmse = {n: [runs[f"{task}|{n}|{s}"]["rmse"] for s in seeds] for n in NAMES}
        reach = {n: [time_to_reach(runs[f"{task}|{n}|{s}"]["curve"], common_target(runs, task, s)) for s in seeds]
                 for n in NAMES}
        checks.append(Check(f"{task}: XNet test RMSE below both KAN and MLP", ours=rmse["xnet"],
                            versus=[min(k, m) for k, m in zip(rmse["kan"], rmse["mlp"])], better="lower"))
        checks.append(Check(f"{task}: XNet reaches the common target in fewer CPU seconds than KAN and MLP",
                            ours=reach["xnet"], versus=[min(k, m) for k, m in zip(reach["kan"], reach["mlp"])],
                            better="lower"))
    return seeds, checks


def train_all(task: str, seed: int, steps: int, run: Run | None = None) -> dict:
    data, runs = task_data(task), {}
    torch.manual_seed(seed)
    for name, model in models_for(inputs_of(task)).items():
        runs[name] = r = fit(name, model, data, seed, steps)
        if run is not None and (task, name, seed) == ("toy/bessel-j0", "xnet", 0):
            run.keep(model, "toy-bessel-j0")
        print(f"{task} {name} seed {seed} ({steps} steps): {r['params']} params, test RMSE {r['rmse']:.3g}, "
              f"{r['cpu_seconds']:.1f} CPU s", flush=True)
    return runs


def reproduce(run: Run) -> None:
    seeds = list(run.pick(SEEDS, (0,)))
    steps = run.pick(STEPS, 2)
    torch.set_num_threads(THREADS)
    wall = time.time()
    runs = {}
    for task in TASKS:
        for seed in seeds:
            for name, r in train_all(task, seed, steps, run).items():
                runs[f"{task}|{name}|{seed}"] = r
    data = {"tasks": list(TASKS), "runs": runs}
    _, checks = claim_checks(data)

    control = None
    failing = [(task, seed) for task, check in zip(TASKS, checks[::2]) for seed in failing_seeds(seeds, [check])]
    if failing and not run.quick:
        task, seed = failing[0]
        longer = train_all(task, seed, CONTROL_FACTOR * steps)
        holds = longer["xnet"]["rmse"] < min(longer["kan"]["rmse"], longer["mlp"]["rmse"])
        control = {"task": task, "seed": seed, "steps": CONTROL_FACTOR * steps,
                   "rmse": {n: longer[n]["rmse"] for n in NAMES},
                   "rmse_at_60_steps": {n: runs[f"{task}|{n}|{seed}"]["rmse"] for n in NAMES},
                   "xnet_beats_both": holds,
                   "conclusion": (f"with {CONTROL_FACTOR}x the steps XNet beats KAN and MLP on {task}, seed {seed}: "
                                  "our short training is to blame") if holds else
                                 (f"with {CONTROL_FACTOR}x the steps XNet still does not beat both on {task}, seed "
                                  f"{seed}: the claim fails at this scale")}
    data.update(control=control, wall_seconds=time.time() - wall)

    rows, per_task = [], []
    for task, accuracy, speed in zip(TASKS, checks[::2], checks[1::2]):
        rmse = {n: statistics.mean(runs[f"{task}|{n}|{s}"]["rmse"] for s in seeds) for n in NAMES}
        reach = {n: statistics.mean(time_to_reach(runs[f"{task}|{n}|{s}"]["curve"], common_target(runs, task, s))
                                    for s in seeds) for n in NAMES}
        held_acc = sum(accuracy.holds(o, v) for o, v in accuracy.per_seed())
        held_speed = sum(speed.holds(o, v) for o, v in speed.per_seed())
        rows.append([task, *(runs[f"{task}|{n}|{seeds[0]}"]["params"] for n in NAMES),
                     *(f"{rmse[n]:.2e}" for n in NAMES), *(f"{reach[n]:.2f}" for n in NAMES),
                     f"{held_acc} / {len(seeds)}", f"{held_speed} / {len(seeds)}"])
        per_task.append(f"{task}: RMSE XNet {rmse['xnet']:.2e}, KAN {rmse['kan']:.2e}, MLP {rmse['mlp']:.2e} "
                        f"(XNet best on {held_acc} of {len(seeds)} seeds); CPU s to the common target XNet "
                        f"{reach['xnet']:.2f}, KAN {reach['kan']:.2f}, MLP {reach['mlp']:.2f} (XNet first on "
                        f"{held_speed} of {len(seeds)})")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(TASKS), figsize=(4 * len(TASKS), 3.6))
    for ax, task in zip(axes, TASKS):
        for name, color in zip(NAMES, ("C3", "C0", "C2")):
            for seed in seeds:
                t, e = zip(*runs[f"{task}|{name}|{seed}"]["curve"])
                ax.plot(t, e, color=color, alpha=0.8, label=name if seed == seeds[0] else None)
        ax.set_yscale("log")
        ax.set_xlabel("CPU seconds")
        ax.set_title(task)
    axes[0].set_ylabel("test RMSE")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(run.figure("repro_fitting.png"), dpi=120)
    plt.close(fig)

    summary = (f"At equal parameter budgets (full-batch LBFGS, {steps} steps, seeds {seeds}, XNet with its nodes "
               f"spread over the input range): " + "; ".join(per_task) + ".")
    if control:
        summary += (f" Principled experiment ({control['task']}, seed {control['seed']}, {control['steps']} steps "
                    f"for all three): RMSE XNet {control['rmse']['xnet']:.2e}, KAN {control['rmse']['kan']:.2e}, "
                    f"MLP {control['rmse']['mlp']:.2e}; {control['conclusion']}.")
    run.record(
        "repro_fitting",
        claim="XNet (Cauchy-activation network) fits functions faster and more accurately than KAN and MLP.",
        seeds=seeds, checks=checks, summary=summary,
        setup=(f"Tasks {', '.join(TASKS)} (1000 train / 1000 test points on [-1, 1]^n). Budget = KAN [n, 5, 1], "
               f"G={KAN_GRID}, k=3; XNet [n, N, 1] (init 'spread': first-layer nodes equally spaced over [-1, 1], "
               f"d = spacing, lambda1 = lambda2 = 1) and MLP [n, H, H, 1] (SiLU) sized to it. Full-batch LBFGS "
               f"(lr 1, history 10, strong Wolfe), {steps} steps, test RMSE every {EVAL_EVERY}; KAN grids updated "
               f"every 5 steps in the first 50 (as pykan's fit). Seeds {seeds}; {THREADS} CPU thread, speed in CPU "
               f"seconds. Checks per task and seed: XNet RMSE < min(KAN, MLP); XNet CPU seconds to the seed's "
               f"common target (worst final RMSE of the three) < min(KAN, MLP). Departures: the paper's budgets, "
               f"widths, optimizers and initialisation are not ones we could read, so all models share one budget "
               f"and one optimizer; the toy functions stand in for the paper's other targets."),
        table={"columns": ["task", "XNet params", "KAN params", "MLP params", "XNet RMSE", "KAN RMSE", "MLP RMSE",
                           "XNet CPU s to target", "KAN CPU s to target", "MLP CPU s to target",
                           "XNet most accurate (seeds)", "XNet fastest (seeds)"],
               "rows": rows},
        paper={"source": "arXiv:2410.02033 reports XNet errors orders of magnitude below KAN and MLP on the "
                         "Heaviside function and 2D/high-dimensional functions, with shorter training times; "
                         "its exact budgets and optimizers are not reproduced here"},
        figures=["repro_fitting.png"],
        data=data,
    )
    print(summary)
