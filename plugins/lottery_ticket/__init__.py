"""PaperZoo plugin for the lottery-ticket method: Frankle & Carbin, "The Lottery Ticket Hypothesis:
Finding Sparse, Trainable Neural Networks" (ICLR 2019, arXiv:1803.03635).

`zoo.method("lottery-ticket")` is both a structural step method (the model's Linear/Conv weights carry
masks, held at zero after every step and saved with the model) and a procedure,
`.run(model, task, ...)`: iterative layer-wise magnitude pruning with the survivors rewound to their
initial values theta_0 before each retraining (the paper's Sec. 1 algorithm).

Where the code departs from the paper:
- Masks are torch.nn.utils.prune reparametrisations (weight = weight_orig * weight_mask); after every
  optimizer step the pruned entries of weight_orig are also zeroed, so the stored parameters are
  sparse, not only the forward weights.
- The output layer is the last prunable layer in module order unless `output_layer` names it; the
  paper's networks end in their output layer, other models may not.
- `rewind="random"` (the paper's random-reinitialisation control, as an option of the procedure)
  draws from each layer's `reset_parameters`, which for a model with its own init scheme may not be
  the distribution theta_0 came from.
Importing this module is cheap; torch is imported when the method is first used.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import LotteryTicket

    return [MethodSpec(name="lottery-ticket", build=LotteryTicket)]
