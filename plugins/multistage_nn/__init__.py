"""PaperZoo plugin for multi-stage neural networks: Wang & Lai, "Multi-stage Neural Networks: Function
Approximator of Machine Precision" (J. Comput. Phys. 2024, arXiv:2307.08934).

`zoo.method("multistage-nn").run(model, data, ...)` is a procedure: stage 1 fits the target, stage k
fits the residue of the stages before it divided by its scale eps_k, with the first layer of the new
network scaled by kappa = 2 pi f_d from the residue's dominant frequency f_d (discrete Fourier transform)
and a sin activation there; each stage trains in float64 with Adam, then L-BFGS. The result is the
composite u_c = sum_k eps_k u_k, published as the model `multistage-net` (zoo.create / zoo.save /
zoo.load; kappa, eps and the input bounds are buffers saved with the weights).

Where the code departs from the paper:
- eps_k is the root-mean-square of the residue (the paper's normalisation); `scale_rule="max"` gives the
  authors' code's max|e| / 2. Stage 1 is normalised the same way (its eps is the target's RMS).
- f_d is read from the FFT of the residue on a uniform grid in the normalised coordinates ([-1, 1] per
  axis, as the authors' code); 1D data that is not on a uniform grid is linearly interpolated onto one
  first, data in 2 or more dimensions must lie on a full tensor grid. A residue whose peak is at
  frequency 0 gives kappa = 2 pi (as the authors' code).
- L-BFGS is torch.optim.LBFGS (strong-Wolfe line search, history 10) through zoo.train's optimizer
  "lbfgs", 20 iterations per step; the paper uses TensorFlow Probability's L-BFGS (Hager-Zhang line
  search) with a gradient tolerance of 1e-11, ours runs its full iteration budget.
Importing this module is cheap; torch is imported when the method or model is first used.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, ModelSpec, hookimpl


def _build(config):
    from .model import MultistageNet

    return MultistageNet(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.in_features, dtype=getattr(torch, config.dtype)) * 2 - 1,)


def _from_task(values: dict, info) -> dict:
    return {"in_features": info.input_dim, "out_features": info.output_dim}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import MultistageNetConfig

    return [ModelSpec("multistage-net", MultistageNetConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task)]


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import MultistageNN

    return [MethodSpec(name="multistage-nn", build=MultistageNN)]
