"""Reproduction: TabM beats a plain MLP and rivals a deep ensemble of k MLPs at a fraction of the
cost; its individual predictions are weak but collectively strong.

Claim (TabM arXiv:2410.24210). Small-scale test on the bundled tables breast-cancer,
wine (classification) and diabetes (regression, standardised target), 3 seeds each (the seed
sets the data split, the init and the batch order). Three models from the plugin, all with the
paper's default size (3 hidden layers of 512 units, dropout 0.1), trained with one recipe
(AdamW lr 1e-3, weight decay 3e-4, batch 32, up to 100 epochs, early stopping on the ensemble
prediction's validation log-loss (classification) or RMSE (regression) with patience 16, best
epoch restored):
- MLP: the `mlp` variant (k = 1, no sharing);
- TabM: k = 32 members sharing every weight matrix, with BatchEnsemble adapters;
- deep ensemble: `tabm-packed`, k = 32 independent MLPs trained in parallel on the same batches
  (a deep ensemble that shares only the batch order and the early-stopping epoch).
Scores on the test split: log-loss and accuracy (classification), RMSE in target std (regression),
for the ensemble prediction (mean of member probabilities / outputs) and averaged over the single
members. Cost: parameters and training CPU time.

Checks, decided before running, with the primary metric log-loss (classification) or RMSE
(regression), each judged on every seed (`claim_checks`): (1) TabM beats the MLP on at least 2 of
the 3 tables; (2) TabM is within 5% of the deep ensemble or better on at least 2 of 3; (3) TabM
has under a quarter of the deep ensemble's parameters; (4) on each table TabM's ensemble beats its
average single member. The verdict is computed from them by zoo.verdicts.

Control for a failing check (1), from the same runs: a deep ensemble of 32 MLPs beating one MLP is
the textbook ensembling gain (Lakshminarayanan et al. 2017; ranked above the MLP in Gorishniy et al.
2024), so the same 2-of-3 rule is applied to it. If it holds, these tables and this recipe can show
an ensembling gain and TabM's failure is the claim failing at this scale; if it fails too, the test
itself cannot show one (our protocol), and says nothing against TabM. TabM of seed 0 on
breast-cancer is kept as the checkpoint `tabm.breast-cancer`.

    zoo reproduce tabm --part repro
"""

from __future__ import annotations

import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import torch
import torch.nn.functional as F

from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds

TASKS = ("breast-cancer", "wine", "diabetes")
SEEDS = (0, 1, 2)
MODELS = {"MLP": "mlp", "TabM (k=32)": "tabm", "deep ensemble (32 MLPs)": "tabm-packed"}
SIZE = {"d_block": 512, "n_blocks": 3, "dropout": 0.1}  # the paper's defaults (tabm.TabM.make)
RECIPE = {"epochs": 100, "batch_size": 32, "lr": 1e-3, "optimizer": "adamw", "weight_decay": 3e-4,
          "patience": 16, "restore_best": True}
WORKERS = 2
KEPT = ("breast-cancer", "TabM (k=32)", 0)  # (table, model, seed) of the checkpoint tabm.breast-cancer
MLP, TABM, DEEP = MODELS
AT_LEAST_TABLES = 2  # "on at least 2 of 3 tables", fixed before running
RIVAL_TOLERANCE = 1.05  # "within 5% of the deep ensemble"


def primary_by_run(runs: list[dict]) -> dict:
    return {(r["task"], r["model"], r["seed"]): r["primary"] for r in runs}


def tables_won(runs: list[dict], ours: str, versus: str, seeds, factor: float = 1.0) -> list[int]:
    """Per seed: on how many tables `ours` has a lower primary metric than `versus` (scaled by factor)."""
    primary = primary_by_run(runs)
    return [sum(primary[(t, ours, s)] < factor * primary[(t, versus, s)] for t in TASKS) for s in seeds]


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The claim's checks from the record's stored runs, one number per seed on each side."""
    runs = data["runs"]
    seeds = sorted({r["seed"] for r in runs})
    params = {(r["task"], r["model"]): r["params"] for r in runs}
    by_run = {(r["task"], r["model"], r["seed"]): r for r in runs}
    # a count "> n - 0.5" is "at least n" for whole numbers
    checks = [
        Check(f"TabM beats the MLP on at least {AT_LEAST_TABLES} of {len(TASKS)} tables (tables won)",
              ours=tables_won(runs, TABM, MLP, seeds), versus=AT_LEAST_TABLES, better="higher", margin=-0.5),
        Check(f"TabM within 5% of the deep ensemble or better on at least {AT_LEAST_TABLES} of {len(TASKS)} tables",
              ours=tables_won(runs, TABM, DEEP, seeds, RIVAL_TOLERANCE), versus=AT_LEAST_TABLES,
              better="higher", margin=-0.5),
        Check("TabM has under 1/4 of the deep ensemble's parameters (ratio)",
              ours=[params[(TASKS[0], TABM)] / params[(TASKS[0], DEEP)] for _ in seeds], versus=0.25,
              better="lower"),
    ]
    for task in TASKS:
        checks.append(Check(f"{task}: TabM's ensemble beats its average single member",
                            ours=[by_run[(task, TABM, s)]["primary"] for s in seeds],
                            versus=[by_run[(task, TABM, s)]["member_primary"] for s in seeds], better="lower"))
    return seeds, checks


def ensembling_control(runs: list[dict], seeds) -> dict:
    """Does the deep ensemble beat the MLP by the rule of check (1)? Tells a test that cannot show an
    ensembling gain (our protocol) from TabM failing where ensembling does help (the claim at this scale)."""
    won = tables_won(runs, DEEP, MLP, seeds)
    holds = [n >= AT_LEAST_TABLES for n in won]
    if all(holds):
        conclusion = ("the deep ensemble beats the MLP on every seed, so these tables can show an ensembling gain: "
                      "TabM not beating the MLP is the claim failing at this scale")
    elif not any(holds):
        conclusion = ("the deep ensemble does not beat the MLP on any seed either, so this test cannot show the "
                      "textbook ensembling gain: TabM not beating the MLP is our protocol's limit (tiny, nearly "
                      "saturated tables), not evidence against the claim")
    else:
        conclusion = ("the deep ensemble beats the MLP on some seeds only, so this test cannot show the textbook "
                      "ensembling gain reliably: TabM not beating the MLP is our protocol's limit (tiny, nearly "
                      "saturated tables), not evidence against the claim")
    return {"rule": f"deep ensemble beats the MLP on at least {AT_LEAST_TABLES} of {len(TASKS)} tables",
            "seeds": list(seeds), "tables_won": won, "holds": holds, "conclusion": conclusion}


def scores(members: torch.Tensor, y: torch.Tensor, kind: str) -> dict:
    """Test scores of the ensemble and of the average single member, from (n, k, d_out) outputs."""
    from zoo_plugins.tabm.model import ensemble_prediction

    ensemble = ensemble_prediction(members, kind)
    if kind == "classification":
        member_logp = members.log_softmax(-1)
        per_member_loss = torch.stack([F.nll_loss(member_logp[:, i], y) for i in range(members.shape[1])])
        per_member_acc = (members.argmax(-1) == y[:, None]).float().mean(0)
        return {"primary": F.nll_loss(ensemble, y).item(), "member_primary": per_member_loss.mean().item(),
                "accuracy": (ensemble.argmax(-1) == y).float().mean().item(),
                "member_accuracy": per_member_acc.mean().item()}
    rmse = lambda pred: (pred - y).square().mean().sqrt()  # noqa: E731 - one-line metric
    per_member = torch.stack([rmse(members[:, i]) for i in range(members.shape[1])])
    return {"primary": rmse(ensemble).item(), "member_primary": per_member.mean().item()}


def log_loss_metric():
    """A torchmetrics Metric: mean cross entropy of (log-)probability outputs against class ids."""
    from torchmetrics import Metric

    class LogLoss(Metric):
        def __init__(self):
            super().__init__()
            self.add_state("total", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

        def update(self, output: torch.Tensor, target: torch.Tensor) -> None:
            self.total += F.cross_entropy(output, target, reduction="sum").double()
            self.count += len(target)

        def compute(self) -> torch.Tensor:
            return self.total / self.count

    return LogLoss()


def with_log_loss(task):
    """The same splits as a task whose validation metrics include the ensemble's log-loss. (A model
    with its own evaluation_step gets no val_loss from zoo.train, and val accuracy is no guide on
    29-91 validation rows: it reaches 100% within a few epochs, and restoring that "best" epoch
    kept nearly untrained models in a first run, best epochs 1-3 on wine.)"""
    from zoo.tasks import ArrayTask, standard_metrics

    splits = {name: split.tensors for name, split in task.splits().items()}
    return ArrayTask(task.name, task.kind, splits, num_classes=task.info.num_classes, extra=task.info.extra,
                     metrics=lambda: {**standard_metrics(task.kind, task.info.num_classes),
                                      "log_loss": log_loss_metric()})


def train_one(job: tuple[str, str, str, int, dict, dict, str | None]) -> dict:
    """Train one model on one table with one seed (training into `out_dir` when one is given); its
    test scores, cost, and the trained model itself (under "trained")."""
    import zoo

    task_name, label, variant, seed, size, recipe, out_dir = job
    torch.set_num_threads(1)
    task = zoo.get_task(task_name, seed=seed)
    torch.manual_seed(seed)
    model = zoo.create("tabm", variant=variant, task=task, **size)
    if task.kind == "classification":
        task, monitor = with_log_loss(task), "val_log_loss"
    else:
        monitor = "val_rmse"
    start = time.process_time()
    # final_splits=[]: the test split is scored below, member by member
    result = zoo.train(model, task, out_dir=out_dir, seed=seed, progress=False, monitor=monitor, mode="min",
                       final_splits=[], **recipe)
    cpu = time.process_time() - start
    x, y = task.splits()["test"].tensors
    model.eval()
    with torch.no_grad():
        found = scores(model(x), y, task.kind)
    return {"task": task_name, "model": label, "seed": seed, "kind": task.kind, "cpu_s": cpu,
            "epochs": result.epochs, "best_epoch": result.best_epoch,
            "params": sum(p.numel() for p in model.parameters()), **found, "trained": model}


def mean_over_seeds(runs: list[dict]) -> dict:
    """Per (table, model): mean and standard deviation over seeds (two seeds at least)."""
    out = {}
    for task in TASKS:
        for label in MODELS:
            mine = [r for r in runs if r["task"] == task and r["model"] == label]
            row = {"params": mine[0]["params"], "kind": mine[0]["kind"]}
            for key in ("primary", "member_primary", "accuracy", "member_accuracy", "cpu_s", "epochs"):
                if key in mine[0]:
                    values = [r[key] for r in mine]
                    row[key], row[key + "_std"] = statistics.mean(values), statistics.stdev(values)
            out[(task, label)] = row
    return out


def plot(summary: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(TASKS), figsize=(12, 3.6))
    for ax, task in zip(axes, TASKS):
        labels = list(MODELS)
        ensemble = [summary[(task, m)]["primary"] for m in labels]
        member = [summary[(task, m)]["member_primary"] for m in labels]
        xs = range(len(labels))
        ax.bar([x - 0.2 for x in xs], member, 0.4, label="average single member", color="#bbb")
        ax.bar([x + 0.2 for x in xs], ensemble, 0.4, label="ensemble prediction", color="#3a7")
        ax.set_xticks(list(xs), ["MLP", "TabM", "deep ens."])
        metric = "test log-loss" if summary[(task, labels[0])]["kind"] == "classification" else "test RMSE (target std)"
        ax.set(title=task, ylabel=metric + " (lower is better)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def reproduce(run: Run) -> None:
    seeds = run.pick(SEEDS, SEEDS[:2])
    size = run.pick(SIZE, {**SIZE, "d_block": 32})
    recipe = {**RECIPE, "epochs": run.pick(RECIPE["epochs"], 2)}
    # the kept model trains into a run directory, whose metrics and curves go into its card
    with tempfile.TemporaryDirectory(prefix="tabm-kept-") as kept_run:
        jobs = [(task, label, variant, seed, size, recipe, kept_run if (task, label, seed) == KEPT else None)
                for task in TASKS for seed in seeds for label, variant in MODELS.items()]
        with ProcessPoolExecutor(WORKERS, mp_context=get_context("spawn")) as pool:
            runs = list(pool.map(train_one, jobs))
        trained = {(r["task"], r["model"], r["seed"]): r.pop("trained") for r in runs}
        run.keep(trained[KEPT], "breast-cancer", run=kept_run)
    summary = mean_over_seeds(runs)
    mlp, tabm_, deep = MLP, TABM, DEEP
    param_ratio = summary[(TASKS[0], tabm_)]["params"] / summary[(TASKS[0], deep)]["params"]
    seeds_judged, checks = claim_checks({"runs": runs})
    beats_mlp = checks[0]
    failed = failing_seeds(seeds_judged, [beats_mlp])
    control = ensembling_control(runs, seeds_judged) if failed else None
    plot(summary, run.figure("repro_tables.png"))

    rows = []
    for (task, label), row in summary.items():
        acc = (f"{100 * row['accuracy']:.1f} / {100 * row['member_accuracy']:.1f}" if "accuracy" in row else "-")
        rows.append([task, label, row["params"], f"{row['primary']:.4f} +- {row['primary_std']:.4f}",
                     f"{row['member_primary']:.4f}", acc, f"{row['cpu_s']:.1f}", f"{row['epochs']:.0f}"])
    per_task = "; ".join(
        f"{t}: MLP {summary[(t, mlp)]['primary']:.3f}, TabM {summary[(t, tabm_)]['primary']:.3f} "
        f"(members {summary[(t, tabm_)]['member_primary']:.3f}), deep ensemble {summary[(t, deep)]['primary']:.3f}"
        for t in TASKS)
    run.record(
        "repro_tables",
        claim="TabM (one MLP imitating an ensemble of k MLPs with shared weights) beats a plain MLP and rivals a "
              "deep ensemble at a fraction of the cost; its individual predictions are weak but collectively strong.",
        seeds=list(seeds_judged),
        checks=checks,
        summary=(f"Primary metric (test log-loss for breast-cancer and wine, RMSE in target std for diabetes; "
                 f"mean of {len(seeds)} seeds): {per_task}. TabM has {100 * param_ratio:.1f}% of the deep "
                 f"ensemble's parameters. Tables where TabM beats the MLP, per seed: {beats_mlp.ours}."
                 + (f" Control (deep ensemble beats the MLP on >= 2 tables), tables won per seed "
                    f"{control['tables_won']}: {control['conclusion']}." if control else "")),
        setup=(f"tables {TASKS} (sklearn, standardised, 64/16/20 split by seed); seeds {seeds}; all models "
               f"{size} (the paper's default size); recipe {recipe}, early stopping on the ensemble's validation log-loss (classification) or "
               "RMSE (regression); members trained on the same batches with the mean of their losses (the paper's "
               "objective); 2 runs in parallel, 1 thread each. Departures from the paper: bundled sklearn tables "
               "instead of its benchmarks (the data must ship with packages); numerical features only and no "
               "numerical embeddings (the tables have no categorical columns; embeddings need bins fitted to "
               "the data); one fixed recipe instead of per-data-set hyperparameter tuning (tuning every model "
               "on every table does not fit the CPU budget)"),
        table={"columns": ["table", "model", "parameters", "primary metric (mean +- std)",
                           "average single member", "accuracy % ensemble / member", "CPU s per run",
                           "epochs run"], "rows": rows},
        paper={"source": "Gorishniy et al. 2024 (abstract and the analysis of TabM's predictions): the k "
                         "predictions are weak individually but powerful collectively; TabM ranks above MLP and "
                         "deep ensembles of MLPs on the paper's public benchmarks (no numbers comparable to "
                         "these small tables)"},
        figures=["repro_tables.png"],
        data={"runs": runs, "control": control,
              "summary": {f"{t} | {m}": v for (t, m), v in summary.items()}},
    )
    print(beats_mlp.ours, control)
    for row in rows:
        print(row)
