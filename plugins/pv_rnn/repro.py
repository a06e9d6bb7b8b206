"""Reproduction for `pv-rnn` (Ahmadi & Tani, 2019, Neural Computation 31(11)), the meta-prior
experiment (its first experiment, on PFSM sequences) at small scale.

Claim: PV-RNN generalises best at an intermediate meta-prior w; a high w turns it into a
deterministic (chaotic) generator and a low w into something like a random process.

Protocol, fixed before running:
- Data (`pv-rnn/pfsm`, generated in this folder): per seed s in (0, 1, 2), 16 training sequences of
  6 movement primitives x 8 steps (48 steps, 2-D, noise 0.05) chained by the probabilistic
  finite-state machine (A -> B 0.7 / C 0.3, B -> A, C -> A); 32 fresh test sequences.
- Model: PV-RNN with 2 layers, d = (20, 10), z = (2, 1), tau = (2, 8), tanh output; the meta-prior
  swept over w in (1e-4, 1e-3, 1e-2, 1e-1, 1), the same w in both layers. All 15 networks (5 w x 3
  seeds) start from the seed's initialisation and train together (torch.func.vmap; independent
  losses) for 1000 full-batch Adam steps at lr 0.01, latents sampled from the posterior.
- Test (online prediction by error regression): weights frozen, a fresh adaptive vector A over the
  first 32 steps of each test sequence (4 primitives) is fitted by 100 Adam steps at lr 0.1 on the
  weighted ELBO (posterior means), then the network predicts the next 8 steps (one primitive) from
  its prior means. Metric: prediction MSE on those 8 steps.
- Dynamics of the prior: free generation of 32 sequences of 48 steps from the prior (sampled);
  the mean prior sigma over steps and layers (near 0: deterministic; near 1: random), and the
  pattern distance: the MSE of each generated 8-step segment to its nearest primitive.

Checks (per seed; fixed before running):
  1. intermediate w generalises best: the lowest test prediction MSE over w in (1e-3, 1e-2, 1e-1)
     is below the lower of the MSEs at w = 1e-4 and w = 1;
  2. high w is deterministic: the mean prior sigma at w = 1 is below the one at w = 1e-4;
  3. low w is random-like: free generation at w = 1e-4 is further from the primitives (pattern
     distance) than the best of the intermediate w.

Control, fixed before running, for seeds where check 1 fails: the same seed's five networks
trained 2x longer (2000 steps). If check 1 then holds, our training length was at fault (our
protocol fails); if not, the claim fails at this scale.

Departures: the paper's networks, sequence lengths and training (Adam at lr 0.001 for many
thousands of epochs) are larger and longer; lr 0.01 and 1000 steps fit the CPU budget. The loss is
normalised per dimension and step; error regression fits the whole observed window at once
instead of a sliding window.

    zoo reproduce pv-rnn --part repro
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

from .model import weighted_elbo
from .task import PFSMTask, primitive

META_PRIORS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
PRIMITIVES, PERIOD = 6, 8
OBSERVED, HORIZON = 32, 8
STEPS, LR = 1000, 0.01
ER_STEPS, ER_LR = 100, 0.1
GENERATED = 32


class _Modes(nn.Module):
    """Routes a functional call to the PV-RNN's training, error-regression or generation path."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, mode: str, *args):
        if mode == "train":
            return self.net(*args)
        if mode == "posterior":
            a_mu, a_sigma, horizon = args
            out = self.net.rollout(a_mu.shape[0], a_mu.shape[1], a_mu, a_sigma, sample=False)
            ahead = self.net.rollout(a_mu.shape[0], horizon, sample=False, state=out["state"])
            return out, ahead["output"]
        batch, steps = args
        out = self.net.rollout(batch, steps, sample=True)
        return {"output": out["output"], "prior_sigma": out["prior_sigma"]}


def pattern_distance(generated: torch.Tensor) -> float:
    """Mean over 8-step segments of the MSE to the nearest primitive."""
    shapes = torch.as_tensor(np.stack([primitive(s, PERIOD) for s in range(3)]), dtype=generated.dtype)
    segments = generated[:, : generated.shape[1] // PERIOD * PERIOD].reshape(-1, PERIOD, 2)
    distances = ((segments[:, None] - shapes[None]) ** 2).mean((2, 3))  # (segments, 3)
    return float(distances.min(1).values.mean())


def run_group(seeds: list[int], steps: int, sizes: dict) -> list[dict]:
    """Train the 5 meta-priors x `seeds` networks together, then test each; one result per (seed, w)."""
    tasks = {seed: PFSMTask(seed=seed, primitives=PRIMITIVES, period=PERIOD, **sizes) for seed in seeds}
    models, targets, tests, labels = [], [], [], []
    for seed in seeds:
        index, x = tasks[seed].splits()["train"].tensors
        for w in META_PRIORS:
            torch.manual_seed(seed)  # the same initialisation for every w of a seed
            models.append(zoo.create("pv-rnn", task=tasks[seed], meta_prior=[w, w]))
            targets.append(x), tests.append(torch.as_tensor(tasks[seed].data["test"], dtype=torch.float32))
            labels.append((seed, w))
    targets, tests = torch.stack(targets), torch.stack(tests)
    params, buffers = stack_module_state(models)
    base = _Modes(copy.deepcopy(models[0]).to("meta"))
    z_units = models[0].config.z_units
    prefixed = lambda p, b: ({f"net.{k}": v for k, v in p.items()}, {f"net.{k}": v for k, v in b.items()})  # noqa: E731

    def train_loss(p, b, x):
        out = functional_call(base, prefixed(p, b), ("train", index))
        parts = weighted_elbo(out, x, b["meta_prior"], z_units)
        return parts["loss"], parts["reconstruction"]

    optimizer = torch.optim.Adam(params.values(), lr=LR)
    batched = vmap(train_loss, randomness="different")
    start = time.perf_counter()
    base.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss, _ = batched(params, buffers, targets)
        loss.sum().backward()
        optimizer.step()
    train_seconds = time.perf_counter() - start
    base.eval()
    frozen = {k: v.detach() for k, v in params.items()}
    with torch.no_grad():
        _, train_rec = vmap(train_loss)(frozen, buffers, targets)

    # error regression on the test sequences: a fresh A per network and test sequence
    observed, future = tests[:, :, :OBSERVED], tests[:, :, OBSERVED:OBSERVED + HORIZON]
    shape = (len(models), tests.shape[1], OBSERVED, sum(z_units))
    a_mu, a_sigma = torch.zeros(shape, requires_grad=True), torch.zeros(shape, requires_grad=True)

    def recognise(p, b, mu, sigma, obs):
        out, ahead = functional_call(base, prefixed(p, b), ("posterior", mu, sigma, HORIZON))
        return weighted_elbo(out, obs, b["meta_prior"], z_units)["loss"], out["output"], ahead

    recognise_all = vmap(recognise)
    er_optimizer = torch.optim.Adam([a_mu, a_sigma], lr=ER_LR)
    for _ in range(ER_STEPS):
        er_optimizer.zero_grad()
        loss, _, _ = recognise_all(frozen, buffers, a_mu, a_sigma, observed)
        loss.sum().backward()
        er_optimizer.step()
    with torch.no_grad():
        _, window, prediction = recognise_all(frozen, buffers, a_mu, a_sigma, observed)
        generate = lambda p, b: functional_call(base, prefixed(p, b), ("generate", GENERATED,  # noqa: E731
                                                                         PRIMITIVES * PERIOD))
        torch.manual_seed(0)
        free = vmap(generate, randomness="different")(frozen, buffers)
    results = []
    for i, (seed, w) in enumerate(labels):
        results.append({
            "seed": seed, "w": w, "steps": steps, "train_reconstruction": float(train_rec[i]),
            "test_window_mse": float(((window[i] - observed[i]) ** 2).mean()),
            "test_prediction_mse": float(((prediction[i] - future[i]) ** 2).mean()),
            "prior_sigma": float(free["prior_sigma"][i, :, 1:].mean()),  # step 1's prior is N(0, I) by definition
            "pattern_distance": pattern_distance(free["output"][i]), "train_seconds": train_seconds})
    return results


def _by_seed(results: list[dict], seed: int) -> dict[float, dict]:
    return {r["w"]: r for r in results if r["seed"] == seed}


def _judge_seed(results: list[dict], seed: int) -> dict:
    r = _by_seed(results, seed)
    low, high, middle = META_PRIORS[0], META_PRIORS[-1], META_PRIORS[1:-1]
    best_middle = min(middle, key=lambda w: r[w]["test_prediction_mse"])
    return {"best_intermediate_mse": r[best_middle]["test_prediction_mse"], "best_intermediate_w": best_middle,
            "extreme_mse": min(r[low]["test_prediction_mse"], r[high]["test_prediction_mse"]),
            "sigma_high": r[high]["prior_sigma"], "sigma_low": r[low]["prior_sigma"],
            "pattern_low": r[low]["pattern_distance"],
            "pattern_best_intermediate": min(r[w]["pattern_distance"] for w in middle),
            "best_w": min(META_PRIORS, key=lambda w: r[w]["test_prediction_mse"])}


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    seeds = list(run.pick((0, 1, 2), (0,)))
    steps = run.pick(STEPS, 20)
    sizes = run.pick({}, {"n_train": 16, "n_test": 4})
    start = time.time()
    results = run_group(seeds, steps, sizes)
    judged = {seed: _judge_seed(results, seed) for seed in seeds}
    for r in results:
        print(f"seed {r['seed']} w {r['w']:g}: train rec {r['train_reconstruction']:.4f}, test prediction "
              f"{r['test_prediction_mse']:.4f} (window {r['test_window_mse']:.4f}), prior sigma {r['prior_sigma']:.3f}, "
              f"pattern distance {r['pattern_distance']:.4f}", flush=True)
    get = lambda key: [judged[s][key] for s in seeds]  # noqa: E731
    checks = [
        Check("test prediction MSE after error regression: best intermediate w (1e-3..1e-1) < best extreme w "
              "(1e-4 or 1)", ours=get("best_intermediate_mse"), versus=get("extreme_mse"), better="lower"),
        Check("high w is deterministic: mean prior sigma in free generation at w = 1 < at w = 1e-4",
              ours=get("sigma_high"), versus=get("sigma_low"), better="lower"),
        Check("low w is random-like: pattern distance of free generation at w = 1e-4 > best intermediate w",
              ours=get("pattern_low"), versus=get("pattern_best_intermediate"), better="higher"),
    ]
    failing = [s for s in seeds if not judged[s]["best_intermediate_mse"] < judged[s]["extreme_mse"]]
    control = {}
    if failing:
        longer = run_group(failing, 2 * steps, sizes)
        for seed in failing:
            verdict = _judge_seed(longer, seed)
            held = verdict["best_intermediate_mse"] < verdict["extreme_mse"]
            control[str(seed)] = {"results_2x": list(_by_seed(longer, seed).values()), "judged_2x": verdict,
                                  "conclusion": ("an intermediate w is best with 2x training: our training length was "
                                                 "at fault (our protocol fails)" if held else
                                                 "still no intermediate optimum with 2x training: the claim fails at "
                                                 "this scale")}
            print(f"control seed {seed}: {control[str(seed)]['conclusion']}", flush=True)

    rows = [[r["seed"], f"{r['w']:g}", f"{r['train_reconstruction']:.4f}", f"{r['test_window_mse']:.4f}",
             f"{r['test_prediction_mse']:.4f}", f"{r['prior_sigma']:.3f}", f"{r['pattern_distance']:.4f}"]
            for r in results]
    rows += [[f"{c['results_2x'][0]['seed']} (2x steps)", f"{r['w']:g}", f"{r['train_reconstruction']:.4f}",
              f"{r['test_window_mse']:.4f}", f"{r['test_prediction_mse']:.4f}", f"{r['prior_sigma']:.3f}",
              f"{r['pattern_distance']:.4f}"] for c in control.values() for r in c["results_2x"]]
    mean_by_w = {w: float(np.mean([r["test_prediction_mse"] for r in results if r["w"] == w])) for w in META_PRIORS}
    sigma_by_w = {w: float(np.mean([r["prior_sigma"] for r in results if r["w"] == w])) for w in META_PRIORS}
    summary = (f"PFSM sequences, PV-RNN swept over w ({len(seeds)} seeds, {steps} steps). Test prediction MSE after "
               f"error regression, mean over seeds: " + ", ".join(f"w={w:g}: {v:.4f}" for w, v in mean_by_w.items())
               + "; best w per seed: " + ", ".join(f"{judged[s]['best_w']:g}" for s in seeds)
               + ". Mean prior sigma in free generation: " + ", ".join(f"w={w:g}: {v:.3f}" for w, v in sigma_by_w.items())
               + ".")
    if control:
        summary += " Control (2x steps): " + "; ".join(f"seed {s}: {c['conclusion']} (best w "
                                                       f"{c['judged_2x']['best_w']:g})" for s, c in control.items()) + "."
    print(summary)
    run.record(
        "pv-rnn",
        claim="PV-RNN generalises best at an intermediate meta-prior w; a high w gives deterministic (chaotic) "
              "dynamics and a low w behaves like a random process.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"pv-rnn/pfsm: 16 training sequences of {PRIMITIVES} primitives x {PERIOD} steps (noise 0.05), 32 test "
              f"sequences. PV-RNN d = (20, 10), z = (2, 1), tau = (2, 8); w in {list(META_PRIORS)} in both layers; "
              f"{steps} full-batch Adam steps at lr {LR}, posterior samples; all networks trained together with "
              f"torch.func.vmap (independent losses). Error regression: {ER_STEPS} Adam steps at lr {ER_LR} on a fresh "
              f"A over the first {OBSERVED} test steps, then {HORIZON} steps predicted from the prior means. Free "
              f"generation: {GENERATED} sampled sequences of {PRIMITIVES * PERIOD} steps. Control for a failing seed: 2x "
              f"steps. Departures: smaller network, shorter sequences, lr 0.01 and 1000 steps instead of the paper's "
              f"lr 0.001 over many thousands of epochs; loss per dimension and step; error regression over the whole "
              f"observed window.",
        table={"columns": ["seed", "w", "train reconstruction", "test window MSE", "test prediction MSE",
                           "prior sigma (free generation)", "pattern distance (free generation)"], "rows": rows},
        paper={"note": "First experiment: with PFSM-generated training data, an intermediate meta-prior gave the best "
                       "generalisation; a large w made the network a deterministic (chaotic) generator with small "
                       "prior sigma, and a small w gave random-process-like generation with large sigma."},
        data={"results": results, "judged": {str(k): v for k, v in judged.items()}, "control": control or None,
              "seconds": time.time() - start},
    )
