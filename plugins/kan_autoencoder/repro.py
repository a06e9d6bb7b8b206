"""kan-autoencoder claim (Moradi, Panahi, Bollt & Lai, 2024, arXiv:2410.02077): KAN-based
autoencoders reach reconstruction error competitive with CNN autoencoders.

Protocol, fixed before running:
- Task `digits/reconstruction` (8x8 digits in [0, 1], 1078 train / 359 val / 360 test). For each
  latent size (8, 16): the KAN autoencoder (KAN layer, ReLU, dense; mirrored decoder; hidden 32,
  G = 5, k = 3), a small convolutional autoencoder of the same latent size (conv 1->8->16 with
  stride 2, dense to the code; mirrored with transposed convs), and, for reference, the KAN
  autoencoder's layout with a dense layer in place of each KAN layer (MLP autoencoder).
- One recipe for every model: Adam lr 5e-3, batch 128, trained until the validation MSE has not
  improved for 20 epochs (at most 400 epochs), ending on the best validation epoch's weights; the
  test MSE per pixel is then scored. (An earlier 60-epoch budget stopped every run at or next to its
  best epoch, i.e. before convergence; the paper compares converged reconstruction errors.)
- Seeds 0, 1, 2 (initialisation and data order).
- Check (zoo.verdicts, per latent size and seed): the KAN autoencoder's test MSE is at most 10%
  above the CNN autoencoder's on the same seed ("competitive" allows a small gap, not a large one).
- Principled experiment, run when a check fails: the hidden width of 32 is ours (the paper's
  widths are for 784- and 3072-pixel images), so the first failing seed of each failing latent size
  is trained again with the KAN autoencoder twice as wide (hidden 64), same recipe. If the check
  then holds, our choice of size is to blame ("our protocol fails"); if it still fails with twice
  the capacity and training to convergence, "the claim fails at this scale".

Departures: 8x8 digits instead of MNIST / SVHN / CIFAR-10 (no offline copy), hence layer widths
sized for 64 inputs; the paper's optimiser settings are not stated in a form that transfers, so
one recipe is used for every model, without per-model tuning.

Every model trains through `zoo.train` on the task (its loss and its MSE metric); the test MSE is
the run's final `test_mse`. The seed-0 KAN autoencoder of latent size 8 is kept as
`kan-autoencoder.digits`.

    zoo reproduce kan-autoencoder --part repro
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, failing_seeds

BATCH, LR, PATIENCE, MAX_EPOCHS = 128, 5e-3, 20, 400
SEEDS, LATENTS = (0, 1, 2), (8, 16)
TOLERANCE = 1.10  # KAN test MSE may be at most this factor above the CNN's
HIDDEN, WIDER = 32, 64
KAN, CNN, MLP = "KAN autoencoder", "CNN autoencoder", "MLP autoencoder"
KEPT = (8, KAN, 0, "digits")  # latent, model, seed -> weights tag


class ConvAutoencoder(nn.Module):
    """8x8 -> conv(8) -> conv(16, stride 2) -> dense(latent) and back, sigmoid output."""

    def __init__(self, latent: int):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(16 * 4 * 4, latent))
        self.decoder = nn.Sequential(
            nn.Linear(latent, 16 * 4 * 4), nn.ReLU(), nn.Unflatten(1, (16, 4, 4)),
            nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 1, 3, padding=1), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


class DenseAutoencoder(nn.Module):
    """The KAN autoencoder's layout with nn.Linear in place of each KAN layer."""

    def __init__(self, latent: int, hidden: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, latent),
            nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 64), nn.Sigmoid(), nn.Unflatten(1, (1, 8, 8)))

    def forward(self, x):
        return self.net(x)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def fit(model: nn.Module, task, seed: int, max_epochs: int, out_dir=None) -> tuple[float, dict]:
    """Train until the validation MSE stops improving; the test MSE and how the run ended. `out_dir`:
    where zoo.train writes the run (metrics and curves), or None for no files."""
    result = zoo.train(model, task, epochs=max_epochs, batch_size=BATCH, lr=LR, optimizer="adam", seed=seed,
                       eval_splits=["val"], patience=PATIENCE, monitor="val_mse", final_splits=["test"],
                       progress=False, out_dir=out_dir)
    return result.final["test_mse"], {"epochs": result.epochs, "best_epoch": result.best_epoch,
                                      "stopped": result.stopped}


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The claim's checks from the record's data: per latent size, the KAN autoencoder's test MSE
    at most TOLERANCE times the CNN autoencoder's on the same seed."""
    seeds = data["seeds"]
    mse = data["test_mse"]
    return seeds, [Check(f"latent {latent}: KAN autoencoder test MSE <= {TOLERANCE:.2f} x CNN autoencoder's",
                         ours=mse[f"{latent}|{KAN}"], versus=mse[f"{latent}|{CNN}"], better="lower",
                         factor=1 / TOLERANCE)
                   for latent in data["latents"]]


def wider_kan_control(task, data: dict, checks: list[Check], max_epochs: int) -> dict | None:
    """The principled experiment: the first failing seed of each failing latent size, again with a
    KAN autoencoder of hidden width WIDER. None when every check held."""
    trials = []
    for latent, check in zip(data["latents"], checks):
        failing = failing_seeds(data["seeds"], [check])
        if not failing:
            continue
        seed = failing[0]
        torch.manual_seed(seed)
        model = zoo.create("kan-autoencoder", task=task, latent_dim=latent, hidden=WIDER)
        test_mse, ending = fit(model, task, seed, max_epochs)
        cnn = data["test_mse"][f"{latent}|{CNN}"][data["seeds"].index(seed)]
        trials.append({"latent": latent, "seed": seed, "hidden": WIDER, "params": n_params(model),
                       "test_mse": test_mse, "cnn_test_mse": cnn, "ratio_to_cnn": test_mse / cnn,
                       "holds": test_mse < TOLERANCE * cnn, **ending})
        print(f"control: latent={latent} seed={seed} hidden={WIDER}: test MSE {test_mse:.5f} "
              f"({test_mse / cnn:.2f}x CNN), {ending}", flush=True)
    if not trials:
        return None
    finding = ("our protocol fails" if all(t["holds"] for t in trials) else
               "the claim fails at this scale" if not any(t["holds"] for t in trials) else "mixed")
    return {"trials": trials, "finding": finding}


def reproduce(run: Run) -> None:
    seeds = list(run.pick(SEEDS, SEEDS[:1]))
    latents = list(run.pick(LATENTS, LATENTS[:1]))
    max_epochs = run.pick(MAX_EPOCHS, 2)
    torch.set_num_threads(1)  # one thread: 2 OpenMP threads on the shared 2-core machine thrash
    task = zoo.get_task("digits/reconstruction")
    results, params, runs, started = {}, {}, {}, time.time()
    for latent in latents:
        builders = {
            KAN: lambda: zoo.create("kan-autoencoder", task=task, latent_dim=latent, hidden=HIDDEN),
            CNN: lambda: ConvAutoencoder(latent),
            MLP: lambda: DenseAutoencoder(latent, HIDDEN),
        }
        for seed in seeds:
            for name, build in builders.items():
                torch.manual_seed(seed)
                model = build()
                params[(latent, name)] = n_params(model)
                kept = (latent, name, seed) == KEPT[:3]
                with tempfile.TemporaryDirectory(prefix="zoo-repro-") as run_dir:  # the kept model's card needs its curves
                    test_mse, ending = fit(model, task, seed, max_epochs, out_dir=run_dir if kept else None)
                    if kept:
                        run.keep(model, KEPT[3], run=run_dir)
                results.setdefault((latent, name), []).append(test_mse)
                runs.setdefault((latent, name), []).append(ending)
                print(f"latent={latent} {name} seed={seed}: test MSE {test_mse:.5f}, {ending} "
                      f"({time.time() - started:.0f}s)", flush=True)

    data = {"seeds": seeds, "latents": latents,
            "test_mse": {f"{l}|{m}": v for (l, m), v in results.items()},
            "runs": {f"{l}|{m}": v for (l, m), v in runs.items()},
            "params": {f"{l}|{m}": v for (l, m), v in params.items()}}
    seeds_, checks = claim_checks(data)
    control = wider_kan_control(task, data, checks, max_epochs) if not run.quick else None
    data["control"] = control
    data["wall_seconds"] = time.time() - started

    means = {key: float(np.mean(v)) for key, v in results.items()}
    rows = [[latent, name, params[(latent, name)], round(means[(latent, name)], 5),
             round(float(np.std(results[(latent, name)])), 5),
             " ".join(f"{v:.5f}" for v in results[(latent, name)]),
             " ".join(str(r["best_epoch"]) for r in runs[(latent, name)])]
            for (latent, name) in results]

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for i, name in enumerate([KAN, CNN, MLP]):
        ax.errorbar(latents, [means[(l, name)] for l in latents],
                    yerr=[np.std(results[(l, name)]) for l in latents], marker="o", capsize=3, label=name, color=f"C{i}")
    ax.set_xlabel("latent size")
    ax.set_ylabel("test MSE per pixel")
    ax.set_xscale("log", base=2)
    ax.legend()
    fig.tight_layout()
    fig.savefig(run.figure("repro_reconstruction.png"), dpi=100)

    per_seed = "; ".join(
        f"latent {l}: KAN {fmt(results[(l, KAN)])} ({params[(l, KAN)]} params), CNN {fmt(results[(l, CNN)])} "
        f"({params[(l, CNN)]}), MLP {fmt(results[(l, MLP)])} ({params[(l, MLP)]})" for l in latents)
    capped = sum(r["stopped"] != "early_stopping" for v in runs.values() for r in v)
    summary = (f"Test MSE per pixel on seeds {seeds}, each run trained until its validation MSE stopped improving "
               f"(patience {PATIENCE}, at most {max_epochs} epochs; {capped} of {sum(len(v) for v in runs.values())} "
               f"runs reached the cap). {per_seed}. Check: KAN <= {TOLERANCE:.2f} x CNN on each seed.")
    if control:
        summary += (" Principled experiment (KAN autoencoder twice as wide, hidden " f"{WIDER}): "
                    + "; ".join(f"latent {t['latent']} seed {t['seed']}: {t['test_mse']:.5f} ({t['params']} params), "
                                f"{t['ratio_to_cnn']:.2f}x the CNN's" for t in control["trials"])
                    + f"; finding: {control['finding']}.")
    run.record(
        "repro_reconstruction",
        claim="KAN-based autoencoders reach reconstruction error competitive with CNN autoencoders.",
        seeds=seeds, checks=checks, summary=summary,
        setup=(f"digits/reconstruction (1078 train / 359 val / 360 test images). kan-autoencoder (hidden {HIDDEN}, "
               f"G=5, k=3) with latent {latents}; CNN autoencoder conv(8)-conv(16, stride 2)-dense and mirror; MLP "
               f"autoencoder = same layout with dense layers. Adam lr={LR}, batch {BATCH}, early stopping on validation "
               f"MSE (patience {PATIENCE}, at most {max_epochs} epochs), every run ends on its best validation epoch's "
               f"weights; seeds {seeds}; 1 thread; zoo.train. Departures: 8x8 digits instead of MNIST/SVHN/CIFAR-10 "
               "(no offline copy), so widths sized for 64 inputs; one recipe for every model (the paper's optimiser "
               f"settings do not transfer). Rule written before running: per latent and seed, KAN test MSE <= "
               f"{TOLERANCE:.2f} x CNN's; on a failure, the first failing seed of that latent is re-run with hidden "
               f"{WIDER}: holds -> our protocol fails, fails -> the claim fails at this scale."),
        table={"columns": ["latent", "model", "params", "test MSE (mean)", "std", "per seed", "best epoch per seed"],
               "rows": rows},
        paper={"source": "Moradi et al. 2024: MNIST, SVHN, CIFAR-10 (not available offline)",
               "note": "the paper reports KAN autoencoders competitive with CNN autoencoders, with more parameters"},
        figures=["repro_reconstruction.png"],
        data=data,
    )
    print(summary)


def fmt(values) -> str:
    return "[" + ", ".join(f"{v:.5f}" for v in values) + "]"
