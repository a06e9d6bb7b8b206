"""Reproduction for `nade` (Uria et al., 2016, arXiv:1605.02226) on binarised 8x8 digits.

Claim: NADE's exact log-likelihood beats tractable baselines (factorised Bernoulli, mixture of
Bernoullis fit by EM) on binary image data, and order-agnostic training (DeepNADE) gives one
model that is good under arbitrary orderings.

Setup: task `digits-binarized` (1000 train / 300 val / 497 test, 64 binary pixels). Baselines fit
in closed form / by EM, the number of mixture components chosen on val. NADE (one sigmoid layer of
500 units, natural ordering) and DeepNADE (two ReLU layers of 500, masks, Eq. 29) trained with
zoo.train (AdamW without decay, a fixed number of epochs), three seeds each. Test NLL in nats per image; for
DeepNADE under the natural ordering, under 5 random orderings, and for their ensemble.

    zoo reproduce nade --part repro
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check
from zoo_plugins.nade.data import binarized_digit_arrays
from zoo_plugins.nade.model import random_orderings


def bernoulli_nll(train: np.ndarray, test: np.ndarray, alpha: float = 1.0) -> float:
    """Factorised Bernoulli, MLE with add-alpha smoothing."""
    p = (train.sum(0) + alpha) / (len(train) + 2 * alpha)
    return float(-(test * np.log(p) + (1 - test) * np.log(1 - p)).sum(1).mean())


def mixture_of_bernoullis(train: np.ndarray, k: int, seed: int, iters: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """EM for a K-component mixture of factorised Bernoullis (Beta(2,2)-smoothed M step)."""
    rng = np.random.default_rng(seed)
    weights = np.full(k, 1.0 / k)
    probs = rng.uniform(0.25, 0.75, (k, train.shape[1]))
    for _ in range(iters):
        log_joint = np.log(weights) + train @ np.log(probs).T + (1 - train) @ np.log(1 - probs).T
        resp = np.exp(log_joint - log_joint.max(1, keepdims=True))
        resp /= resp.sum(1, keepdims=True)
        mass = resp.sum(0)
        weights = (mass + 1e-3) / (mass.sum() + k * 1e-3)
        probs = (resp.T @ train + 1) / (mass[:, None] + 2)
    return weights, probs


def mixture_nll(weights: np.ndarray, probs: np.ndarray, data: np.ndarray) -> float:
    log_joint = np.log(weights) + data @ np.log(probs).T + (1 - data) @ np.log(1 - probs).T
    top = log_joint.max(1, keepdims=True)
    return float(-(top.squeeze(1) + np.log(np.exp(log_joint - top).sum(1))).mean())


def train_nade(variant: str, seed: int, epochs: int, **sizes) -> tuple[torch.nn.Module, dict]:
    torch.manual_seed(seed)
    model = zoo.create("nade", variant=variant, task="digits-binarized", **sizes)
    result = zoo.train(model, "digits-binarized", epochs=epochs, batch_size=100, lr=1e-3, seed=seed, eval_splits=[])
    return model, {"epochs": result.epochs, "seconds": result.seconds, "final": result.final}


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The claim's checks from a record's data: on each seed, NADE, DeepNADE in the natural order and
    DeepNADE under its worst random ordering each have a lower test NLL than the better baseline
    (the factorised Bernoulli, or that seed's mixture of Bernoullis)."""
    seeds = list(data["seeds"])
    best_baseline = [min(data["factorised"], m) for m in data["mixture_test"]]
    worst_ordering = [max(o) for o in data["deepnade_orderings"]]
    return seeds, [
        Check("NADE test NLL < the better baseline's", ours=data["nade"], versus=best_baseline, better="lower"),
        Check("DeepNADE (natural order) test NLL < the better baseline's", ours=data["deepnade_natural"],
              versus=best_baseline, better="lower"),
        Check("DeepNADE under its worst of 5 random orderings < the better baseline's", ours=worst_ordering,
              versus=best_baseline, better="lower"),
    ]


def reproduce(run: Run) -> None:
    SEEDS = run.pick((0, 1, 2), (0,))
    NADE_EPOCHS, DEEP_EPOCHS = run.pick((100, 200), (1, 1))
    NADE_SIZE, DEEP_SIZE = run.pick(({}, {}), ({"hidden_sizes": [16]}, {"hidden_sizes": [16, 16]}))
    torch.set_num_threads(1)
    start = time.time()
    arrays = binarized_digit_arrays()
    train, val, test = (arrays[s][0].numpy().astype(np.float64) for s in ("train", "val", "test"))

    factorised = bernoulli_nll(train, test)
    best_k, best_val, mob_test = None, math.inf, None
    mob_by_k = {}
    for k in (2, 5, 10, 20, 40):
        fits = [mixture_of_bernoullis(train, k, seed) for seed in SEEDS]
        vals = [mixture_nll(w, p, val) for w, p in fits]
        mob_by_k[k] = {"val": float(np.mean(vals)), "test": float(np.mean([mixture_nll(w, p, test) for w, p in fits]))}
        if np.mean(vals) < best_val:
            best_k, best_val = k, float(np.mean(vals))
            mob_test = [mixture_nll(w, p, test) for w, p in fits]

    test_x = arrays["test"][0]
    nade_nll, deep_natural, deep_orderings, deep_ensemble, runs = [], [], [], [], {}
    orderings = random_orderings(5, 64, seed=123)
    for seed in SEEDS:
        model, info = train_nade("default", seed, epochs=NADE_EPOCHS, **NADE_SIZE)
        runs[f"nade-seed{seed}"] = info
        if seed == SEEDS[0]:
            run.keep(model, "digits-binarized")
        with torch.no_grad():
            nade_nll.append(float(-model.eval().log_prob(test_x).mean()))
        deep, info = train_nade("deepnade", seed, epochs=DEEP_EPOCHS, **DEEP_SIZE)
        runs[f"deepnade-seed{seed}"] = info
        deep.eval()
        with torch.no_grad():
            deep_natural.append(float(-deep.log_prob(test_x).mean()))
            deep_orderings.append([float(-deep.log_prob(test_x, o).mean()) for o in orderings])
            deep_ensemble.append(float(-deep.ensemble_log_prob(test_x, orderings).mean()))

    def ms(values) -> str:
        return f"{np.mean(values):.2f} ± {np.std(values):.2f}"

    per_ordering = np.array(deep_orderings)  # (seeds, orderings)
    rows = [
        ["factorised Bernoulli", f"{factorised:.2f}", "closed form"],
        [f"mixture of Bernoullis (K={best_k}, EM)", ms(mob_test), f"K chosen on val, {len(SEEDS)} restarts"],
        ["NADE (500 sigmoid, natural order)", ms(nade_nll), f"{len(SEEDS)} seeds"],
        ["DeepNADE (2x500 ReLU), natural order", ms(deep_natural), f"{len(SEEDS)} seeds"],
        ["DeepNADE, 5 random orderings (each)", f"{per_ordering.mean():.2f} (range {per_ordering.min():.2f}-"
                                                f"{per_ordering.max():.2f})", f"{len(SEEDS)} seeds x 5 orderings"],
        ["DeepNADE, ensemble of the 5 orderings", ms(deep_ensemble), "log-mean-exp of likelihoods"],
    ]
    data = {"seeds": list(SEEDS), "factorised": factorised, "mixture_by_k": mob_by_k, "mixture_best_k": best_k,
            "mixture_test": mob_test, "nade": nade_nll, "deepnade_natural": deep_natural,
            "deepnade_orderings": deep_orderings, "deepnade_ensemble": deep_ensemble, "runs": runs}
    seeds, checks = claim_checks(data)
    held = {c.name: sum(c.holds(o, v) for o, v in c.per_seed()) for c in checks}
    nade_beats = held[checks[0].name] == len(seeds)
    deep_beats_any_order = held[checks[1].name] == held[checks[2].name] == len(seeds)
    summary = (f"Test NLL (nats per 64-pixel image, lower is better): factorised Bernoulli {factorised:.2f}, "
               f"mixture of {best_k} Bernoullis {ms(mob_test)}, NADE {ms(nade_nll)}, DeepNADE {ms(deep_natural)} "
               f"in the natural order and {per_ordering.mean():.2f} on average over 5 random orderings "
               f"(worst ordering/seed {per_ordering.max():.2f}); the 5-ordering ensemble gives {ms(deep_ensemble)}. "
               + ("NADE beats both baselines on every seed. " if nade_beats else
                  "NADE does not beat the best baseline on every seed. ")
               + ("DeepNADE beats them under every ordering tried, with a spread across orderings of "
                  f"{(per_ordering.max(1) - per_ordering.min(1)).mean():.2f} nats per seed."
                  if deep_beats_any_order else "DeepNADE does not beat the best baseline under every ordering.")
               + " Per seed " + ", ".join(map(str, seeds)) + ": "
               + "; ".join(f"{label} {', '.join(f'{v:.2f}' for v in values)}" for label, values in (
                   ("mixture", mob_test), ("NADE", nade_nll), ("DeepNADE natural", deep_natural),
                   ("DeepNADE worst ordering", per_ordering.max(1)))) + ".")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = ["factorised", f"MoB K={best_k}", "NADE", "DeepNADE\nnatural", "DeepNADE\nrandom orders", "DeepNADE\nensemble"]
    values = [[factorised], mob_test, nade_nll, deep_natural, per_ordering.ravel(), deep_ensemble]
    ax.bar(range(len(labels)), [np.mean(v) for v in values], yerr=[np.std(v) for v in values], color="tab:blue")
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylabel("test NLL (nats / image)")
    ax.set_ylim(min(np.mean(v) for v in values) * 0.9, max(np.mean(v) for v in values) * 1.05)
    ax.set_title("binarised 8x8 digits")
    fig.tight_layout()
    fig.savefig(run.figure("nade_nll.png"), dpi=120)

    run.record(
        "nade",
        claim="NADE gives exact tractable log-likelihoods that beat simple tractable baselines (factorised / mixture "
              "of Bernoullis) on binary image data, and order-agnostic training supports arbitrary orderings.",
        seeds=seeds, checks=checks, summary=summary,
        setup="digits-binarized (sklearn 8x8 digits, pixel > 8 of 16): 1000 train / 300 val / 497 test. NADE: "
              f"hidden 500, sigmoid; DeepNADE: hidden [500, 500], ReLU, order-agnostic loss (Eq. 29). zoo.train, "
              f"AdamW lr 1e-3 without decay, batch 100, {NADE_EPOCHS} epochs (NADE) / {DEEP_EPOCHS} (DeepNADE), "
              f"seeds {list(SEEDS)}. Mixture of Bernoullis: EM (200 iterations, smoothed M step), K in {2,5,10,20,40} chosen "
              "on val. Exact NLL computed in closed form for all models (DeepNADE: 64 masked passes per ordering).",
        table={"columns": ["model", "test NLL (nats)", "notes"], "rows": rows},
        paper={"note": "The paper reports MNIST (28x28) results, not comparable in scale; its ordering is the same: "
                       "mixture of Bernoullis worst, NADE and DeepNADE far better."},
        figures=["nade_nll.png"],
        data={**data, "seconds": time.time() - start},
    )
    print(summary)
