"""XNet claim (arXiv:2410.02033): XNet (Cauchy-activation network) fits functions faster
and more accurately than KAN and MLP.

Same tasks, equal parameter budgets, same optimizer and steps, two seeds:
- tasks: a discontinuous 1D step (the paper's Heaviside example, generated here: 1000 train and
  1000 test points uniform on [-1, 1]) and the KAN paper's toy functions `toy/bessel-j0` (1D),
  `toy/exp-sin` and `toy/xy` (2D), all built in;
- budget: the parameters of a KAN [n, 5, 1] with G = 10, k = 3 (150 for n = 1, 225 for n = 2);
  XNet [n, N, 1] and an MLP [n, H, H, 1] (SiLU) take the width closest to it;
- training: full-batch LBFGS (the KAN paper's optimizer, strong-Wolfe line search), 60 steps; the
  KAN additionally gets pykan's grid updates (every 5 steps during the first 50);
- measured: test RMSE at the end, and test RMSE against wall-clock time (to compare speed).
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

TASKS = ("heaviside", "toy/bessel-j0", "toy/exp-sin", "toy/xy")
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
    """Records (seconds since start, test RMSE) at every evaluation; refreshes a KAN's grids like
    pykan's fit (every 5 steps during the first 50)."""

    def __init__(self, grid_samples: torch.Tensor | None):
        self.grid_samples, self.curve = grid_samples, []

    def zoo_train_start(self, run):
        self.start = time.perf_counter()

    def zoo_train_batch_end(self, run, logs):
        if self.grid_samples is not None and run.global_step < 50 and run.global_step % 5 == 0:
            run.model.update_grid(self.grid_samples)

    def zoo_train_epoch_end(self, run, metrics):
        if "test_rmse" in metrics:
            self.curve.append((time.perf_counter() - self.start, metrics["test_rmse"]))


def fit(name: str, model: nn.Module, task, seed: int, steps: int) -> dict:
    data = task if isinstance(task, dict) else zoo.get_task(task)
    x_train = data["train"][0] if isinstance(data, dict) else data.splits()["train"][:][0]
    clock = Clock(x_train.float() if name == "kan" else None)
    result = zoo.train(model, data, epochs=steps, batch_size=1000, optimizer="lbfgs", lr=1.0, seed=seed,
                       eval_every=EVAL_EVERY, shuffle=False, callbacks=[clock], progress=False)
    final = zoo.evaluate(model, data)["rmse"]
    return {"rmse": final, "seconds": result.seconds, "curve": clock.curve, "params": n_params(model)}


def time_to_reach(curve: list, target: float) -> float:
    return next(t for t, rmse in curve if rmse <= target)


def reproduce(run: Run) -> None:
    SEEDS = run.pick((0, 1), (0,))
    STEPS = run.pick(60, 2)
    torch.set_num_threads(THREADS)
    runs = {}
    for task in TASKS:
        data = heaviside_task() if task == "heaviside" else task
        n_in = 1 if task in ("heaviside", "toy/bessel-j0") else 2
        for seed in SEEDS:
            torch.manual_seed(seed)
            for name, model in models_for(n_in).items():
                runs[(task, name, seed)] = fit(name, model, data, seed, STEPS)
                if (task, name, seed) == ("toy/bessel-j0", "xnet", SEEDS[0]):
                    run.keep(model, "toy-bessel-j0")
                r = runs[(task, name, seed)]
                print(f"{task} {name} seed {seed}: {r['params']} params, test RMSE {r['rmse']:.3g}, {r['seconds']:.1f} s",
                      flush=True)

    names = ("xnet", "kan", "mlp")
    rows, wins, faster = [], 0, 0
    for task in TASKS:
        rmse = {n: statistics.mean(runs[(task, n, s)]["rmse"] for s in SEEDS) for n in names}
        # speed: seconds each model needs to reach an accuracy every run reaches (the worst final RMSE)
        target = max(runs[(task, n, s)]["rmse"] for n in names for s in SEEDS) * (1 + 1e-6)
        reach = {n: statistics.mean(time_to_reach(runs[(task, n, s)]["curve"], target) for s in SEEDS) for n in names}
        wins += rmse["xnet"] < min(rmse["kan"], rmse["mlp"])
        faster += reach["xnet"] < min(reach["kan"], reach["mlp"])
        rows.append([task, *(runs[(task, n, 0)]["params"] for n in names), *(f"{rmse[n]:.2e}" for n in names),
                     f"{target:.2e}", *(f"{reach[n]:.2f}" for n in names)])

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(TASKS), figsize=(4 * len(TASKS), 3.6))
    for ax, task in zip(axes, TASKS):
        for name, color in zip(names, ("C3", "C0", "C2")):
            for seed in SEEDS:
                t, e = zip(*runs[(task, name, seed)]["curve"])
                ax.plot(t, e, color=color, alpha=0.8, label=name if seed == SEEDS[0] else None)
        ax.set_yscale("log")
        ax.set_xlabel("seconds")
        ax.set_title(task)
    axes[0].set_ylabel("test RMSE")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(run.figure("repro_fitting.png"), dpi=120)
    plt.close(fig)

    n = len(TASKS)
    verdict = ("reproduced" if wins == n and faster == n else
               "partially reproduced" if wins or faster else "not reproduced")
    summary = (f"XNet had the lowest mean test RMSE on {wins} of {n} tasks and was the first to reach an accuracy "
               f"all three models reach (the worst final RMSE) on {faster} of {n}, at equal parameter budgets "
               f"(full-batch LBFGS, {STEPS} steps, {len(SEEDS)} seeds). Per task: " + "; ".join(
                   f"{r[0]}: RMSE XNet {r[4]}, KAN {r[5]}, MLP {r[6]}; seconds to {r[7]}: XNet {r[8]}, KAN {r[9]}, "
                   f"MLP {r[10]}" for r in rows) + ".")
    run.record(
        "repro_fitting",
        claim="XNet (Cauchy-activation network) fits functions faster and more accurately than KAN and MLP.",
        verdict=verdict, summary=summary,
        setup=(f"Tasks {', '.join(TASKS)} (1000 train / 1000 test points on [-1, 1]^n). Budget = KAN [n, 5, 1], "
               f"G={KAN_GRID}, k=3; XNet [n, N, 1] and MLP [n, H, H, 1] (SiLU) sized to it. Full-batch LBFGS "
               f"(lr 1, history 10, strong Wolfe), {STEPS} steps, test RMSE every {EVAL_EVERY}; KAN grids updated "
               f"every 5 steps in the first 50 (as pykan's fit). Seeds {SEEDS}; {THREADS} CPU thread."),
        table={"columns": ["task", "XNet params", "KAN params", "MLP params", "XNet RMSE", "KAN RMSE", "MLP RMSE",
                           "common target RMSE", "XNet s to target", "KAN s to target", "MLP s to target"],
               "rows": rows},
        paper={"source": "arXiv:2410.02033 reports XNet errors orders of magnitude below KAN and MLP on the "
                         "Heaviside function and 2D/high-dimensional functions, with shorter training times; "
                         "its exact budgets and optimizers are not reproduced here"},
        figures=["repro_fitting.png"],
        data={f"{t}|{n}|{s}": r for (t, n, s), r in runs.items()},
    )
    print(summary)
