"""PaperZoo plugin for Mono-Forward: Gong, Li & Abdulla, "Mono-Forward: Backpropagation-Free
Algorithm for Efficient Neural Network Training Harnessing Local Errors" (2025, arXiv:2501.09238).

`mono-forward` is an update rule (it replaces the backprop step): every hidden layer i has a
projection M_i to class scores, the goodness G_i = a_i M_i^T, and W_i, M_i are trained on the
cross-entropy of G_i alone; no gradient passes between layers; the last layer's goodness is the
prediction. `method.py` holds the functional core (`goodness`, `init_projections`,
`mono_forward_step`) and the Method; the chain of blocks comes from the dfa plugin's `chain.py`
(an nn.Sequential, or blocks=[names]).

Where the code departs from the paper, and why:
- The last hidden layer's projection M_L is the model's own output part (an MLP's final Linear, with
  its bias), so the trained model predicts with G_L through its ordinary forward and zoo.save /
  zoo.load need nothing from the method; the earlier layers' M_i belong to the method (training only,
  kept in checkpoints). The paper's M has no bias; the output Linear's bias is one more local weight.
- Each block is trained as soon as its forward is done (a backward of its local loss inside the
  forward), so a step holds one block's activations at a time: the memory saving the paper reports.
  All blocks share one optimizer step per batch (the paper's layers train in the same pass).
- M_i starts uniform in +-1/sqrt(N_i) (nn.Linear's default), drawn from a generator seeded by
  projection_seed (default: the run's seed).
- Only classification tasks (the goodness is a score per class).

Importing this module is cheap; torch is imported when the method is first built.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import MonoForward

    return [MethodSpec(name="mono-forward", build=MonoForward)]
