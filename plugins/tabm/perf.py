"""tabm forward+backward against the authors' `tabm` package, as a same-run interleaved ratio.

The zoo model subclasses the package's `tabm.TabM` (input check, typed config, training step);
the alternative is `tabm.TabM.make` with the same arguments and weights. Timed: the default
variant (TabM, k = 32, 3 x 512, breast-cancer sized: 30 features, 2 classes), batch 256, and the
`tabm-packed` variant (k independent MLPs) at the same size.

    zoo reproduce tabm --part perf
"""

from __future__ import annotations

import tabm
import torch

import zoo
from zoo.reproduce import Run
from zoo_plugins.mlp_mixer.perf import compare, same_weights


def reproduce(run: Run) -> None:
    rounds, batch = run.pick(9, 1), run.pick(256, 16)
    torch.set_num_threads(1)  # two OpenMP threads on the shared 2-core machine thrash
    torch.manual_seed(0)
    x = torch.randn(batch, 30)
    results = {}
    for label, variant, arch in (("TabM k=32 (default)", "tabm", "tabm"),
                                 ("TabM-packed k=32", "tabm-packed", "tabm-packed")):
        ours = zoo.create("tabm", variant=variant).eval()  # eval: dropout off, so outputs can be compared
        official = same_weights(ours, tabm.TabM.make(n_num_features=30, d_out=2, arch_type=arch).eval())
        with torch.no_grad():
            assert torch.equal(ours(x), official(x_num=x))
        results[label] = compare(ours, _Official(official), x, rounds)
    rows = [[label, round(r["zoo_ms"], 2), round(r["other_ms"], 2), round(r["ratio"], 3)] for label, r in results.items()]
    default, packed = results.values()
    run.record(
        "perf_forward_backward",
        claim="tabm forward+backward no more than 1.2x the time of the official tabm package.",
        verdict="measured",
        summary=(f"TabM (k=32, 3x512): zoo {default['zoo_ms']:.1f} ms vs package {default['other_ms']:.1f} ms per "
                 f"training step (ratio {default['ratio']:.2f}); TabM-packed: {packed['zoo_ms']:.1f} vs "
                 f"{packed['other_ms']:.1f} ms (ratio {packed['ratio']:.2f}). The zoo model is the package's module; "
                 "the only extra work is the input check."),
        setup=f"same weights, eval mode; batch {batch} x 30 features; median of {rounds} interleaved rounds, 1 thread",
        table={"columns": ["config", "zoo ms (median)", "tabm package ms (median)", "ratio zoo/package"], "rows": rows},
        data=results,
    )
    print(rows)


class _Official(torch.nn.Module):
    """The package's model called positionally, as the timing loop calls every model."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x_num=x)
