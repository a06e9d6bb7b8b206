"""resmlp forward+backward against timm's ResMLP, as a same-run interleaved ratio.

The zoo model is timm's `MlpMixer` with `ResBlock`/`Affine` configured from the typed config (the
authors' initialisation, then an input check); timm's registered `resmlp_12_224` is the most
direct alternative. Both get the same weights. Timed: the default variant (ResMLP-S12 at 224,
batch 4) and the `digits` variant (batch 256).

    zoo reproduce resmlp --part perf
"""

from __future__ import annotations

from functools import partial

import timm
import torch
from timm.models.mlp_mixer import Affine, MlpMixer, ResBlock

import zoo
from zoo.reproduce import Run
from zoo_plugins.mlp_mixer.perf import compare, same_weights


def reproduce(run: Run) -> None:
    rounds = run.pick(5, 1)
    torch.set_num_threads(1)  # two OpenMP threads on the shared 2-core machine thrash
    torch.manual_seed(0)
    ours = zoo.create("resmlp")
    default = compare(ours, same_weights(ours, timm.create_model("resmlp_12_224")),
                      torch.rand(4, 3, 224, 224), rounds)
    reference = MlpMixer(num_classes=10, img_size=8, in_chans=1, patch_size=2, num_blocks=4, embed_dim=64,
                         mlp_ratio=4, block_layer=partial(ResBlock, init_values=0.1), norm_layer=Affine)
    ours = zoo.create("resmlp", variant="digits")
    digits = compare(ours, same_weights(ours, reference), torch.rand(256, 1, 8, 8), rounds * 3)
    rows = [[label, round(r["zoo_ms"], 2), round(r["other_ms"], 2), round(r["ratio"], 3)]
            for label, r in (("S12 (default), batch 4 at 224", default), ("digits, batch 256 at 8", digits))]
    run.record(
        "perf_forward_backward",
        claim="resmlp forward+backward no more than 1.2x the time of timm's ResMLP.",
        verdict="measured",
        summary=(f"ResMLP-S12: zoo {default['zoo_ms']:.0f} ms vs timm {default['other_ms']:.0f} ms per training "
                 f"step (ratio {default['ratio']:.2f}); digits variant: {digits['zoo_ms']:.1f} vs "
                 f"{digits['other_ms']:.1f} ms (ratio {digits['ratio']:.2f}). The zoo model is timm's network; "
                 "the only extra work is the input check."),
        setup=(f"same weights; median of {rounds} (S12) and {rounds * 3} (digits) interleaved rounds, "
               "1 thread, loss = mean of squared logits"),
        table={"columns": ["config", "zoo ms (median)", "timm ms (median)", "ratio zoo/timm"], "rows": rows},
        data={"default": default, "digits": digits},
    )
    print(rows)
