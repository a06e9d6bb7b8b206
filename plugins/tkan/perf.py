"""TKAN forward+backward against the obvious reference, as a same-run interleaved ratio.

The reference computes the same cell the straightforward way: every gate and every RKAN
sub-layer input projection inside the time loop (W x_t per step, per sub-layer), with the same
weights, so outputs must agree. The zoo's layer projects the whole input sequence once before
the loop. An equal-width `nn.LSTM` is timed too, for context (TKAN does 5 KAN layers per step).
Config: the repro's size (one layer of 32 units, sub-layer orders 0..4), lookback 16, batch 256.

    zoo reproduce tkan --part perf
"""

from __future__ import annotations

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import fwd_bwd_seconds, interleaved, medians


def reference_forward(model, x: torch.Tensor) -> torch.Tensor:
    """The TKAN equations written step by step, reusing the model's parameters."""
    for layer in model.layers:
        batch, steps, _ = x.shape
        h, c = x.new_zeros(batch, layer.units), x.new_zeros(batch, layer.units)
        states = [x.new_zeros(batch, layer.sub_dim) for _ in layer.sub_kans]
        outputs = []
        for t in range(steps):
            gates = torch.sigmoid(x[:, t] @ layer.kernel + h @ layer.recurrent_kernel + layer.bias)
            i, f, c_tilde = gates.chunk(3, dim=-1)
            c = f * c + i * c_tilde
            outs = []
            for l, kan in enumerate(layer.sub_kans):
                o = kan(x[:, t] @ layer.sub_input_kernel[l] + states[l] @ layer.sub_state_kernel[l])
                states[l] = layer.sub_memory[l, 0] * o + layer.sub_memory[l, 1] * states[l]
                outs.append(o)
            h = torch.sigmoid(layer.output_gate(torch.cat(outs, dim=-1))) * torch.tanh(c)
            outputs.append(h)
        x = torch.stack(outputs, dim=1)
    return model.head(x[:, -1])


def reproduce(run: Run) -> None:
    rounds = run.pick(7, 1)
    torch.set_num_threads(1)  # one thread: 2 OpenMP threads on the shared 2-core machine thrash
    torch.manual_seed(0)
    model = zoo.create("tkan", hidden=[32], output_dim=8)
    lstm = torch.nn.LSTM(1, 32, batch_first=True)
    x = torch.randn(256, 16, 1)
    with torch.no_grad():
        max_diff = float((model(x) - reference_forward(model, x)).abs().max())
    runs = {"zoo tkan": lambda: fwd_bwd_seconds(model, model, x),
            "reference (per-step projections)": lambda: fwd_bwd_seconds(lambda v: reference_forward(model, v), model, x),
            "nn.LSTM (context)": lambda: fwd_bwd_seconds(lambda v: lstm(v)[0], lstm, x)}
    times = interleaved(runs, rounds)
    med = medians(times)
    ratio = med["zoo tkan"] / med["reference (per-step projections)"]
    rows = [[name, round(med[name] * 1e3, 2), round(med[name] / med["reference (per-step projections)"], 3)]
            for name in runs]
    run.record(
        "perf_forward_backward",
        claim="TKAN forward+backward no more than 1.2x the time of the straightforward reference.",
        verdict="measured",
        summary=(f"zoo tkan {med['zoo tkan'] * 1e3:.1f} ms vs the step-by-step reference "
                 f"{med['reference (per-step projections)'] * 1e3:.1f} ms per training step: ratio {ratio:.2f} "
                 f"(same outputs, max |diff| {max_diff:.1e}). nn.LSTM of the same width: "
                 f"{med['nn.LSTM (context)'] * 1e3:.1f} ms; TKAN runs 5 small KAN layers per time step, each a few "
                 "dozen tiny ops, so it is op-overhead bound on CPU."),
        setup=f"one TKAN layer of 32 units, sub-layer orders 0..4, grid 3; input (256, 16, 1); median of {rounds} interleaved rounds, 1 thread",
        table={"columns": ["implementation", "ms per fwd+bwd (median)", "ratio to reference"], "rows": rows},
        data={"times_s": times, "max_abs_diff": max_diff},
    )
    print(rows, f"max diff {max_diff:.1e}")
