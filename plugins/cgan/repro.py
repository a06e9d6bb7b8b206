"""Reproduction for `cgan` (Mirza & Osindero, 2014, arXiv:1411.1784).

Claim: feeding the class label to both generator and discriminator yields class-controllable
samples: a separate classifier, trained on real data only, recognises the requested label.

Protocol, fixed before running:
- `digits` (sklearn 8x8, the built-in task; MNIST does not ship in a package): the paper's MNIST
  model at its own widths (Sec. 4.1): z 100-d uniform, generator ReLU branches z->200 and y->1000,
  joint ReLU 1200, sigmoid output; discriminator maxout x->240x5 and y->50x5, joint maxout 240x4;
  dropout 0.5 in both networks; minibatch 100. Adam (lr 2e-4, beta1 0.5) for 3000 steps.
- `mixture2d/ring8` (8 labelled Gaussians in 2D): variant `toy2d`, Adam lr 5e-4, batch 128, 3000
  steps.
- Seeds 0, 1, 2 on both tasks (initialisation, noise and data order). For each label we request
  500 samples and classify them with a scikit-learn MLPClassifier(128) trained on the real training
  split only; its accuracy on real test data is recorded for reference.
- Check per task (zoo.verdicts, per seed), threshold fixed before running: the classifier
  recognises the requested label in more than half of the samples (mean over labels > 0.5). "The
  classifier recognises the requested label" asks for most samples, not merely more than chance
  (1/K: 10% on digits, 12.5% on ring8, what a generator that ignores the label scores).
- Control, digits seed 0: the earlier record's scaled-down widths
  (G z->64, y->256, joint 256; D x->128x5, y->16x5, joint 128x4), same recipe. It tells whether
  that record's collapse came from the shrunk model.
- If a check fails on some seed, the first failing seed of that task is trained again 2x longer
  (6000 steps): if the check then holds, our short training is to blame, otherwise the claim fails
  at this scale.

Departures: 8x8 digits instead of 28x28 MNIST; Adam for 3000 steps instead of the paper's momentum
SGD (lr 0.1 decayed by 1.00004 per update, momentum 0.5 -> 0.7) run for hundreds of MNIST epochs,
which does not fit the CPU budget; the paper shows samples and Parzen log-likelihoods, not a
classifier score, which is the test used here; the 2D ring has no model in the paper, so it uses
the small `toy2d` network of the 2D mixture benchmarks.

    zoo reproduce cgan --part repro
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch.utils.data import TensorDataset

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds

SEEDS = (0, 1, 2)
THRESHOLD = 0.5  # more than half of the requested samples recognised as their label
RING8, DIGITS = "mixture2d/ring8", "digits"
RING8_RECIPE = {"lr": 5e-4, "batch": 128, "variant": "toy2d"}
# The paper's MNIST widths are CGANConfig's defaults; only the optimizer departs.
DIGITS_RECIPE = {"lr": 2e-4, "batch": 100, "optimizer": "adam"}
SCALED_DOWN = {"latent_dim": 100, "generator_noise_hidden": 64, "generator_label_hidden": 256,
               "generator_joint_hidden": 256, "discriminator_data_hidden": 128, "discriminator_label_hidden": 16,
               "discriminator_joint_hidden": 128}
LONGER = 2


def real_classifier(task, max_iter: int, seed: int = 0):
    from sklearn.neural_network import MLPClassifier

    splits = task.splits()
    x, y = splits["train"].tensors[0], splits["train"].tensors[1]
    clf = MLPClassifier((128,), max_iter=max_iter, random_state=seed).fit(x.reshape(len(x), -1).numpy(), y.numpy())
    xt, yt = splits["test"].tensors[0], splits["test"].tensors[1]
    return clf, float(clf.score(xt.reshape(len(xt), -1).numpy(), yt.numpy()))


def per_class_accuracy(model, clf, num_classes: int, seed: int, per_class: int) -> list[float]:
    torch.manual_seed(seed)
    model.eval()
    accs = []
    for label in range(num_classes):
        samples = model.sample(torch.full((per_class,), label, dtype=torch.long))
        pred = clf.predict(samples.reshape(per_class, -1).numpy())
        accs.append(float((pred == label).mean()))
    return accs


def train_and_score(task_name: str, seed: int, steps: int, lr: float, batch: int, per_class: int,
                    classifier_iters: int, **create) -> tuple[dict, torch.nn.Module]:
    task = zoo.get_task(task_name)
    clf, real_acc = real_classifier(task, classifier_iters)
    torch.manual_seed(seed)
    model = zoo.create("cgan", task=task, **create)
    # train on the labelled samples alone: digits' own metrics score class predictions, not samples
    data = TensorDataset(*task.splits()["train"].tensors)
    start = time.time()
    zoo.train(model, data, max_steps=steps, epochs=10000, batch_size=batch, lr=lr, seed=seed, eval_splits=[])
    accs = per_class_accuracy(model, clf, task.info.num_classes, 1000 + seed, per_class)
    return {"per_class": accs, "mean": float(np.mean(accs)), "worst": float(min(accs)), "real_test_accuracy": real_acc,
            "chance": 1 / task.info.num_classes, "steps": steps, "train_seconds": time.time() - start}, model


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The claim's checks from the record's data: per task, the mean label accuracy of the
    requested samples against the fixed threshold, on every seed."""
    seeds = [int(s) for s in data["seeds"]]
    results = data["results"]
    checks = [Check(f"{task}: the real-data classifier recognises the requested label in more than "
                    f"{THRESHOLD:.0%} of samples", ours=[results[f"{task}/seed{s}"]["mean"] for s in seeds],
                    versus=THRESHOLD, better="higher")
              for task in (DIGITS, RING8)]
    return seeds, checks


def plot(ring, digits_model, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    torch.manual_seed(7)
    for label in range(8):
        s = ring.sample(torch.full((300,), label, dtype=torch.long))
        axes[0].scatter(s[:, 0], s[:, 1], s=2, label=str(label))
    axes[0].set_title("ring8 (seed 0): 300 samples per requested label", fontsize=9)
    axes[0].set_aspect("equal")
    labels = torch.arange(10).repeat_interleave(8)
    s = digits_model.sample(labels).reshape(10, 8, 8, 8).permute(0, 2, 1, 3).reshape(80, 64).numpy()
    axes[1].imshow(s, cmap="gray_r")
    axes[1].set_title("digits (seed 0, the paper's widths): rows request labels 0..9", fontsize=9)
    axes[1].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def reproduce(run: Run) -> None:
    seeds = list(run.pick(SEEDS, SEEDS[:1]))
    STEPS, PER_CLASS, CLASSIFIER_ITERS = run.pick((3000, 500, 500), (20, 50, 10))
    torch.set_num_threads(1)
    start = time.time()
    common = {"steps": STEPS, "per_class": PER_CLASS, "classifier_iters": CLASSIFIER_ITERS}
    recipes = {DIGITS: DIGITS_RECIPE, RING8: RING8_RECIPE}
    results, models = {}, {}
    for task_name in (DIGITS, RING8):
        for seed in seeds:
            key = f"{task_name}/seed{seed}"
            results[key], models[key] = train_and_score(task_name, seed, **common, **recipes[task_name])
            print(key, results[key], flush=True)
    run.keep(models[f"{RING8}/seed{seeds[0]}"], "ring8")

    control, _ = train_and_score(DIGITS, seeds[0], **common, **DIGITS_RECIPE, **SCALED_DOWN)
    control["seed"] = seeds[0]
    print("scaled-down control", control, flush=True)

    data = {"seeds": seeds, "results": results, "scaled_down_control": control}
    _, checks = claim_checks(data)
    longer = {}
    for task_name, check in zip((DIGITS, RING8), checks):
        failed = failing_seeds(seeds, [check])
        if failed and not run.quick:
            r, _ = train_and_score(task_name, failed[0], **{**common, "steps": LONGER * STEPS}, **recipes[task_name])
            r["seed"], r["holds"] = failed[0], r["mean"] > THRESHOLD
            r["conclusion"] = (f"with {LONGER}x longer training the check holds on seed {failed[0]}: our short "
                               "training is to blame" if r["holds"] else
                               f"the check still fails on seed {failed[0]} with {LONGER}x longer training: the claim "
                               "fails at this scale")
            longer[task_name] = r
            print("longer", task_name, r, flush=True)
    data["longer_training"] = longer
    data["seconds"] = time.time() - start
    plot(models[f"{RING8}/seed{seeds[0]}"], models[f"{DIGITS}/seed{seeds[0]}"], run.figure("cgan_samples.png"))

    rows = [[key.rsplit("/", 1)[0], int(key.rsplit("seed", 1)[1]), f"{r['mean']:.3f}", f"{r['worst']:.3f}",
             " ".join(f"{a:.2f}" for a in r["per_class"]), f"{r['real_test_accuracy']:.3f}", f"{r['chance']:.3f}"]
            for key, r in results.items()]
    rows.append([f"{DIGITS} (control: scaled-down widths)", control["seed"], f"{control['mean']:.3f}",
                 f"{control['worst']:.3f}", " ".join(f"{a:.2f}" for a in control["per_class"]),
                 f"{control['real_test_accuracy']:.3f}", f"{control['chance']:.3f}"])
    for task_name, r in longer.items():
        rows.append([f"{task_name} ({LONGER}x longer)", r["seed"], f"{r['mean']:.3f}", f"{r['worst']:.3f}",
                     " ".join(f"{a:.2f}" for a in r["per_class"]), f"{r['real_test_accuracy']:.3f}",
                     f"{r['chance']:.3f}"])

    def per_seed(task_name):
        return ", ".join(f"{results[f'{task_name}/seed{s}']['mean']:.0%}" for s in seeds)

    held = {t: sum(c.holds(o, v) for o, v in c.per_seed()) for t, c in zip((DIGITS, RING8), checks)}
    summary = (f"A classifier trained on real data recognises the requested label in {per_seed(DIGITS)} of the "
               f"samples on digits at the paper's widths (seeds {seeds}; chance 10%) and {per_seed(RING8)} on "
               f"ring8 (chance 12.5%); the check (more than {THRESHOLD:.0%}) holds on {held[DIGITS]} of "
               f"{len(seeds)} digits seeds and {held[RING8]} of {len(seeds)} ring8 seeds. The earlier record's "
               f"scaled-down widths, same recipe (seed {control['seed']}): {control['mean']:.0%}"
               + (", below the threshold where the paper's widths pass: that record's failure came from the shrunk "
                  "model, not the claim." if control["mean"] <= THRESHOLD and held[DIGITS] == len(seeds) else ".")
               + "".join(f" {t}, seed {r['seed']}, {LONGER}x longer: {r['mean']:.0%}; {r['conclusion']}."
                         for t, r in longer.items()))
    run.record(
        "cgan",
        claim="Feeding the class label to both generator and discriminator yields class-controllable samples (a "
              "separate classifier recognizes the requested label).",
        seeds=seeds, checks=checks, summary=summary,
        setup=f"digits (sklearn 8x8, built-in task, in place of MNIST, which no package ships): the paper's MNIST "
              f"model at its widths (Sec. 4.1: G z->200 and y->1000 ReLU, joint 1200 ReLU, sigmoid out; D maxout "
              f"x->240x5 and y->50x5, joint maxout 240x4; dropout 0.5 in both; z 100-d uniform), minibatch 100, "
              f"Adam lr 2e-4 beta1 0.5 for {STEPS} steps (departure: the paper's momentum SGD with lr decay and "
              f"momentum ramp runs for hundreds of MNIST epochs, beyond the CPU budget). ring8: variant toy2d "
              f"(the paper has no 2D model), Adam lr 5e-4, batch 128, {STEPS} steps. Seeds {seeds} on both. "
              f"Classifier: sklearn MLPClassifier(128) on the real training split; {PER_CLASS} samples requested "
              f"per class. Check fixed before running: mean label accuracy > {THRESHOLD} on every seed. Control: "
              f"the earlier record's scaled-down digits widths (G z->64, y->256, joint 256; D x->128x5, y->16x5, "
              f"joint 128x4), seed {seeds[0]}. A failing seed is re-trained {LONGER}x longer. 1 thread.",
        table={"columns": ["task", "seed", "mean accuracy on samples", "worst class", "per class (labels 0..K-1)",
                           "classifier on real test", "chance"], "rows": rows},
        paper={"note": "The paper shows MNIST samples per label (Fig. 2) and Parzen log-likelihoods (Table 1); it "
                       "does not report a classifier score, the test used here."},
        figures=["cgan_samples.png"],
        data=data,
    )
    print(summary)
