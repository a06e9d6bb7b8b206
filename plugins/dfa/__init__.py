"""PaperZoo plugin for Direct Feedback Alignment: Launay, Poli, Boniface & Krzakala, "Direct Feedback
Alignment Scales to Modern Deep Learning Tasks and Architectures" (NeurIPS 2020, arXiv:2006.12878);
the rule itself is Nokland, "Direct Feedback Alignment Provides Learning in Deep Neural Networks"
(NIPS 2016, arXiv:1609.01596).

`dfa` is an update rule (it replaces the backprop step): each hidden block l is updated with the
output error e projected by a fixed random matrix B_l, delta a_l = (B_l e) * f'(a_l), the last block
with its true gradient, and no gradient flows between blocks. `method.py` holds the functional core
(`feedback_matrices`, `project_error`, `dfa_objective`) and the Method; zoo.training.blocks finds the
chain of blocks (an nn.Sequential, or submodules named with blocks=[...]).

Where the code departs from the papers, and why:
- The signal is injected at each block's output and autograd applies f' inside the block: for a
  (Linear, activation) block that is Nokland's rule exactly; for a larger block (a transformer block)
  it is Launay et al.'s "macro" DFA (backprop inside a block, DFA between blocks).
- One independent Gaussian B_l per block, entries N(0, 1/E) (E: output size), drawn from a generator
  seeded by feedback_seed (default: the run's seed) and kept in the checkpoint. Launay et al.'s TinyDFA
  slices one shared matrix for all layers (an optical-hardware convenience); the rule is the same.
- shared_positions=True gives token models what Launay et al.'s transformer code does (token positions
  as batch dimensions): one B_l (d x E) for every position of h_l (N, positions, d), its signal scaled
  by 1/sqrt(positions). Their code projects the error of each token's own output; a classifier has
  one output per sample, so here each position gets the projection of the sample's error.
- The error e is dLoss/d(output) of the task's loss as zoo.train defines it (mean over the batch), so
  the last block's update equals backprop's.

Importing this module is cheap; torch is imported when the method is first built.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import DirectFeedbackAlignment

    return [MethodSpec(name="dfa", build=DirectFeedbackAlignment)]
