"""PaperZoo plugin for annealed gradient noise: Neelakantan, Vilnis, Le, Sutskever, Kaiser, Kurach
& Martens, "Adding Gradient Noise Improves Learning for Very Deep Networks" (arXiv:1511.06807).

At every training step t the method adds Gaussian noise to every gradient entry,
g_t <- g_t + N(0, sigma_t^2) with sigma_t^2 = eta / (1 + t)^gamma (Eqs. 1-2; gamma = 0.55, eta from
{0.01, 0.3, 1.0}), before the optimizer uses the gradient: a `zoo.train` step method at
`after_backward`, so it composes with any optimizer. `method.py` holds the functional core
(`noise_variance`, `noise_std`, `add_gradient_noise`) and the Method class.

Where the code departs from the paper, and why:
- t counts optimizer steps from 0 (sigma_0^2 = eta); with gradient accumulation the noise is added
  once per optimizer step, to the accumulated gradient.
- The noise is added before the loop's gradient clipping (`clip_grad_norm`), so the clipped
  gradient includes it; the paper does not say in which order its code applies the two.
- The noise comes from a torch.Generator the method owns (seeded with the run's seed unless `seed`
  is given) and checkpoints, so a resumed run draws the same noise as an uninterrupted one.

Importing this module is cheap; torch is imported when the method is first built.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import GradientNoise

    return [MethodSpec(name="gradient-noise", build=GradientNoise)]
