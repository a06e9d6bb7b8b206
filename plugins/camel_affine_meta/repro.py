"""Reproduction for `camel-affine-meta` (Blanke & Lelarge, ICLR 2024, "Interpretable Meta-Learning of
Physical Systems"): its experiments on physical systems at small scale.

Claim: a model affine in task-specific weights (CAMEL) generalises to unseen environments of a
physical system at a low adaptation cost, and its weights identify the physical parameters.

Protocol, fixed before running:
- Data (`camel/pendulum`, shared generator `zoo_plugins.tasks.dynamics`): per seed s in (0, 1, 2) a
  damped pendulum q_ddot = -omega^2 sin q - damping q_dot with 20 training environments and 20
  unseen ones, (omega, damping) uniform in the generator's ranges ((0.5, 2), (0, 0.5)); inputs the
  state (q, q_dot) along trajectories (dt 0.1), target the acceleration plus noise of std 0.01; 100
  points per training environment (the 70% train part is used), and per unseen environment 10
  support points to adapt on and 100 query points to measure.
- Three learners with the same MLP body (2 hidden tanh layers of 32) and the same budget (6000 Adam
  steps, lr 3e-3, full batch of all training environments per step):
  CAMEL, r = 2 features and one weight vector per training environment fitted jointly (multi-task),
  adapted by ridge least squares (lambda 1e-4) on the support points;
  the single model, one MLP fitted to all environments with no task weights (no adaptation);
  ANIL, the body and a meta-learned linear head (32 -> 1), adapted by 5 gradient steps (lr 0.1) on
  the support points, outer loss on 10 query points of each training environment (second order).
- Metrics on the unseen environments: query MSE after adaptation, wall time of one adaptation
  (one environment, median), and the identification R^2: an affine map from CAMEL's weights to
  beta = (omega^2, damping) fitted by least squares on the 20 training environments' learned
  weights, applied to the unseen environments' adapted weights; the R^2 of each coefficient.

Checks (per seed; fixed before running):
  1. CAMEL's query MSE is lower than the single model's;
  2. CAMEL's query MSE is lower than ANIL's (the paper reports CAMEL competitive with or better
     than the meta-learning baselines on such systems);
  3. CAMEL's adaptation is faster than ANIL's (closed form against gradient steps);
  4. identification: the lower of the two R^2 on unseen environments is above 0.9.

Control, fixed before running, for any seed where check 1, 2 or 4 fails: the same seed with 2x
the training steps (12000) for every learner. If the failed checks then hold, our budget was too
short ("our protocol fails"); if not, the claim fails at this scale.

Budget history (why 6000 steps): the first run of this reproduction used 2000 steps for every
learner, and identification (check 4) failed on all three seeds. Its control, 3x the steps (6000)
for every learner, brought the damping R^2 to 0.99 and 0.97 on seeds 0 and 2 but only 0.56 on
seed 1. A verdict shown by a control to come from our budget is not a result about the paper, so
the protocol above was refixed, before this run, at the length that control showed sufficient
(6000 steps, the same for all learners, baselines included), with the checks unchanged and a new
control (2x longer again) for a seed that still fails.

Departures: the paper's systems and sizes differ (it reports several systems, more environments and
longer training); the budget here is a CPU-sized one for all learners alike.

    zoo reproduce camel-affine-meta --part repro
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

from .baselines import ANIL, SingleModel
from .model import apply_parameter_map, fit_parameter_map, parameter_r2
from .task import MultiEnvironmentTask

HIDDEN, LAYERS, RANK = 32, 2, 2
STEPS, LR = 6000, 3e-3
CONTROL_FACTOR = 2  # the control's training length, as a multiple of STEPS
RIDGE = 1e-4
ANIL_STEPS, ANIL_LR = 5, 0.1
R2_THRESHOLD = 0.9


def _train_arrays(task):
    x, env, y = task.splits()["train"].tensors
    return x, env, y


def train_camel(task, seed: int, steps: int):
    torch.manual_seed(seed)
    model = zoo.create("camel-affine-meta", environments=len(task.train_params), hidden_dim=HIDDEN,
                       hidden_layers=LAYERS, rank=RANK, ridge=RIDGE)
    x, env, y = _train_arrays(task)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    for _ in range(steps):
        optimizer.zero_grad()
        F.mse_loss(model(x, env), y).backward()
        optimizer.step()
    return model


def train_single(task, seed: int, steps: int):
    torch.manual_seed(seed)
    model = SingleModel(2, 1, HIDDEN, LAYERS)
    x, _, y = _train_arrays(task)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    for _ in range(steps):
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
    return model


def _per_environment(task) -> tuple[torch.Tensor, torch.Tensor]:
    """The training part of each training environment as (envs, n, .) tensors (n: the smallest count)."""
    x, env, y = _train_arrays(task)
    n = min(int((env == e).sum()) for e in range(len(task.train_params)))
    xs = torch.stack([x[env == e][:n] for e in range(len(task.train_params))])
    ys = torch.stack([y[env == e][:n] for e in range(len(task.train_params))])
    return xs, ys


def train_anil(task, seed: int, steps: int, shots: int):
    torch.manual_seed(seed)
    model = ANIL(2, 1, HIDDEN, LAYERS, inner_steps=ANIL_STEPS, inner_lr=ANIL_LR)
    xs, ys = _per_environment(task)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        pick = torch.rand(xs.shape[:2], generator=generator).argsort(1)  # a fresh support/query split each step
        support_idx, query_idx = pick[:, :shots], pick[:, shots:2 * shots]
        gather = lambda t, i: torch.gather(t, 1, i[..., None].expand(-1, -1, t.shape[-1]))  # noqa: E731
        optimizer.zero_grad()
        model.meta_loss((gather(xs, support_idx), gather(ys, support_idx)),
                        (gather(xs, query_idx), gather(ys, query_idx))).backward()
        optimizer.step()
    return model


def _tensor(a) -> torch.Tensor:
    return torch.as_tensor(a, dtype=torch.float32)


def evaluate(task, camel, single, anil) -> dict:
    """Query MSE after adaptation, median adaptation seconds, and CAMEL's identification R^2."""
    errors = {"CAMEL": [], "single model": [], "ANIL": []}
    times = {"CAMEL": [], "ANIL": []}
    weights = []
    for env in task.unseen:
        sx, sy = map(_tensor, env["support"])
        qx, qy = map(_tensor, env["query"])
        with torch.no_grad():
            start = time.perf_counter()
            w = camel.adapt(sx, sy)
            times["CAMEL"].append(time.perf_counter() - start)
            weights.append(w)
            errors["CAMEL"].append(F.mse_loss(camel.predict(qx, w), qy).item())
            errors["single model"].append(F.mse_loss(single(qx), qy).item())
        start = time.perf_counter()
        head = anil.adapt(sx[None], sy[None])
        times["ANIL"].append(time.perf_counter() - start)
        with torch.no_grad():
            errors["ANIL"].append(F.mse_loss(anil.predict(qx[None], head)[0], qy).item())
    mapping = fit_parameter_map(camel.task_weights.detach(), torch.as_tensor(task.coefficients))
    estimate = apply_parameter_map(torch.stack(weights), mapping)
    r2 = parameter_r2(estimate, torch.as_tensor(task.unseen_coefficients)).tolist()
    return {"mse": {k: float(np.mean(v)) for k, v in errors.items()},
            "adapt_ms": {k: 1e3 * statistics.median(v) for k, v in times.items()},
            "r2": r2, "r2_min": min(r2)}


def run_seed(seed: int, steps: int, sizes: dict) -> dict:
    task = MultiEnvironmentTask(system="pendulum", seed=seed, **sizes)
    shots = task.info.extra["support"]
    start = time.perf_counter()
    camel = train_camel(task, seed, steps)
    single = train_single(task, seed, steps)
    anil = train_anil(task, seed, steps, shots)
    result = evaluate(task, camel, single, anil)
    result.update(seed=seed, steps=steps, seconds=time.perf_counter() - start)
    return result


def _row(r: dict, label: str = "") -> list:
    m, t = r["mse"], r["adapt_ms"]
    return [f"{r['seed']}{label}", f"{m['CAMEL']:.5f}", f"{m['ANIL']:.5f}", f"{m['single model']:.5f}",
            f"{t['CAMEL']:.3f}", f"{t['ANIL']:.3f}", f"{r['r2'][0]:.3f}", f"{r['r2'][1]:.3f}"]


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    seeds = list(run.pick((0, 1, 2), (0,)))
    steps = run.pick(STEPS, 100)
    sizes = run.pick({}, {"train_envs": 6, "unseen_envs": 4, "points": 40, "query": 20})
    start = time.time()
    results = []
    for seed in seeds:
        results.append(run_seed(seed, steps, sizes))
        r = results[-1]
        print(f"seed {seed}: query MSE CAMEL {r['mse']['CAMEL']:.5f} ANIL {r['mse']['ANIL']:.5f} single "
              f"{r['mse']['single model']:.5f}; adapt ms CAMEL {r['adapt_ms']['CAMEL']:.3f} ANIL "
              f"{r['adapt_ms']['ANIL']:.3f}; R2 {np.round(r['r2'], 3)} ({r['seconds']:.0f}s)", flush=True)
    mse = lambda k: [r["mse"][k] for r in results]  # noqa: E731
    checks = [
        Check("query MSE on unseen environments: CAMEL < single model", ours=mse("CAMEL"), versus=mse("single model"),
              better="lower"),
        Check("query MSE on unseen environments: CAMEL < ANIL", ours=mse("CAMEL"), versus=mse("ANIL"), better="lower"),
        Check("adaptation time (ms, one environment): CAMEL < ANIL", ours=[r["adapt_ms"]["CAMEL"] for r in results],
              versus=[r["adapt_ms"]["ANIL"] for r in results], better="lower"),
        Check(f"identification: min R^2 of (omega^2, damping) from CAMEL's weights > {R2_THRESHOLD}",
              ours=[r["r2_min"] for r in results], versus=R2_THRESHOLD, better="higher"),
    ]
    failing = [r for r in results if not (r["mse"]["CAMEL"] < r["mse"]["single model"]
                                           and r["mse"]["CAMEL"] < r["mse"]["ANIL"] and r["r2_min"] > R2_THRESHOLD)]
    control = {}
    for r in failing:
        longer = run_seed(r["seed"], CONTROL_FACTOR * steps, sizes)
        held = {"CAMEL < single": longer["mse"]["CAMEL"] < longer["mse"]["single model"],
                "CAMEL < ANIL": longer["mse"]["CAMEL"] < longer["mse"]["ANIL"],
                "R^2 > threshold": longer["r2_min"] > R2_THRESHOLD}
        failed_before = [k for k, ok in {"CAMEL < single": r["mse"]["CAMEL"] < r["mse"]["single model"],
                                         "CAMEL < ANIL": r["mse"]["CAMEL"] < r["mse"]["ANIL"],
                                         "R^2 > threshold": r["r2_min"] > R2_THRESHOLD}.items() if not ok]
        recovered = all(held[k] for k in failed_before)
        longer_label = f"{CONTROL_FACTOR}x the training steps ({CONTROL_FACTOR * steps})"
        control[str(r["seed"])] = {
            "failed": failed_before, "result_longer": longer, "held_longer": held,
            "conclusion": (f"holds with {longer_label}: our budget was too short (our protocol fails)" if recovered
                           else f"still fails with {longer_label}: the claim fails at this scale")}
        print(f"control seed {r['seed']} ({CONTROL_FACTOR}x steps): {control[str(r['seed'])]['conclusion']}; R2 "
              f"{np.round(longer['r2'], 3)}, MSE {longer['mse']}", flush=True)

    rows = [_row(r) for r in results] + [_row(c["result_longer"], f" ({CONTROL_FACTOR}x steps)")
                                         for c in control.values()]
    mean = lambda xs: float(np.mean(xs))  # noqa: E731
    summary = (f"Damped pendulum, {sizes.get('train_envs', 20)} training and {sizes.get('unseen_envs', 20)} unseen "
               f"environments, 10 support points each ({len(seeds)} seeds, {steps} steps for every learner). "
               f"Query MSE after adaptation: CAMEL {mean(mse('CAMEL')):.5f}, ANIL {mean(mse('ANIL')):.5f}, single model "
               f"{mean(mse('single model')):.5f} (means over seeds). One adaptation takes "
               f"{mean([r['adapt_ms']['CAMEL'] for r in results]):.2f} ms for CAMEL (least squares) against "
               f"{mean([r['adapt_ms']['ANIL'] for r in results]):.2f} ms for ANIL ({ANIL_STEPS} gradient steps). "
               f"Identification R^2 on unseen environments: omega^2 "
               + ", ".join(f"{r['r2'][0]:.3f}" for r in results) + "; damping "
               + ", ".join(f"{r['r2'][1]:.3f}" for r in results) + " (per seed).")
    if control:
        summary += f" Control ({CONTROL_FACTOR}x steps): " + "; ".join(
            f"seed {s}: failed {c['failed']}, {c['conclusion']} (R^2 {c['result_longer']['r2'][0]:.3f}/"
            f"{c['result_longer']['r2'][1]:.3f}, MSE CAMEL {c['result_longer']['mse']['CAMEL']:.5f} ANIL "
            f"{c['result_longer']['mse']['ANIL']:.5f})" for s, c in control.items()) + "."
    print(summary)
    run.record(
        "camel-affine-meta",
        claim="A model affine in task-specific weights (CAMEL) generalises to unseen environments at low adaptation "
              "cost and its weights identify the physical parameters.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"camel/pendulum: 20 training environments x 100 points (70% used for training), 20 unseen environments "
              f"with 10 support / 100 query points, noise std 0.01. Same MLP body (2 x {HIDDEN} tanh) and budget for all: "
              f"{steps} full-batch Adam steps at lr {LR}. CAMEL r = {RANK}, multi-task training, ridge {RIDGE} at "
              f"adaptation; single model without task weights; ANIL with a meta-learned linear head, {ANIL_STEPS} inner "
              f"steps at lr {ANIL_LR} on 10 support points, outer loss on 10 query points per training environment, "
              f"second order. Identification: affine least-squares map from the training environments' weights to "
              f"(omega^2, damping), R^2 on the unseen environments. Control for a failing seed: {CONTROL_FACTOR}x "
              f"steps. Budget: the first run used 2000 steps; its control (3x steps) showed identification to hold "
              f"on 2 of 3 seeds with 6000, so 6000 steps for every learner is the protocol of this run. "
              f"Departures: one system (the paper's pendulum-type toy system) at CPU size; multi-task training by "
              f"Adam.",
        table={"columns": ["seed", "MSE CAMEL", "MSE ANIL", "MSE single", "adapt ms CAMEL", "adapt ms ANIL",
                           "R^2 omega^2", "R^2 damping"], "rows": rows},
        paper={"note": "The paper's experiments: CAMEL matches or beats MAML/ANIL/CoDA-style baselines in "
                       "adaptation error on physical "
                       "systems at a fraction of their adaptation cost, and recovers physical parameters linearly "
                       "from its weights (its identifiability result); section and table numbers not checked here."},
        data={"results": results, "control": control or None, "seconds": time.time() - start},
    )
