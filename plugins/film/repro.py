"""Reproduction: FiLM answers relational visual questions far better than a CNN with concatenated
question features.

Claim (FiLM arXiv:1709.07871): feature-wise affine modulation (FiLM) conditioned on the
question answers relational visual questions far better than a CNN with concatenated question
features. In the paper (CLEVR, Table 1) FiLM reaches 97.7% where the CNN+LSTM baseline, which
concatenates a question embedding to the image features before its classifier, reaches 52.3%.

Small-scale test on the plugin's `sort-of-clevr` task (16x16 scenes of six coloured circles or
squares, 4000 training / 200 validation / 1000 test scenes, 36 questions each, half of them
relational: shape of the closest / furthest object, how many objects share X's shape):
- FiLM: the plugin's `sort-of-clevr` variant (GRU 64, stem of 2 convolutions, 4 FiLM-ed residual
  blocks of 32 maps, classifier 128/128);
- the baseline: the same network with the FiLM layers taken out (every block's batch norm output
  goes straight to the ReLU) and the question embedding, from the same GRU, concatenated to the
  max-pooled image features before the same classifier MLP: the late fusion of the paper's
  CNN+LSTM baseline, built from the plugin's own parts so that only the way the question enters
  differs.
Both are trained through `zoo.train` with one recipe (AdamW lr 1e-3, weight decay 1e-5, batch 256,
100 warmup steps then cosine decay, 36 epochs over the 144k question-scene pairs: 20,268 steps,
less than the paper's tens of epochs over CLEVR's 700k questions) on 3 seeds (the seed sets the
initialisation and batch order; the scenes are the same), then scored once on the test split, per
question type. A question-only prior (the most frequent training answer of each of the 36
questions) shows how much of each score needs the image at all.

Check (zoo.verdicts, per seed, decided before running): FiLM's relational test accuracy is at
least 10 points above the baseline's ("far better").

The first record trained 4 epochs: FiLM led by 1.4-2.5 points on all three seeds, short of
fitting even the non-relational questions, and its principled experiment (12 epochs on seed 0)
opened a 16-point lead with 99% non-relational accuracy, so the short training was our protocol's
fault; 12 epochs became the protocol. At 12 epochs the lead held on 1 of 3 seeds (+17.9, +4.8,
+2.9 points) with FiLM fitting the non-relational questions, and the principled experiment
(36 epochs on seed 1) gave +19.9, so the protocol was still too short; 36 epochs became the
protocol.

Principled experiment, run when the check fails on a seed: both models trained 3x longer (the
same recipe stretched, cosine over all of it) on the first failing seed. Read, decided before
running: if FiLM's relational lead reaches 10 points there, the short protocol is what failed; if
it stays below 10 points while FiLM answers the non-relational questions (>= 95%), the claim fails
at this scale; if FiLM still does not fit them, neither can be concluded. FiLM of seed 0 is kept
in the run's weights folder; the shipped `film.sort-of-clevr` is rebuilt from its catalog recipe
(the same 36-epoch training).

    zoo reproduce film --part repro
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import torch
import torch.nn.functional as F
from torch import nn

from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds

SEEDS = (0, 1, 2)
TASK = {"image_size": 16, "n_train": 4000, "n_val": 200, "n_test": 1000, "seed": 0}
RECIPE = {"epochs": 36, "batch_size": 256, "lr": 1e-3, "optimizer": "adamw", "weight_decay": 1e-5,
          "schedule": "cosine", "warmup_steps": 100}
LONGER = 3  # the principled experiment: this many times the main run's epochs, on the first failing seed
FAR_BETTER = 0.10  # "far better": at least 10 points of relational test accuracy, fixed before running
FITS = 0.95  # non-relational accuracy at which a model counts as having learned to locate objects
MODELS = ("FiLM", "CNN + concatenated question (baseline)")
QUESTION_TYPES = ("shape", "horizontal", "vertical", "closest", "furthest", "count")  # the task's order
WORKERS = 2  # the machine has 2 cores; one training run per core, one thread each


class ConcatBaseline(nn.Module):
    """FiLM's network with the FiLM layers removed and the question embedding concatenated to the
    pooled image features before the classifier: (images, questions) -> answer logits."""

    def __init__(self, config):
        from zoo_plugins.film.model import FiLMedResBlock, ImageStem, QuestionEncoder

        super().__init__()
        c = self.config = config
        self.question_encoder = QuestionEncoder(c.vocab_size, c.embedding_dim, c.rnn_dim)
        self.stem = ImageStem(c.in_chans, c.stem_channels, c.stem_layers, c.stem_kernel, c.stem_stride)
        stem_out = c.stem_channels if c.stem_layers else c.in_chans
        self.blocks = nn.ModuleList(
            FiLMedResBlock(stem_out if i == 0 else c.block_channels, c.block_channels) for i in range(c.num_blocks))
        self.classifier_proj = nn.Conv2d(c.block_channels + 2, c.classifier_proj_dim, 1)
        self.classifier = nn.Sequential(
            nn.Linear(c.classifier_proj_dim + c.rnn_dim, c.classifier_fc_dim), nn.ReLU(inplace=True),
            nn.Linear(c.classifier_fc_dim, c.num_answers))

    def forward(self, image: torch.Tensor, question: torch.Tensor) -> torch.Tensor:
        from zoo_plugins.film.model import coordinate_maps

        x = self.stem(image)
        ones = x.new_ones(len(x), self.config.block_channels)
        identity = ones, torch.zeros_like(ones)
        for block in self.blocks:
            x = block(x, *identity)  # gamma = 1, beta = 0: the block without FiLM
        x = F.relu(self.classifier_proj(torch.cat([x, coordinate_maps(x)], dim=1))).amax(dim=(2, 3))
        return self.classifier(torch.cat([x, self.question_encoder(question)], dim=1))


def build(label: str, task) -> nn.Module:
    import zoo

    film = zoo.create("film", variant="sort-of-clevr", task=task)
    return film if label == "FiLM" else ConcatBaseline(film.config)


def per_type_accuracy(model: nn.Module, split) -> dict[str, float]:
    """Test accuracy over all questions, per question type, and over the relational and
    non-relational halves (each type has the same number of questions)."""
    from zoo_plugins.film.task import VOCAB

    model.eval()
    correct = {t: [] for t in QUESTION_TYPES}
    with torch.no_grad():
        for start in range(0, len(split), 1024):
            images, questions, answers = split[torch.arange(start, min(start + 1024, len(split)))]
            hits = model(images, questions).argmax(1) == answers
            subtypes = [VOCAB[t] for t in questions[:, 1].tolist()]
            for kind in QUESTION_TYPES:
                mask = torch.tensor([s == kind for s in subtypes])
                correct[kind].append(hits[mask])
    out = {kind: torch.cat(h).float().mean().item() for kind, h in correct.items()}
    out["all"] = statistics.mean(out[k] for k in QUESTION_TYPES)
    out["non-relational"] = statistics.mean(out[k] for k in QUESTION_TYPES[:3])
    out["relational"] = statistics.mean(out[k] for k in QUESTION_TYPES[3:])
    return out


def question_prior(task) -> dict[str, float]:
    """Accuracy of answering every question with its most frequent training answer (no image)."""
    from zoo_plugins.film.task import QUESTIONS

    splits = task.splits()
    train, test = splits["train"], splits["test"]
    most_frequent = torch.stack([train.answers[:, q].mode().values for q in range(len(QUESTIONS))])
    hits = (test.answers == most_frequent).float().mean(0).view(len(QUESTION_TYPES), -1).mean(1)
    out = dict(zip(QUESTION_TYPES, hits.tolist()))
    out["non-relational"], out["relational"] = hits[:3].mean().item(), hits[3:].mean().item()
    out["all"] = hits.mean().item()
    return out


def train_and_score(job: tuple[str, int, dict, dict]) -> dict:
    """Train one model with one seed; its curve, per-type test accuracy, CPU time, and the trained
    model itself (under "trained")."""
    import zoo

    label, seed, task_options, recipe = job
    torch.set_num_threads(1)
    task = zoo.get_task("sort-of-clevr", **task_options)
    torch.manual_seed(seed)
    model = build(label, task)
    start = time.process_time()
    # the test split is scored once, below, per question type
    result = zoo.train(model, task, seed=seed, progress=False, final_splits=[], **recipe)
    cpu = time.process_time() - start
    return {"model": label, "seed": seed, "params": sum(p.numel() for p in model.parameters()),
            "val_curve": [h["val_accuracy"] for h in result.history],
            "per_type": per_type_accuracy(model, task.splits()["test"]), "cpu_s": cpu, "trained": model}


def summarise(runs: list[dict]) -> dict[str, dict]:
    out = {}
    for label in MODELS:
        mine = [r for r in runs if r["model"] == label]
        row = {"params": mine[0]["params"], "seeds": len(mine)}
        row["cpu_s"] = statistics.mean(r["cpu_s"] for r in mine)
        for key in ("all", *QUESTION_TYPES, "non-relational", "relational"):
            values = [r["per_type"][key] for r in mine]
            row[key] = statistics.mean(values)
            row[key + "_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
        row["val_curve"] = [statistics.mean(v) for v in zip(*(r["val_curve"] for r in mine))]
        out[label] = row
    return out


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The claim's check from the record's data: per seed, FiLM's relational test accuracy against
    the baseline's on the same seed, FiLM ahead by at least FAR_BETTER."""
    runs = data["runs"]
    seeds = sorted({r["seed"] for r in runs})
    relational = {(r["model"], r["seed"]): r["per_type"]["relational"] for r in runs}
    return seeds, [Check(f"relational test accuracy: FiLM >= baseline + {100 * FAR_BETTER:.0f} points",
                         ours=[relational[MODELS[0], s] for s in seeds],
                         versus=[relational[MODELS[1], s] for s in seeds], better="higher", margin=FAR_BETTER)]


def longer_training_finding(longer: dict) -> str:
    """What the longer run says, by the rule fixed before running (see the module docstring)."""
    film, base = (longer[m] for m in MODELS)
    if film["relational"] - base["relational"] >= FAR_BETTER:
        return "our protocol fails"
    if film["non-relational"] >= FITS:
        return "the claim fails at this scale"
    return "inconclusive"


def plot(summary: dict, prior: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (curves, bars) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1, 2]})
    for label, row in summary.items():
        curves.plot(range(1, len(row["val_curve"]) + 1), row["val_curve"], marker="o", label=label)
    curves.set(xlabel="epoch", ylabel="validation accuracy (all questions)", ylim=(0.4, 1.0))
    curves.legend(fontsize=8)
    kinds = [*QUESTION_TYPES, "non-relational", "relational"]
    width = 0.8 / (len(summary) + 1)
    for i, (label, row) in enumerate([*summary.items(), ("question-only prior", prior)]):
        xs = [k + (i - len(summary) / 2) * width for k in range(len(kinds))]
        bars.bar(xs, [row[k] for k in kinds], width, label=label,
                 yerr=[row.get(k + "_std", 0.0) for k in kinds])
    bars.set_xticks(range(len(kinds)), kinds, rotation=20)
    bars.set(ylabel="test accuracy (mean over seeds)", ylim=(0, 1.05))
    bars.legend(fontsize=8, loc="lower left")
    fig.suptitle("FiLM vs CNN with concatenated question features on sort-of-clevr")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def reproduce(run: Run) -> None:
    import zoo

    seeds = list(run.pick(SEEDS, SEEDS[:1]))
    task_options = run.pick(TASK, {**TASK, "n_train": 60, "n_val": 20, "n_test": 40})
    recipe = {**RECIPE, "epochs": run.pick(RECIPE["epochs"], 1)}
    longer_recipe = {**recipe, "epochs": LONGER * recipe["epochs"]}
    torch.set_num_threads(1)
    with ProcessPoolExecutor(WORKERS, mp_context=get_context("spawn")) as pool:
        runs = list(pool.map(train_and_score, [(label, seed, task_options, recipe) for seed in seeds
                                               for label in MODELS]))
        trained = {(r["model"], r["seed"]): r.pop("trained") for r in runs}
        checked_seeds, checks = claim_checks({"runs": runs})
        failed = failing_seeds(checked_seeds, checks)
        longer_runs = list(pool.map(train_and_score, [(label, failed[0], task_options, longer_recipe)
                                                      for label in MODELS])) if failed else []
    for r in longer_runs:
        r.pop("trained")
    run.keep(trained[("FiLM", seeds[0])], "sort-of-clevr")
    summary = summarise(runs)
    prior = question_prior(zoo.get_task("sort-of-clevr", **task_options))
    film, base = (summary[m] for m in MODELS)
    gap = 100 * (film["relational"] - base["relational"])
    data = {"summary": summary, "question_prior": prior, "runs": runs, "longer_training": None}
    held = sum(checks[0].holds(o, v) for o, v in checks[0].per_seed())
    if longer_runs:
        longer = {r["model"]: r["per_type"] for r in longer_runs}
        long_gap = 100 * (longer[MODELS[0]]["relational"] - longer[MODELS[1]]["relational"])
        finding = longer_training_finding(longer)
        data["longer_training"] = {"epochs": longer_recipe["epochs"], "seed": failed[0], "runs": longer_runs,
                                   "finding": finding}
    plot(summary, prior, run.figure("repro_sort_of_clevr.png"))

    def pct(row, key):
        std = row.get(key + "_std")
        return f"{100 * row[key]:.1f}" + (f" +- {100 * std:.1f}" if std is not None else "")

    rows = [[label, row.get("params", "-"), pct(row, "relational"), pct(row, "non-relational"), pct(row, "all"),
             *(f"{100 * row[k]:.1f}" for k in QUESTION_TYPES),
             f"{row['cpu_s']:.0f}" if "cpu_s" in row else "-"]
            for label, row in [*summary.items(), ("question-only prior", prior)]]
    rows += [[f"{r['model']}, {longer_recipe['epochs']} epochs (seed {r['seed']})", r["params"],
              pct(r["per_type"], "relational"), pct(r["per_type"], "non-relational"), pct(r["per_type"], "all"),
              *(f"{100 * r['per_type'][k]:.1f}" for k in QUESTION_TYPES), f"{r['cpu_s']:.0f}"]
             for r in longer_runs]
    per_seed = ", ".join(f"seed {s}: {100 * o:.1f} vs {100 * v:.1f}"
                         for s, (o, v) in zip(checked_seeds, checks[0].per_seed()))
    experiment = ""
    if longer_runs:
        reading = {
            "our protocol fails": f"the relational lead opens with longer training, so the {recipe['epochs']}-epoch "
                                  "protocol is what failed, not the claim",
            "the claim fails at this scale": "FiLM then answers the non-relational questions yet its relational "
                                             "lead stays under 10 points, so the claim fails at this scale, not the "
                                             "protocol",
            "inconclusive": "FiLM still does not answer the non-relational questions, so the longer run cannot tell "
                            "the claim from the protocol",
        }[finding]
        experiment = (f" Principled experiment, {longer_recipe['epochs']} epochs on seed {failed[0]}: FiLM "
                      f"{100 * longer[MODELS[0]]['relational']:.1f}% relational / "
                      f"{100 * longer[MODELS[0]]['non-relational']:.1f}% non-relational, baseline "
                      f"{100 * longer[MODELS[1]]['relational']:.1f}% / "
                      f"{100 * longer[MODELS[1]]['non-relational']:.1f}% (relational gap {long_gap:+.1f} points): "
                      f"{reading}.")
    record_path = run.record(
        "repro_sort_of_clevr",
        claim="Feature-wise affine modulation (FiLM) conditioned on the question answers relational visual "
              "questions far better than a CNN with concatenated question features.",
        seeds=checked_seeds, checks=checks,
        summary=(f"On sort-of-clevr ({task_options['n_train']} training scenes, {recipe['epochs']} epochs, "
                 f"{len(seeds)} seeds) FiLM answers {100 * film['relational']:.1f}% of the relational test "
                 f"questions and the CNN with the question concatenated to its pooled features "
                 f"{100 * base['relational']:.1f}% (mean gap {gap:+.1f} points; per seed {per_seed}); far better "
                 f"= at least 10 points, fixed before running, held on {held} of {len(seeds)} seeds. "
                 f"Non-relational: FiLM {100 * film['non-relational']:.1f}%, baseline "
                 f"{100 * base['non-relational']:.1f}%. Answering each question with its most frequent training "
                 f"answer scores {100 * prior['relational']:.1f}% relational and "
                 f"{100 * prior['non-relational']:.1f}% non-relational." + experiment),
        setup=(f"task sort-of-clevr {task_options} (36 questions per scene, 18 relational); FiLM = the "
               f"`sort-of-clevr` variant ({film['params']} parameters), baseline = the same parts without "
               f"FiLM, question embedding concatenated before the classifier ({base['params']} parameters); "
               f"recipe {recipe}; seeds {seeds} (init and batch order); test split scored after the last "
               f"epoch; principled experiment if the check fails: both models with {longer_recipe['epochs']} "
               f"epochs on the first failing seed; 2 runs in parallel, 1 thread each. Departures, all forced by the CPU budget or "
               "the data: generated 16x16 Sort-of-CLEVR instead of CLEVR (not shippable); the sort-of-clevr "
               "variant's sizes instead of the paper's (4 stem layers of stride 2 would reduce 16x16 scenes to "
               "one pixel, and a 4096-unit GRU reads 3-token questions); 36 epochs instead of training to "
               "convergence (up to 80 epochs); AdamW lr 1e-3 at batch 256 with warmup and cosine decay instead "
               "of Adam lr 3e-4 at batch 64 (4x fewer, larger steps for CPU throughput within the budget)"),
        table={"columns": ["model", "parameters", "relational % (mean +- std)", "non-relational %", "all %",
                           *(f"{k} %" for k in QUESTION_TYPES), "CPU s per run"], "rows": rows},
        paper={"source": "Perez et al. 2017, Table 1 (CLEVR test accuracy, %: FiLM, and the CNN+LSTM baseline of "
                         "Johnson et al. 2017)",
               "FiLM overall": 97.7, "CNN+LSTM overall": 52.3},
        figures=["repro_sort_of_clevr.png"],
        data=data,
    )
    import json

    print(json.loads(record_path.read_text())["verdict"], f"relational gap {gap:+.1f} points")
    for row in rows:
        print(row)
