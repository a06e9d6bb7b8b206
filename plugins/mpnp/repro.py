"""Reproduction for `mpnp` (Lee et al., ICLR 2023), 1D regression on GP functions (Sec. 5.1).

Claim: Martingale Posterior Neural Processes reach a better predictive log-likelihood than the
latent-variable neural process baseline.

Protocol, fixed before running:
- Data: functions from GP priors with an RBF kernel (`mpnp/gp-rbf` generator: lengthscale
  U[0.1, 0.6], scale U[0.1, 1], noise 0.02, x ~ U[-2, 2], 3-47 context and 3-47 target points of
  50), a fresh batch of 16 functions per step as in the paper; per seed s (0, 1, 2) the training
  stream and the model initialisation are seeded by s, and a fixed test set of 500 functions by
  1000 + s.
- Models, one backbone each (encoder depth 4, decoder depth 3, width 64): MPNP (generator depth 3,
  noise 8, m = 10 pseudo points, K = 5 draws in training), the latent-variable NP (deterministic and
  latent paths, ELBO), and the CNP (target NLL). Same optimiser and length for all: Adam, lr 5e-4,
  1000 steps, batch 16.
- Metric: the test predictive log-likelihood of the targets, per target point, joint over a
  function's targets (log-mean-exp over K = 20 draws for MPNP and NP; exact for the CNP).

Verdict rule (written before the first full run), per seed: MPNP's test target log-likelihood above
the latent NP's. (The CNP is reported beside them, with no check: the paper's claim is about
latent-variable baselines.)

Control, fixed before running, for a seed where the check fails: MPNP and NP trained 3x longer on
that seed (the first such seed only: the budget). If MPNP then wins, our training length was to
blame; if not, the claim fails at this scale.

Departures: width 64 instead of 128, K = 5 and m = 10, batch 16 and 1000 steps instead of the
paper's ~100k steps (the CPU budget); the generator, pseudo-input distribution and loss weights are
our simplest reading of the paper.

    zoo reproduce mpnp --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

LR, BATCH, STEPS, WIDTH, TRAIN_SAMPLES, PSEUDO, EVAL_SAMPLES, TEST = 5e-4, 16, 1000, 64, 5, 10, 20, 500


def make(kind: str, seed: int):
    from .model import ConditionalNP, LatentNP

    torch.manual_seed(seed)
    model = zoo.create("mpnp", hidden=WIDTH, n_samples=TRAIN_SAMPLES, n_pseudo=PSEUDO)
    if kind == "mpnp":
        return model
    torch.manual_seed(seed)
    return {"np": LatentNP, "cnp": ConditionalNP}[kind](model.config)


def loss_of(model, x, y, role) -> torch.Tensor:
    from .model import MPNP, LatentNP, predictive_log_likelihood

    if isinstance(model, MPNP):
        return sum(model.losses(x, y, role).values())
    if isinstance(model, LatentNP):
        return model.elbo_loss(x, y, role)
    return -predictive_log_likelihood(model(x, y, role), y, role == 2).mean()


def batches(seed: int, size: int, count: int):
    from .task import sample_gp_batch

    rng = np.random.default_rng(seed)
    for _ in range(count):
        x, y, role = sample_gp_batch(size, rng)
        yield torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32), torch.as_tensor(role)


def train(model, seed: int, steps: int) -> float:
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    start = time.perf_counter()
    model.train()
    for x, y, role in batches(seed, BATCH, steps):
        loss = loss_of(model, x, y, role)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def test_log_likelihood(model, seed: int, functions: int) -> float:
    from .model import ConditionalNP, predictive_log_likelihood

    torch.manual_seed(10_000 + seed)
    model.eval()
    values = []
    with torch.no_grad():
        for x, y, role in batches(1000 + seed, 100, max(1, functions // 100)):
            output = model(x, y, role) if isinstance(model, ConditionalNP) else model(x, y, role, samples=EVAL_SAMPLES)
            values.append(predictive_log_likelihood(output, y, role == 2))
    return float(torch.cat(values).mean())


def run_models(seed: int, steps: int, functions: int, kinds=("mpnp", "np", "cnp")) -> dict:
    out = {}
    for kind in kinds:
        model = make(kind, seed)
        seconds = train(model, seed, steps)
        out[kind] = test_log_likelihood(model, seed, functions)
        out[f"{kind}_params"] = sum(p.numel() for p in model.parameters())
        print(f"seed {seed} {kind}: test target log-likelihood {out[kind]:.4f} ({steps} steps, {seconds:.0f}s)",
              flush=True)
    return out


def reproduce(run: Run) -> None:
    seeds = list(run.pick((0, 1, 2), (0,)))
    steps = run.pick(STEPS, 20)
    functions = run.pick(TEST, 100)
    torch.set_num_threads(1)
    start = time.time()
    results = {seed: run_models(seed, steps, functions) for seed in seeds}
    ours = [results[s]["mpnp"] for s in seeds]
    latent = [results[s]["np"] for s in seeds]
    cnp = [results[s]["cnp"] for s in seeds]
    checks = [Check("MPNP test target log-likelihood above the latent-variable NP's", ours=ours, versus=latent,
                    better="higher")]
    control = None
    lost = [s for s in seeds if results[s]["mpnp"] <= results[s]["np"]]
    if lost:
        seed = lost[0]
        longer = run_models(seed, 3 * steps, functions, kinds=("mpnp", "np"))
        control = {"seed": seed, "steps": 3 * steps, "mpnp": longer["mpnp"], "np": longer["np"],
                   "mpnp_wins": longer["mpnp"] > longer["np"]}
    mean = lambda xs: float(np.mean(xs))  # noqa: E731
    summary = (f"Test target log-likelihood per point over {len(seeds)} seeds: MPNP {mean(ours):.3f} "
               f"({', '.join(f'{v:.3f}' for v in ours)}), latent NP {mean(latent):.3f} "
               f"({', '.join(f'{v:.3f}' for v in latent)}), CNP {mean(cnp):.3f} ({', '.join(f'{v:.3f}' for v in cnp)}).")
    if control:
        summary += (f" Control on seed {control['seed']}, {control['steps']} steps: MPNP {control['mpnp']:.3f}, NP "
                    f"{control['np']:.3f}: " + ("MPNP wins with longer training, so our training length was to blame."
                                                 if control["mpnp_wins"] else
                                                 "MPNP still loses, so the claim fails at this scale."))
    print(summary)
    params = results[seeds[0]]
    run.record(
        "mpnp",
        claim="Martingale Posterior Neural Processes give a better predictive log-likelihood than latent-variable "
              "neural process baselines (1D GP regression, Sec. 5.1).",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"GP-RBF functions (lengthscale U[0.1, 0.6], scale U[0.1, 1], noise 0.02, 50 points, 3-47 contexts), a "
              f"fresh batch of {BATCH} per step, {steps} steps, Adam lr {LR}; test: {functions} functions per seed "
              f"(seeded 1000 + s). Width {WIDTH}, encoder depth 4, decoder depth 3 for all; MPNP generator depth 3, "
              f"noise 8, {PSEUDO} pseudo points, K = {TRAIN_SAMPLES} in training; NP with deterministic and latent "
              f"paths, ELBO; evaluation K = {EVAL_SAMPLES}. Parameters: MPNP {params['mpnp_params']}, NP "
              f"{params['np_params']}, CNP {params['cnp_params']}. Departures: width 64 instead of 128, K and m "
              f"small, batch {BATCH} and {steps} steps instead of ~100k (CPU budget); generator, pseudo inputs "
              f"(uniform on [-2, 2]) and equal loss weights are our reading of the paper.",
        table={"columns": ["seed", "MPNP", "latent NP", "CNP"],
               "rows": [[s, f"{results[s]['mpnp']:.4f}", f"{results[s]['np']:.4f}", f"{results[s]['cnp']:.4f}"]
                        for s in seeds]},
        paper={"note": "Table 1 (1D GP regression, RBF): MPNP has a higher target log-likelihood than CNP, NP, BNP and "
                       "their attentive versions."},
        data={"results": {str(k): v for k, v in results.items()}, "control": control, "steps": steps,
              "seconds": time.time() - start},
    )
