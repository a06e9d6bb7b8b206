"""PaperZoo plugin for OT model fusion: Singh & Jaggi, "Model Fusion via Optimal Transport"
(NeurIPS 2020, arXiv:1910.05653), the method `ot-model-fusion`.

Two (or more) trained networks of the same architecture are fused into one without retraining:
layer by layer, the neurons of each other model are matched to the anchor's by exact optimal
transport (uniform marginals; ground cost between incoming weights, after the previous layer's
transport is applied to them, or between pre-activations on a few training inputs), moved onto
the anchor's neurons, and the parameters averaged. `zoo.method("ot-model-fusion", other=b).run(a,
task)` returns the fused model; `fuse`, `average` and `align` in `method.py` work on plain modules.

Where the code departs from the paper, and why:
- Only equal widths are fused (the paper also fuses different widths with non-uniform plans): with
  equal widths the exact plan is a permutation, so `verify` can check that an aligned model still
  computes its own function, which refuses models that are not a plain chain of their layers.
- A neuron's bias, when the layers have one, counts as one more incoming weight in the weight-based
  cost; the paper's networks have no biases. A BatchNorm after a layer is moved with its neurons.
- Residual networks (the paper's ResNet-18 handling of skip connections) are not supported: they
  are refused by the verification.
Importing this module is cheap; torch and POT are imported when the method is first built.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import OTModelFusion

    return [MethodSpec(name="ot-model-fusion", build=OTModelFusion)]
