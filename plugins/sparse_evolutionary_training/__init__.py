"""PaperZoo plugin for the sparse-evolutionary-training method (SET): Mocanu, Mocanu, Stone, Nguyen,
Gibescu & Liotta, "Scalable Training of Artificial Neural Networks with Adaptive Sparse Connectivity
inspired by Network Science" (Nature Communications 2018, arXiv:1707.04780).

`zoo.method("sparse-evolutionary-training")` is a structural step method: each chosen nn.Linear layer
starts as an Erdos-Renyi random bipartite graph (density eps (n_in + n_out) / (n_in n_out), eps = 20),
and after each epoch the fraction zeta = 0.3 of its smallest positive and of its largest negative
weights is removed and as many connections are added at random positions (the paper's Algorithm 1).

Where the code departs from the paper:
- Masks are torch.nn.utils.prune reparametrisations of dense weights (weight = weight_orig *
  weight_mask), as in the authors' Keras implementation; no sparse kernels, so no speed-up.
- A new connection starts at zero (the authors' Keras code, used for the paper's MLP experiments:
  it keeps the surviving weights and masks the rest); `regrow_init="normal"` draws it from N(0, 0.1^2)
  instead, as their sparse-matrix implementation initialises weights.
- The optimizer persists across epochs (the Keras code rebuilt it every epoch); the optimizer state of
  every connection that was removed or added is zeroed, so a new connection starts without momentum.
- No rewiring after the last epoch (the final network is the one trained, not one just pruned by zeta).
- By default the output layer stays dense (the authors' code: it has few connections).
Importing this module is cheap; torch is imported when the method is first used.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import SparseEvolutionaryTraining

    return [MethodSpec(name="sparse-evolutionary-training", build=SparseEvolutionaryTraining)]
