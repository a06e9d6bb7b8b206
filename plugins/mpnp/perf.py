"""Speed of `mpnp`: one training step's forward+backward of the MPNP objective (paper sizes: width
128, K = 10 pseudo-context sets of 20 points) against the latent-variable NP's ELBO and the CNP's NLL
on the same backbone, batch 16 functions of 50 points, at 1 thread and the default count.
Interleaved rounds, medians.

    zoo reproduce mpnp --part perf
"""

from __future__ import annotations

import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians


def reproduce(run: Run) -> None:
    from .model import ConditionalNP, LatentNP, predictive_log_likelihood
    from .task import TARGET, sample_gp_batch

    rounds = run.pick(10, 2)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    ours = zoo.create("mpnp")
    latent, conditional = LatentNP(ours.config), ConditionalNP(ours.config)
    x, y, role = (torch.as_tensor(a) for a in sample_gp_batch(16, np.random.default_rng(0)))
    x, y = x.float(), y.float()

    def timed(model, objective):
        def go() -> float:
            model.zero_grad(set_to_none=True)
            start = time.perf_counter()
            objective().backward()
            return time.perf_counter() - start
        return go

    runs = {"MPNP": timed(ours, lambda: sum(ours.losses(x, y, role).values())),
            "latent NP": timed(latent, lambda: latent.elbo_loss(x, y, role)),
            "CNP": timed(conditional, lambda: -predictive_log_likelihood(conditional(x, y, role), y,
                                                                          role == TARGET).mean())}
    measured = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        measured[threads] = {k: v * 1e3 for k, v in medians(interleaved(runs, rounds)).items()}
    torch.set_num_threads(default_threads)
    ratios = {t: {"MPNP / latent NP": m["MPNP"] / m["latent NP"], "MPNP / CNP": m["MPNP"] / m["CNP"]}
              for t, m in measured.items()}
    summary = "Training step (forward+backward), batch 16 x 50 points, width 128, K = 10, m = 20: " + "; ".join(
        f"{t} thread(s): MPNP {m['MPNP']:.1f} ms, latent NP {m['latent NP']:.1f} ms, CNP {m['CNP']:.1f} ms "
        f"(MPNP / NP {ratios[t]['MPNP / latent NP']:.2f}x)" for t, m in measured.items()) + "."
    print(summary)
    run.record(
        "perf", claim="Cost of the martingale posterior: an MPNP training step against the latent NP's and the CNP's",
        verdict="measured", summary=summary,
        setup=f"{rounds} interleaved rounds, medians, at 1 and {default_threads} threads; the machine was shared, "
              f"so absolute times are loose. MPNP evaluates the decoder on K completed context sets, so its cost "
              f"grows with K.",
        table={"columns": ["threads", "MPNP (ms)", "latent NP (ms)", "CNP (ms)", "MPNP / NP"],
               "rows": [[t, f"{m['MPNP']:.1f}", f"{m['latent NP']:.1f}", f"{m['CNP']:.1f}",
                         f"{ratios[t]['MPNP / latent NP']:.2f}"] for t, m in measured.items()]},
        data={"ms": {str(t): m for t, m in measured.items()}, "ratio": {str(t): r for t, r in ratios.items()}},
    )
