"""mlp-mixer forward+backward against timm's MlpMixer, as a same-run interleaved ratio.

The zoo model is timm's `MlpMixer` configured from the typed config, plus an input check; timm's
registered `mixer_s16_224` is the most direct alternative. Both get the same weights. Timed: the
default variant (Mixer-S/16 at 224, batch 4) and the `digits` variant (batch 256).

The timing helpers here are shared by the ResMLP, Network-In-Network, TabM and FiLM speed scripts.

    zoo reproduce mlp-mixer --part perf
"""

from __future__ import annotations

import timm
import torch
from timm.models.mlp_mixer import MlpMixer

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians


def compare(ours, theirs, x, rounds: int) -> dict:
    """Median fwd+bwd time of two models holding the same weights, timed in alternation."""
    runs = {"zoo": lambda: fwd_bwd_seconds(ours, ours, x), "other": lambda: fwd_bwd_seconds(theirs, theirs, x)}
    times = interleaved(runs, rounds)
    med = medians(times)
    return {"zoo_ms": med["zoo"] * 1e3, "other_ms": med["other"] * 1e3, "ratio": med["zoo"] / med["other"],
            "times_s": times}


def same_weights(ours, theirs):
    """`theirs` with `ours`' weights (strict: the architectures must match name for name)."""
    theirs.load_state_dict(ours.state_dict(), strict=True)
    return theirs


def reproduce(run: Run) -> None:
    rounds = run.pick(5, 1)
    torch.set_num_threads(1)  # two OpenMP threads on the shared 2-core machine thrash
    torch.manual_seed(0)
    ours = zoo.create("mlp-mixer")
    default = compare(ours, same_weights(ours, timm.create_model("mixer_s16_224")),
                      torch.rand(4, 3, 224, 224), rounds)
    ours = zoo.create("mlp-mixer", variant="digits")
    reference = MlpMixer(num_classes=10, img_size=8, in_chans=1, patch_size=2, num_blocks=4, embed_dim=64)
    digits = compare(ours, same_weights(ours, reference), torch.rand(256, 1, 8, 8), rounds * 3)
    rows = [[label, round(r["zoo_ms"], 2), round(r["other_ms"], 2), round(r["ratio"], 3)]
            for label, r in (("S/16 (default), batch 4 at 224", default), ("digits, batch 256 at 8", digits))]
    run.record(
        "perf_forward_backward",
        claim="mlp-mixer forward+backward no more than 1.2x the time of timm's MlpMixer.",
        verdict="measured",
        summary=(f"Mixer-S/16: zoo {default['zoo_ms']:.0f} ms vs timm {default['other_ms']:.0f} ms per training "
                 f"step (ratio {default['ratio']:.2f}); digits variant: {digits['zoo_ms']:.1f} vs "
                 f"{digits['other_ms']:.1f} ms (ratio {digits['ratio']:.2f}). The zoo model is timm's network; "
                 "the only extra work is the input check."),
        setup=(f"same weights; median of {rounds} (S/16) and {rounds * 3} (digits) interleaved rounds, "
               "1 thread, loss = mean of squared logits"),
        table={"columns": ["config", "zoo ms (median)", "timm ms (median)", "ratio zoo/timm"], "rows": rows},
        data={"default": default, "digits": digits},
    )
    print(rows)
