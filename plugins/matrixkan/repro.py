"""MatrixKAN claim (arXiv:2502.07176): computing B-splines with matrix operations gives
identical outputs to KAN, with speedups that grow with spline degree.

1. Identical outputs. For k = 1..6 a KAN [2, 5, 1] (G = 5) is trained on `toy/exp-sin` (full-batch
   LBFGS, 20 steps, uniform grid), converted with `MatrixKAN.from_kan`, and both are evaluated on
   the test split: largest output difference and test RMSE.
2. Non-uniform grids. A KAN trained with pykan-style grid updates (quantile knots) is converted
   with the per-interval matrices (this plugin's extension) and compared the same way. The paper's
   own code keeps its single uniform matrix after a grid update (it finds the interval among the
   real knots but measures the local coordinate as if the knots were equally spaced); that
   evaluation is emulated here to show what it does to the function.
3. Speed: the training step and the basis alone, MatrixKAN against the zoo's KAN core and a
   Cox-de Boor reference, k = 1..6 (the measurement of this folder's perf.py, fewer rounds), timed
   in CPU seconds of the one thread (the machine is shared; wall time would measure the others).
Seeds 0, 1, 2: seed s trains the degree-k KANs from torch seed 10 s + k and times networks
initialised from seed s. The MatrixKAN converted from the trained k = 3 KAN on a uniform grid of
seed 0 (torch seed 3) is kept as `matrixkan.toy-exp-sin`.

Checks, fixed before running, per seed:
- identical outputs: the largest |KAN - MatrixKAN| over the test split and k = 1..6 (uniform grids,
  the paper's method) below 1e-4, float32 rounding for outputs of order 1-10;
- faster: the training step of the Cox-de Boor reference over MatrixKAN's above 1 at every degree;
- growing with degree: that ratio larger at k = 6 than at k = 1;
- large: that ratio at k = 6 at least 10x, an order of magnitude (the paper reports ~40x).
Principled experiment, fixed before running: if "large" fails on some seed, the paper's own
baseline formulation (pykan's KANLayer: recursive basis, per-edge (batch, in, out) outputs; the
reference above is the leaner efficient-kan formulation) is timed against MatrixKAN at k = 1 and 6
on the first failing seed; if the ratio at k = 6 then reaches 10x, our leaner baseline is why the
speedup is small, otherwise the claim's size fails at this scale.

    zoo reproduce matrixkan --part repro
"""

from __future__ import annotations

import tempfile
import time

import torch
import torch.nn.functional as F

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians
from zoo.verdicts import Check, failing_seeds

from .model import MatrixKAN, _power_basis, is_uniform_grid
from .perf import WIDTH, PykanStyleKAN, _train_step, measure, plot

TASK = "toy/exp-sin"
KEPT = (3, "toy-exp-sin")  # degree of the uniform-grid model kept (seed 0), weights tag
SEEDS = (0, 1, 2)
IDENTICAL = 1e-4  # largest output difference still float32 rounding
LARGE = 10.0  # "large speedup": an order of magnitude
# one thread: on the shared 2-core machine two OpenMP threads mostly wait for each other
THREADS = 1


class GridUpdates:
    """pykan's fit: refresh the grids from the training inputs every 5 steps during the first 50."""

    def __init__(self, x: torch.Tensor):
        self.x = x

    def zoo_train_batch_end(self, run, logs):
        if run.global_step < 50 and run.global_step % 5 == 0:
            run.model.update_grid(self.x)


def paper_code_forward(model: MatrixKAN, x: torch.Tensor) -> torch.Tensor:
    """The official MatrixKAN's evaluation on a grid made non-uniform by a grid update: the interval
    j is found among the real knots, but u = (x - t_0 - j h) / h with h the mean knot spacing."""
    for layer in model.layers:
        grid, k, n_int = layer.grid, layer.k, layer.grid.shape[1] - 1
        spacing = (grid[:, layer.grid_size + k] - grid[:, k]) / layer.grid_size
        interval = torch.searchsorted(grid, x.T.contiguous(), right=True).T - 1
        local = _power_basis((x - grid[:, 0] - interval * spacing) / spacing, k) @ layer.psi
        slot = interval.clamp(-(k + 1), n_int) + (k + 1)
        columns = slot.unsqueeze(-1) + torch.arange(k + 1)
        basis = x.new_zeros(*x.shape, n_int + 2 * k + 2).scatter(-1, columns, local)[..., 2 * k + 1 : n_int + k + 1]
        x = F.silu(x) @ (layer.scale_base * layer.mask) + basis.flatten(1) @ layer.spline_weight()
    return x


def rmse(prediction: torch.Tensor, target: torch.Tensor) -> float:
    return (prediction - target).square().mean().sqrt().item()


def speed_ratios(speed: dict) -> dict:
    """Per degree: Cox-de Boor / MatrixKAN (training step, basis alone) and KAN core / MatrixKAN."""
    return {int(k): {"cox-de boor": v["step_s"]["cox-de boor"] / v["step_s"]["matrixkan (uniform)"],
                     "kan core": v["step_s"]["kan core"] / v["step_s"]["matrixkan (uniform)"],
                     "basis": v["basis_s"]["cox-de boor"] / v["basis_s"]["matrixkan (uniform)"]}
            for k, v in speed.items()}


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """Identical outputs, and the training-step speedup over the Cox-de Boor reference: above 1 at
    every degree, larger at the highest degree than at the lowest, and at least LARGE there."""
    seeds = sorted(int(s) for s in data["seeds"])
    per_seed = [data["seeds"][str(s)] for s in seeds]
    worst = [max(v["max_abs_diff"] for v in d["identity"].values()) for d in per_seed]
    ratios = [speed_ratios(d["speed"]) for d in per_seed]
    low, high = min(ratios[0]), max(ratios[0])
    step = [{k: r[k]["cox-de boor"] for k in r} for r in ratios]
    return seeds, [
        Check(f"identical outputs: max |KAN - MatrixKAN| over k={low}..{high} below {IDENTICAL:g}",
              ours=worst, versus=IDENTICAL, better="lower"),
        Check(f"faster: Cox-de Boor / MatrixKAN training step above 1 at every k={low}..{high} (smallest ratio)",
              ours=[min(r.values()) for r in step], versus=1.0, better="higher"),
        Check(f"growing with degree: speedup at k={high} above k={low}",
              ours=[r[high] for r in step], versus=[r[low] for r in step], better="higher"),
        Check(f"large: speedup at k={high} at least {LARGE:g}x", ours=[r[high] for r in step], versus=LARGE,
              better="higher", margin=-1e-9),
    ]


def one_seed(run: Run, seed: int, degrees, quantile_degrees, steps: int, speed_batch: int, speed_rounds: int,
             task, x_train, x_test, y_test) -> dict:
    data = {"identity": {}, "non_uniform": {}}
    for k in degrees:
        torch.manual_seed(10 * seed + k)
        kan = zoo.create("kan", task=TASK, k=k)
        kept = (seed, k) == (SEEDS[0], KEPT[0])
        with tempfile.TemporaryDirectory(prefix="zoo-repro-") as run_dir:  # the kept model's card needs its curves
            zoo.train(kan, task, epochs=steps, batch_size=1000, optimizer="lbfgs", lr=1.0, progress=False,
                      out_dir=run_dir if kept else None)
            matrix_kan = MatrixKAN.from_kan(kan, "uniform")
            if kept:  # the same weights in a model zoo.create built, which knows its catalog name
                catalog_model = zoo.create("matrixkan", task=TASK, k=k)
                catalog_model.load_state_dict(matrix_kan.state_dict())
                run.keep(catalog_model, KEPT[1], run=run_dir)
        with torch.no_grad():
            a, b = kan(x_test), matrix_kan(x_test)
        data["identity"][k] = {"max_abs_diff": (a - b).abs().max().item(), "kan_rmse": rmse(a, y_test),
                               "matrixkan_rmse": rmse(b, y_test)}
        print(f"seed {seed} k={k}: {data['identity'][k]}", flush=True)

    for k in quantile_degrees:
        torch.manual_seed(10 * seed + k)
        kan = zoo.create("kan", task=TASK, k=k)
        zoo.train(kan, task, epochs=steps * 3, batch_size=1000, optimizer="lbfgs", lr=1.0, progress=False,
                  callbacks=[GridUpdates(x_train)])
        assert not is_uniform_grid(kan.layers[0].grid)
        try:
            MatrixKAN.from_kan(kan, "uniform")
            refused = False
        except ValueError:
            refused = True
        per_interval = MatrixKAN.from_kan(kan, "per-interval")
        with torch.no_grad():
            a, b, c = kan(x_test), per_interval(x_test), paper_code_forward(per_interval, x_test)
        data["non_uniform"][k] = {"per_interval_max_abs_diff": (a - b).abs().max().item(),
                                  "paper_code_max_abs_diff": (a - c).abs().max().item(), "kan_rmse": rmse(a, y_test),
                                  "per_interval_rmse": rmse(b, y_test), "paper_code_rmse": rmse(c, y_test),
                                  "uniform_mode_refused": refused}
        print(f"seed {seed} quantile k={k}: {data['non_uniform'][k]}", flush=True)

    speed = measure(degrees, batch=speed_batch, rounds=speed_rounds, seed=seed, clock=time.thread_time)
    data["speed"] = {str(k): v for k, v in speed.items()}
    return data


def pykan_baseline(seed: int, degrees, batch: int, rounds: int) -> dict:
    """Training-step CPU seconds of pykan's layer formulation against MatrixKAN on the same weights."""
    torch.manual_seed(seed)
    out = {}
    for k in degrees:
        kan = zoo.create("kan", width=WIDTH, k=k)
        matrix_kan, pykan_style = MatrixKAN.from_kan(kan, "uniform"), PykanStyleKAN(kan)
        x = torch.rand(batch, WIDTH[0]) * 2 - 1
        with torch.no_grad():
            diff = (pykan_style(x) - matrix_kan(x)).abs().max().item()
        times = medians(interleaved({"matrixkan (uniform)": _train_step(matrix_kan, x, time.thread_time),
                                     "pykan-style": _train_step(pykan_style, x, time.thread_time)}, rounds, warmup=2))
        out[k] = {"step_s": times, "ratio": times["pykan-style"] / times["matrixkan (uniform)"], "max_abs_diff": diff}
        print(f"pykan-style k={k}: {out[k]}", flush=True)
    return out


def reproduce(run: Run) -> None:
    seeds = list(run.pick(SEEDS, (0,)))
    degrees = run.pick(range(1, 7), (1, 3))
    steps = run.pick(20, 2)
    quantile_degrees = run.pick((3, 6), (3,))
    speed_batch, speed_rounds = run.pick((1024, 5), (64, 1))
    torch.set_num_threads(THREADS)
    wall = time.time()
    task = zoo.get_task(TASK)
    x_train = task.splits()["train"][:][0]
    x_test, y_test = task.splits()["test"][:]
    data = {"seeds": {str(seed): one_seed(run, seed, degrees, quantile_degrees, steps, speed_batch, speed_rounds,
                                          task, x_train, x_test, y_test) for seed in seeds}}
    _, checks = claim_checks(data)
    ks = sorted(degrees)
    low, high = ks[0], ks[-1]

    control = None
    large = checks[-1]
    failing = failing_seeds(seeds, [large])
    if failing and not run.quick:
        seed = failing[0]
        baseline = pykan_baseline(seed, (low, high), speed_batch, speed_rounds)
        reaches = baseline[high]["ratio"] >= LARGE
        control = {"seed": seed, "pykan_style": {str(k): v for k, v in baseline.items()}, "reaches_large": reaches,
                   "conclusion": (f"against pykan's layer formulation MatrixKAN is {baseline[high]['ratio']:.1f}x faster "
                                  f"at k={high}: our leaner baseline is why the speedup is small") if reaches else
                                 (f"against pykan's layer formulation MatrixKAN is {baseline[high]['ratio']:.1f}x faster "
                                  f"at k={high}, still below {LARGE:g}x: the claim's size fails at this scale")}
        print(f"control: {control['conclusion']}", flush=True)
    data.update(control=control, wall_seconds=time.time() - wall)

    ratios = {s: speed_ratios(data["seeds"][str(s)]["speed"]) for s in seeds}
    rows = []
    for k in ks:
        diffs = [data["seeds"][str(s)]["identity"][k]["max_abs_diff"] for s in seeds]
        kan_rmse = [data["seeds"][str(s)]["identity"][k]["kan_rmse"] for s in seeds]
        mk_rmse = [data["seeds"][str(s)]["identity"][k]["matrixkan_rmse"] for s in seeds]
        rows.append([f"uniform grid, k={k}", f"{max(diffs):.1e}", " / ".join(f"{v:.4e}" for v in kan_rmse),
                     " / ".join(f"{v:.4e}" for v in mk_rmse), ""])
    for k in quantile_degrees:
        nu = [data["seeds"][str(s)]["non_uniform"][k] for s in seeds]
        rows.append([f"quantile grid, k={k}: per-interval", f"{max(v['per_interval_max_abs_diff'] for v in nu):.1e}",
                     " / ".join(f"{v['kan_rmse']:.4e}" for v in nu),
                     " / ".join(f"{v['per_interval_rmse']:.4e}" for v in nu), ""])
        rows.append([f"quantile grid, k={k}: paper's code (uniform Psi)",
                     f"{max(v['paper_code_max_abs_diff'] for v in nu):.1e}", " / ".join(f"{v['kan_rmse']:.4e}" for v in nu),
                     " / ".join(f"{v['paper_code_rmse']:.3g}" for v in nu), ""])
    for k in ks:
        rows.append([f"speed k={k}", "", "", "", "; ".join(
            f"seed {s}: {ratios[s][k]['cox-de boor']:.2f}x step, {ratios[s][k]['basis']:.2f}x basis, "
            f"{ratios[s][k]['kan core']:.2f}x core" for s in seeds)])
    plot(data["seeds"][str(seeds[0])]["speed"], run.figure("repro_speed.png"))

    worst = max(v["max_abs_diff"] for s in seeds for v in data["seeds"][str(s)]["identity"].values())
    nu_worst = max(v["per_interval_max_abs_diff"] for s in seeds for v in data["seeds"][str(s)]["non_uniform"].values())
    paper_code = [data["seeds"][str(s)]["non_uniform"][quantile_degrees[0]] for s in seeds]
    step_low = [ratios[s][low]["cox-de boor"] for s in seeds]
    step_high = [ratios[s][high]["cox-de boor"] for s in seeds]
    core = [ratios[s][k]["kan core"] for s in seeds for k in ks]
    summary = (
        f"Outputs (seeds {seeds}): a trained KAN and its MatrixKAN conversion differ by at most {worst:.1e} on uniform "
        f"grids (k={low}..{high}) and, with the per-interval matrices, by at most {nu_worst:.1e} on quantile grids; "
        f"test RMSEs agree to 3-4 digits. The paper's single matrix on a quantile grid (its code after a grid update) "
        f"is not the same function: at k={quantile_degrees[0]} it moves the test RMSE from "
        f"{', '.join(format(v['kan_rmse'], '.3g') for v in paper_code)} to "
        f"{', '.join(format(v['paper_code_rmse'], '.3g') for v in paper_code)}; "
        f"the zoo refuses that combination. Speed (training step, [64,128,128,10], batch {speed_batch}, CPU time of "
        f"one thread): MatrixKAN over the Cox-de Boor reference {', '.join(f'{v:.2f}' for v in step_low)}x at "
        f"k={low} and {', '.join(f'{v:.2f}' for v in step_high)}x at k={high} (per seed): faster and growing with "
        f"degree, far from the paper's ~40x against pykan. Against the zoo's own KAN core (itself a per-interval "
        f"polynomial evaluation with a fused backward) MatrixKAN is at {min(core):.2f}x to {max(core):.2f}x "
        f"(>1: MatrixKAN faster).")
    if control:
        summary += (f" Principled experiment (seed {control['seed']}): pykan's layer formulation timed against "
                    f"MatrixKAN on the same weights, " + ", ".join(
                        f"{v['ratio']:.1f}x at k={k}" for k, v in control["pykan_style"].items())
                    + f"; {control['conclusion']}" + (
                        " (though against it the speedup does not grow with degree)"
                        if control["pykan_style"][str(high)]["ratio"] <= control["pykan_style"][str(low)]["ratio"]
                        else "") + ".")
    run.record(
        "repro_identity_and_speed",
        claim="Computing B-splines with matrix operations (MatrixKAN) gives identical outputs to KAN with large "
              "speedups that grow with spline degree.",
        seeds=seeds, checks=checks, summary=summary,
        setup=(f"{TASK}, KAN [2, 5, 1], G=5, k={low}..{high}, full-batch LBFGS {steps} steps (uniform grids) or "
               f"{steps * 3} steps with grid updates every 5 steps in the first 50 (quantile grids, grid_eps 0.02); "
               f"seed s trains from torch seed 10 s + k. Speed as `zoo reproduce matrixkan --part perf` with "
               f"{speed_rounds} interleaved rounds (median) per seed, in CPU seconds of the one thread; {THREADS} CPU "
               f"thread. Checks per seed: max |KAN - MatrixKAN| < {IDENTICAL:g}; Cox-de Boor / MatrixKAN step > 1 at "
               f"every k; that ratio at k={high} > at k={low}; and >= {LARGE:g} at k={high}. Departures: the paper's "
               f"speed baseline is pykan's layer, which is not installed here; the Cox-de Boor reference (efficient-kan "
               f"formulation) stands in for it, and pykan's formulation is written out for the principled experiment; "
               f"degrees up to 6 and batch {speed_batch} on one CPU thread."),
        table={"columns": ["comparison", "max |KAN - MatrixKAN|", "KAN test RMSE (per seed)",
                           "MatrixKAN test RMSE (per seed)", "speed: Cox-de Boor / MatrixKAN step, basis; KAN core / MatrixKAN step"],
               "rows": rows},
        paper={"source": "arXiv:2502.07176 (abstract): speedups of approximately 40x relative to KAN (pykan), "
                         "growing with spline degree and dataset size"},
        figures=["repro_speed.png"],
        data=data,
    )
    print(summary)
