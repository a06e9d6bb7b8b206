"""Speed of `excelformer`: forward+backward (training mode, no mixing) of ExcelFormer at the paper's
fixed size (d 256, 32 heads, 3 layers) and at the reproduction's (d 32, 4 heads), on breast-cancer
sized input (30 features, 2 classes), batch 256, against the reproduction's MLP baseline (3 x 256,
dropout 0.1), and the masked (semi-permeable) attention against full attention at the paper's size;
1 thread; interleaved rounds, medians, as ratios.

    zoo reproduce excelformer --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians

from .repro import SIZE, mlp

BATCH, FEATURES, CLASSES = 256, 30, 2


def reproduce(run: Run) -> None:
    rounds = run.pick(10, 2)
    torch.set_num_threads(1)  # two OpenMP threads on the shared 2-core machine thrash
    torch.manual_seed(0)
    models = {"ExcelFormer (paper size)": zoo.create("excelformer", d_in=FEATURES, d_out=CLASSES),
              "ExcelFormer, full attention (paper size)": zoo.create("excelformer", d_in=FEATURES, d_out=CLASSES,
                                                                     semi_permeable=False),
              "ExcelFormer (reproduction size)": zoo.create("excelformer", d_in=FEATURES, d_out=CLASSES, **SIZE),
              "MLP 3 x 256": mlp(FEATURES, CLASSES)}
    for model in models.values():
        model.train()
    x = torch.randn(BATCH, FEATURES)
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    med = medians(interleaved({name: (lambda m=m: fwd_bwd_seconds(m, m, x)) for name, m in models.items()}, rounds))
    mlp_s = med["MLP 3 x 256"]
    rows = [[name, params[name], f"{s * 1e3:.2f}", f"{s / mlp_s:.1f}"] for name, s in med.items()]
    mask_ratio = med["ExcelFormer (paper size)"] / med["ExcelFormer, full attention (paper size)"]
    summary = (f"1 thread, batch {BATCH} x {FEATURES}: ExcelFormer at the paper's size "
               f"{med['ExcelFormer (paper size)'] * 1e3:.1f} ms per forward+backward "
               f"({med['ExcelFormer (paper size)'] / mlp_s:.1f}x the MLP's {mlp_s * 1e3:.1f} ms), at the "
               f"reproduction's size {med['ExcelFormer (reproduction size)'] * 1e3:.1f} ms "
               f"({med['ExcelFormer (reproduction size)'] / mlp_s:.1f}x); the semi-permeable mask costs "
               f"{mask_ratio:.2f}x full attention.")
    print(summary)
    run.record(
        "perf", claim="Cost of ExcelFormer's step against the MLP baseline, and of the semi-permeable mask.",
        verdict="measured", summary=summary,
        setup=f"training mode (dropout on, no mixing), {rounds} interleaved rounds, medians, 1 thread; the machine "
              f"was shared, so absolute times are loose.",
        table={"columns": ["model", "parameters", "forward+backward (ms)", "ratio to MLP"], "rows": rows},
        data={"params": params, "seconds": med},
    )
