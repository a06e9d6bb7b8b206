"""Reproduction for `stable-neural-sde` (Oh, Lim & Kim, ICLR 2024), the robustness to missing data
of its experiments (the paper's 30 data sets at missing rates 30%, 50%, 70%).

Claim: the Langevin-type, linear-noise and geometric neural SDEs stay accurate as the missing rate
grows, unlike the naive neural SDE.

Protocol, fixed before running (second version; the first, on the scaled time axis [0, 1] with 10
epochs, left every arm at 0.36-0.48 accuracy with no drop from rate 0.3 to 0.7, far below what the
data allow, so its checks held because nothing learned; see DOC.md):
- Data: the shared task `dynamics/irregular` (which of four systems produced a series of 50
  irregular noisy observations of its first coordinate on [0, 10]; 1200 train / 200 val / 400
  test, balanced classes), at missing rates 0.0, 0.3, 0.5 and 0.7, one draw per seed s in
  (0, 1, 2) and rate.
- Arms: `stable-neural-sde` with sde_type langevin, linear-noise, geometric and naive
  (unconstrained drift f(t, z_bar) and diffusion g(t, z)); the same latent width (16), networks
  (width 32) and path input. The SDE is solved on the data's own time axis [0, 10] (horizon 10, as
  the paper integrates over the series' time rather than a rescaled one) with Euler-Maruyama step
  0.2 (50 steps, one per observation on average). Every arm: Adam lr 0.01, cosine schedule,
  batch 128, 15 epochs, the same seed. The same protocol for every arm; nothing tuned per arm.
- Reference arm (the ceiling the data allow, not a neural SDE): each series' observed values
  linearly interpolated onto 50 equally spaced times, then sklearn's HistGradientBoostingClassifier
  with its default settings (random_state = seed).
- Metric: test accuracy (chance 0.25).

Verdict rule (written before the run), per seed:
  (a) per stable class S: at missing rate 0.7, accuracy(S) > accuracy(naive);
  (b) per stable class S: the drop from rate 0.3 to 0.7, accuracy(S, 0.3) - accuracy(S, 0.7), is at
      most the naive SDE's drop + 0.02 (S "stays accurate" at least as well as the naive SDE);
  (c) per stable class S: at rate 0.7, accuracy(S) > 0.75 x the reference arm's accuracy at 0.7
      (S stays accurate in absolute terms: it keeps three quarters of what the data allow);
  (d) the naive SDE at rate 0.3 reaches 0.75 x the reference arm's accuracy at 0.3 (it learns, so
      that its drop, and (a) and (b), measure something).
(c) and (d) keep a check from holding only because no arm learns.

Control, fixed before running, if a check fails on some seed: the four arms on seed 0 at rate 0.7
trained 2x longer (30 epochs). If the failed comparisons then hold, the short training is to blame
("our protocol fails"); if not, the claim fails at this scale.

    zoo reproduce stable-neural-sde --part repro
"""

from __future__ import annotations

import multiprocessing
import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

SEEDS = (0, 1, 2)
RATES = (0.0, 0.3, 0.5, 0.7)
LOW, HIGH = 0.3, 0.7  # the claim's rates: the drop is measured between them
STABLE = ("langevin", "linear-noise", "geometric")
ARMS = (*STABLE, "naive")
SOLVER = {"horizon": 10.0, "dt": 0.2}  # the data's time axis [0, t_max = 10], one step per observation
TRAIN = {"optimizer": "adam", "lr": 0.01, "batch_size": 128, "schedule": "cosine"}
EPOCHS = 15
SHARE = 0.75  # (c), (d): the share of the reference arm's accuracy an SDE arm must reach
WORKERS = 2  # independent trainings run in parallel processes, one thread each


def sde_accuracy(kind: str, rate: float, seed: int, epochs: int, sizes: dict) -> float:
    """Test accuracy of one SDE arm trained on one draw of dynamics/irregular."""
    torch.set_num_threads(1)
    task = zoo.get_task("dynamics/irregular", missing_rate=rate, seed=seed, **sizes)
    torch.manual_seed(seed)
    model = zoo.create("stable-neural-sde", task=task, sde_type=kind, **SOLVER)
    result = zoo.train(model, task, seed=seed, epochs=epochs, eval_splits=[], final_splits=["test"], progress=False,
                       **TRAIN)
    return float(result.final["test_accuracy"])


def on_grid(x: np.ndarray, points: int = 50) -> np.ndarray:
    """(N, L, 3) [time, value, observed] -> (N, points): the observed values linearly interpolated onto
    `points` equally spaced times on [0, 1] (held constant outside the observed range)."""
    grid = np.linspace(0.0, 1.0, points)
    rows = []
    for series in x:
        seen = series[:, 2] > 0.5
        rows.append(np.interp(grid, series[seen, 0], series[seen, 1]))
    return np.stack(rows)


def reference_accuracy(rate: float, seed: int, sizes: dict) -> float:
    """Test accuracy of the reference arm: interpolation onto a grid + gradient-boosted trees."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    splits = zoo.get_task("dynamics/irregular", missing_rate=rate, seed=seed, **sizes).splits()
    (x_train, y_train), (x_test, y_test) = (tuple(t.numpy() for t in splits[s].tensors) for s in ("train", "test"))
    trees = HistGradientBoostingClassifier(random_state=seed).fit(on_grid(x_train), y_train)
    return float((trees.predict(on_grid(x_test)) == y_test).mean())


def _run_all(jobs: list[tuple], workers: int) -> list[float]:
    if workers <= 1:
        return [sde_accuracy(*job) for job in jobs]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return pool.starmap(sde_accuracy, jobs)


def summarize(acc: dict, seeds: list, control: dict | None) -> str:
    """The record's summary, computed from the per-seed accuracies (and the control, if it ran)."""
    columns = [*ARMS, "reference"]

    def mean(kind: str, rate: float) -> float:
        return sum(acc[str(s)][str(rate)][kind] for s in seeds) / len(seeds)

    def share(kind: str) -> float:  # of the reference arm's accuracy at the highest rate, mean over seeds
        return sum(acc[str(s)][str(HIGH)][kind] / acc[str(s)][str(HIGH)]["reference"] for s in seeds) / len(seeds)

    first = RATES[0]
    text = ("Test accuracy on dynamics/irregular (4 systems, chance 0.25), mean over "
            f"{len(seeds)} seed(s), at missing rates {' / '.join(map(str, RATES))}: "
            + "; ".join(f"{k} " + " / ".join(f"{mean(k, r):.3f}" for r in RATES) for k in columns) + ". "
            f"Reference control: at rate {HIGH} the SDE arms reach "
            + ", ".join(f"{k} {share(k):.2f}" for k in ARMS)
            + f" of the reference arm's accuracy; from rate {first} to {HIGH} the reference loses "
            f"{mean('reference', first) - mean('reference', HIGH):+.3f}, the SDE arms "
            + ", ".join(f"{k} {mean(k, first) - mean(k, HIGH):+.3f}" for k in ARMS) + ".")
    if max(share(k) for k in ARMS) < SHARE:
        text += (f" No SDE arm reaches {SHARE} of the reference's accuracy: they stay well below what the data "
                 f"allow and, unlike the reference, lose little as values go missing, so their flat accuracy across "
                 f"missing rates does not show robustness, and (a), (b) compare models that have not learned the "
                 f"task.")
    if control:
        text += (f" Control ({control['epochs']} epochs, seed {control['seed']}, rate {control['rate']}): "
                 + ", ".join(f"{k} {v:.3f}" for k, v in control["accuracy"].items())
                 + f" (reference {control['reference']:.3f}): {control['conclusion']}.")
    return text


def reproduce(run: Run) -> None:
    seeds = list(run.pick(SEEDS, SEEDS[:1]))
    epochs = run.pick(EPOCHS, 1)
    sizes = run.pick({}, {"n_train": 64, "n_val": 8, "n_test": 64})
    workers = run.pick(WORKERS, 1)
    torch.set_num_threads(1)
    start = time.time()
    cells = [(seed, rate) for seed in seeds for rate in RATES]
    jobs = [(kind, rate, seed, epochs, sizes) for seed, rate in cells for kind in ARMS]
    results = iter(_run_all(jobs, workers))
    acc: dict[str, dict[str, dict[str, float]]] = {}  # seed -> rate -> arm -> test accuracy
    for seed, rate in cells:
        cell = {kind: next(results) for kind in ARMS}
        cell["reference"] = reference_accuracy(rate, seed, sizes)
        acc.setdefault(str(seed), {})[str(rate)] = cell
        print(f"seed {seed}, missing {rate}: " + ", ".join(f"{k} {v:.3f}" for k, v in cell.items()), flush=True)

    def per_seed(kind: str, rate: float) -> list[float]:
        return [acc[str(s)][str(rate)][kind] for s in seeds]

    def drop(kind: str) -> list[float]:
        return [a - b for a, b in zip(per_seed(kind, LOW), per_seed(kind, HIGH))]

    checks = []
    for kind in STABLE:
        checks.append(Check(f"{kind}: accuracy at missing rate {HIGH} above the naive neural SDE's",
                            ours=per_seed(kind, HIGH), versus=per_seed("naive", HIGH), better="higher"))
        checks.append(Check(f"{kind}: accuracy drop from missing rate {LOW} to {HIGH} at most the naive "
                            f"SDE's + 0.02", ours=drop(kind), versus=drop("naive"), better="lower", margin=-0.02))
        checks.append(Check(f"{kind}: accuracy at missing rate {HIGH} above {SHARE} x the reference arm's",
                            ours=per_seed(kind, HIGH), versus=per_seed("reference", HIGH), better="higher",
                            factor=SHARE))
    checks.append(Check(f"naive: accuracy at missing rate {LOW} above {SHARE} x the reference arm's (it learns)",
                        ours=per_seed("naive", LOW), versus=per_seed("reference", LOW), better="higher",
                        factor=SHARE))
    failed = [c for c in checks if not all(c.holds(o, v) for o, v in c.per_seed())]
    control = None
    if failed:
        seed = seeds[0]
        longer = dict(zip(ARMS, _run_all([(kind, HIGH, seed, 2 * epochs, sizes) for kind in ARMS], workers)))
        reference = acc[str(seed)][str(HIGH)]["reference"]
        beating = [kind for kind in STABLE if longer[kind] > longer["naive"]]
        keeping = [kind for kind in STABLE if longer[kind] > SHARE * reference]
        fixed = len(beating) == len(keeping) == len(STABLE)
        control = {"seed": seed, "rate": HIGH, "epochs": 2 * epochs, "accuracy": longer, "reference": reference,
                   "stable_beating_naive": beating, "stable_above_share_of_reference": keeping,
                   "conclusion": "our protocol fails (too short training)" if fixed else
                   "the claim fails at this scale"}
        print(f"control ({2 * epochs} epochs, seed {seed}, rate {HIGH}): {longer}", flush=True)

    columns = [*ARMS, "reference"]
    rows = [[s, rate] + [f"{acc[str(s)][str(rate)][k]:.3f}" for k in columns] for s in seeds for rate in RATES]
    summary = summarize(acc, seeds, control)
    print(summary)
    run.record(
        "stable-neural-sde",
        claim="Langevin-type, linear-noise and geometric neural SDEs stay accurate as missing rates grow, unlike "
              "naive neural SDEs.",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"dynamics/irregular (50 irregular observations on [0, 10], 1200/200/400 samples) at missing rates "
              f"{RATES}, one draw per seed and rate. stable-neural-sde (latent 16, width 32, linear controlled path "
              f"into the drift) with sde_type langevin, linear-noise, geometric, naive, solved by torchsde "
              f"Euler-Maruyama on the data's time axis (horizon {SOLVER['horizon']}, dt {SOLVER['dt']}: 50 steps). "
              f"Adam lr {TRAIN['lr']}, cosine, batch {TRAIN['batch_size']}, {epochs} epochs, same seed and protocol "
              f"for all arms. Reference arm: observed values linearly interpolated onto 50 equally spaced times + "
              f"sklearn HistGradientBoostingClassifier (defaults). Rule (fixed before running), per seed: at rate "
              f"{HIGH} each stable class beats the naive SDE; its drop {LOW} -> {HIGH} is at most the naive drop + "
              f"0.02; at rate {HIGH} it reaches {SHARE} x the reference's accuracy; the naive SDE reaches {SHARE} x "
              f"the reference at rate {LOW}. Control: 2x longer training at rate {HIGH}, seed {seeds[0]}. "
              f"Departures: generated classification data instead of the paper's 30 UEA/UCR sets; linear instead "
              f"of natural cubic spline path; small fixed networks and {epochs} epochs instead of the paper's "
              f"tuned ones (CPU budget).",
        table={"columns": ["seed", "missing rate", *columns], "rows": rows},
        paper={"note": "The paper reports (robustness study over 30 data sets at 30/50/70% missing) that LSDE, LNSDE "
                       "and GSDE keep their accuracy as the missing rate grows while the naive neural SDE degrades; "
                       "its data sets are not used here."},
        data={"accuracy": acc, "rates": list(RATES), "epochs": epochs, "solver": SOLVER, "share": SHARE,
              "control": control, "seconds": time.time() - start},
    )
