"""Reproduction for `pointer-net` (Pointer Networks, arXiv:1506.03134).

Claim: a Ptr-Net trained on small inputs (convex hull of n <= 10 points) outperforms
seq2seq+attention and still outputs valid answers for longer inputs than seen in training.

Both models (the `default` Ptr-Net and the `seq2seq-attention` variant, whose fixed output
dictionary holds the 10 training positions) are trained on inputs of n = 10 with the same LSTM
size, optimiser and number of steps, through zoo.train, and scored by greedy decoding on fresh
test sets of n = 5 ... 40 with the paper's metrics:

1. `pointer-net/convex-hull` (the paper's task): exact-match accuracy, area coverage on valid
   outputs, fraction of valid polygons.
2. `pointer-net/sort` (a pointer formulation of sorting, much faster to learn): exact accuracy and
   fraction of valid outputs (a permutation of every input).

Departures, forced by the CPU budget: 64 LSTM units instead of the paper's 256-512 (a training
step of the 256-unit model takes over a second on one core, about 20 minutes per 1000 steps and
model); Adam lr 3e-3 instead of SGD lr 1.0, whose rate is set for the paper's long training on 1M
examples; 4000 steps on 40k hulls and 400 on sorting. (The first record trained hulls for 1000
steps, which left seed 2 at chance; its 4x-longer control passed both checks, so the short
training was our protocol's fault, and 4000 steps became the protocol.) Kept from the paper: batch 128, gradient
norm clipped at 2, uniform init in [-0.08, 0.08], a single LSTM layer. Seeds 0, 1, 2
(initialisation, training data and its order; the test sets are the same for every seed). The seed-0 Ptr-Net
trained on convex hulls is kept as the checkpoint `pointer-net.convex-hull`.

Checks, fixed before running (zoo.verdicts, per seed, for each task):
- "outperforms seq2seq+attention": the Ptr-Net's exact accuracy at the training size n = 10 is
  above the baseline's;
- "still outputs valid answers for longer inputs": the Ptr-Net's fraction of valid outputs is
  above one half at every n > 10 (the criterion of the zoo's first record of this claim).

Principled experiment, when a check fails on some seed: both models are trained again on the first
failing seed 4x longer; if the check then holds, our short training is to blame, otherwise the
claim fails at this scale.

    zoo reproduce pointer-net --part repro
"""

from __future__ import annotations

import tempfile
import time

import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds
from zoo_plugins.pointer_net.task import ConvexHullTask, SortTask

SLUG = "pointer-net"
TRAIN_N = 10
MODELS = {"Ptr-Net": "default", "seq2seq+attention": "seq2seq-attention"}
EXPERIMENTS = {
    "convex_hull": (ConvexHullTask, 4000, ("accuracy", "area_coverage", "valid")),
    "sort": (SortTask, 400, ("accuracy", "valid")),
}
KEPT = ("convex_hull", "Ptr-Net", "convex-hull", 0)  # (experiment, model, checkpoint tag, seed)
SEEDS = (0, 1, 2)
VALID_LONGER = 0.5  # the Ptr-Net's valid fraction must exceed this at every n > TRAIN_N
CONTROL_FACTOR = 4


def training_task(cls, train_size: int, seed: int):
    class Training(cls):
        """Without metrics: zoo.train's end-of-run pass then only decodes; scoring happens after,
        on fresh test sets of every n."""

        def metrics(self) -> dict:
            return {}

    return Training(n_points=TRAIN_N, train_size=train_size, test_size=200, seed=seed)


def train_and_score(run: Run, name: str, seed: int, steps: int, sizes: dict, keep: bool = False) -> dict:
    """Train both models on one seed; scores[model][n] on the fixed test sets, seconds, final loss."""
    cls = EXPERIMENTS[name][0]
    # epochs only bounds the run: max_steps decides its length (4000 steps are 12.8 passes over 40k hulls)
    train = dict(epochs=1000, max_steps=steps, batch_size=128, lr=3e-3, optimizer="adam", clip_grad_norm=2.0,
                 progress=False, eval_splits=["val"], eval_every=100, seed=seed)
    task = training_task(cls, sizes["train_size"], seed)
    tests = {n: cls(n_points=n, train_size=1, test_size=sizes["test_size"], seed=100 + n) for n in sizes["test_ns"]}
    out = {"seed": seed, "steps": steps, "scores": {}, "train_seconds": {}, "final_train_loss": {}}
    for label, variant in MODELS.items():
        torch.manual_seed(seed)
        model = zoo.create(SLUG, variant=variant, task=task, hidden_size=sizes["hidden"])
        start = time.time()
        kept = keep and (name, label, seed) == (KEPT[0], KEPT[1], KEPT[3])
        with tempfile.TemporaryDirectory(prefix="zoo-repro-") as run_dir:  # the kept model's card needs its curves
            result = zoo.train(model, task, out_dir=run_dir if kept else None, **train)
            out["train_seconds"][label] = time.time() - start
            if kept:
                run.keep(model, KEPT[2], run=run_dir)
        out["final_train_loss"][label] = result.history[-1].get("train_loss")
        out["scores"][label] = {str(n): zoo.evaluate(model, t, split="test") for n, t in tests.items()}
        print(name, "seed", seed, steps, "steps", label,
              {n: round(s["accuracy"], 3) for n, s in out["scores"][label].items()},
              f"loss {out['final_train_loss'][label]:.3f} ({out['train_seconds'][label]:.0f} s)", flush=True)
    return out


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The claim's two checks on one task's per-seed runs (data["runs"])."""
    runs = data["runs"]
    seeds = [r["seed"] for r in runs]
    train_n = str(data["train_n"])
    longer = [n for n in data["test_ns"] if n > data["train_n"]]

    def score(r, label, n, metric):
        return r["scores"][label][str(n)][metric]

    return seeds, [
        Check(f"Ptr-Net exact accuracy at the training size n={train_n} above seq2seq+attention's",
              ours=[score(r, "Ptr-Net", train_n, "accuracy") for r in runs],
              versus=[score(r, "seq2seq+attention", train_n, "accuracy") for r in runs], better="higher"),
        Check(f"Ptr-Net valid outputs above {VALID_LONGER:g} at every longer n ({', '.join(map(str, longer))}; "
              f"the lowest)", ours=[min(score(r, "Ptr-Net", n, "valid") for n in longer) for r in runs],
              versus=VALID_LONGER, better="higher"),
    ]


def experiment(run: Run, name: str, plt) -> None:
    cls, steps, metrics = EXPERIMENTS[name]
    steps = run.pick(steps, 20)
    seeds = list(run.pick(SEEDS, SEEDS[:1]))
    sizes = {"train_size": run.pick(40_000, 2000), "test_size": run.pick(1000, 50), "hidden": run.pick(64, 16),
             "test_ns": run.pick([5, 10, 15, 20, 30, 40], [5, 10, 15])}
    test_ns = sizes["test_ns"]
    runs = [train_and_score(run, name, seed, steps, sizes, keep=True) for seed in seeds]
    data = {"train_n": TRAIN_N, "test_ns": test_ns, "runs": runs}
    _, checks = claim_checks(data)
    failed = failing_seeds(seeds, checks)
    control = None
    if failed and not run.quick:
        longer = train_and_score(run, name, failed[0], CONTROL_FACTOR * steps, sizes)
        _, longer_checks = claim_checks({**data, "runs": [longer]})
        holds = all(c.holds(*c.per_seed()[0]) for c in longer_checks)
        control = {**longer, "checks_hold": holds,
                   "conclusion": (f"with {CONTROL_FACTOR}x longer training both checks hold on seed {failed[0]}: our "
                                  "short training is to blame") if holds else
                                 (f"with {CONTROL_FACTOR}x longer training the checks still fail on seed {failed[0]}: "
                                  "the claim fails at this scale")}
    data["control"] = control

    def mean(label, n, metric):
        values = [r["scores"][label][str(n)][metric] for r in runs]
        values = [v for v in values if v == v]  # NaN: no valid output to score
        return sum(values) / len(values) if values else float("nan")

    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.4))
    for ax, metric in zip(axes, metrics):
        for label in MODELS:
            ax.plot(test_ns, [mean(label, n, metric) for n in test_ns], "o-", label=label)
        ax.axvline(TRAIN_N, color="grey", lw=0.8, ls="--")
        ax.set_title(f"{name}: {metric} (mean of {len(seeds)} seeds)")
        ax.set_xlabel("n (trained on n=10)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(run.figure(f"{name}.png"), dpi=120)

    def cell(label, n, metric):
        value = mean(label, n, metric)
        return round(value, 3) if value == value else None

    def per_seed(label, n, metric):
        return "/".join(f"{r['scores'][label][str(n)][metric]:.3f}" for r in runs)

    rows = [[n, *[cell(label, n, m) for label in MODELS for m in metrics]] for n in test_ns]
    longer_ns = [n for n in test_ns if n > TRAIN_N]
    summary = (
        f"{name}, trained on n={TRAIN_N} ({steps} steps), seeds {seeds}; final train loss Ptr-Net "
        + "/".join(f"{r['final_train_loss']['Ptr-Net']:.3f}" for r in runs) + ", baseline "
        + "/".join(f"{r['final_train_loss']['seq2seq+attention']:.3f}" for r in runs)
        + f". Exact accuracy at n={TRAIN_N}, per seed: Ptr-Net {per_seed('Ptr-Net', TRAIN_N, 'accuracy')} vs "
          f"seq2seq+attention {per_seed('seq2seq+attention', TRAIN_N, 'accuracy')}. Mean exact accuracy Ptr-Net: "
        + ", ".join(f"n={n}: {mean('Ptr-Net', n, 'accuracy'):.3f}" for n in test_ns)
        + ". Ptr-Net valid outputs per seed: "
        + ", ".join(f"n={n}: {per_seed('Ptr-Net', n, 'valid')}" for n in test_ns)
        + (". Area coverage of valid Ptr-Net polygons (mean): "
           + ", ".join(f"n={n}: {mean('Ptr-Net', n, 'area_coverage'):.3f}" for n in test_ns) if name == "convex_hull"
           else "")
        + f". The baseline can only name the {TRAIN_N} positions of its dictionary, so it has no valid output for "
          f"n > {TRAIN_N}. Checks: "
        + "; ".join(f"{c.name}: held on {sum(c.holds(o, v) for o, v in c.per_seed())} of {len(seeds)} seeds"
                    for c in checks) + "."
        + (f" Control (seed {control['seed']}, {control['steps']} steps): Ptr-Net exact accuracy at n={TRAIN_N} "
           f"{control['scores']['Ptr-Net'][str(TRAIN_N)]['accuracy']:.3f} vs baseline "
           f"{control['scores']['seq2seq+attention'][str(TRAIN_N)]['accuracy']:.3f}, lowest valid fraction for "
           f"n > {TRAIN_N} {min(control['scores']['Ptr-Net'][str(n)]['valid'] for n in longer_ns):.3f}; "
           f"{control['conclusion']}." if control else "")
    )
    run.record(
        name,
        claim="A Ptr-Net trained on small inputs (convex hull of n<=10 points) outperforms seq2seq+attention and "
              "still outputs valid answers for longer inputs than seen in training.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"pointer-net/{name.replace('_', '-')} with n={TRAIN_N}, {sizes['train_size'] // 1000}k training "
              f"examples, LSTM {sizes['hidden']} units, {steps} steps of batch 128, Adam lr 3e-3, clip 2, uniform "
              f"init 0.08, seeds {seeds}; greedy decoding, {sizes['test_size']} test inputs per n (the same for "
              f"every seed). Departures, forced by the CPU budget: 64 units instead of 256-512 (one step of the "
              f"256-unit model takes over a second on one core), Adam instead of SGD lr 1.0 (a rate set for training "
              f"on 1M examples), {steps} steps. Rule written before running: per seed, Ptr-Net accuracy at n="
              f"{TRAIN_N} > baseline's, and Ptr-Net valid fraction > {VALID_LONGER:g} at every n > {TRAIN_N}; if "
              f"either fails, both models again {CONTROL_FACTOR}x longer on the first failing seed.",
        table={"columns": ["n", *[f"{label} {m} (mean)" for label in MODELS for m in metrics]], "rows": rows},
        paper={"source": "Vinyals et al. 2015, Table 1 (convex hull)",
               "statement": "Ptr-Net beats LSTM+attention at the training size and, unlike it, answers for n "
                            "larger than trained, with accuracy falling and area coverage staying high"},
        figures=[f"{name}.png"],
        data=data,
    )
    print(summary)


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for name in EXPERIMENTS:
        experiment(run, name, plt)
