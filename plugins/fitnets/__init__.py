"""PaperZoo plugin for FitNets: Hints for Thin Deep Nets (Romero, Ballas, Kahou, Chassang, Gatta &
Bengio, ICLR 2015, arXiv:1412.6550), the training method `fitnets`.

A thin, deep student learns from a wide teacher in two stages (the paper's Algorithm 1): stage 1
trains the student up to its guided layer, through a regressor, to predict the teacher's hint
layer (Eq. 3); stage 2 trains the whole student with knowledge distillation (Eq. 2, tau = 3,
lambda annealed linearly from 4 to 1). `zoo.method("fitnets", teacher=t).run(student, task)` runs
both; `zoo.train(student, task, methods=[zoo.method("fitnets", teacher=t, stage="kd")])` is plain
knowledge distillation (Hinton et al., 2015), with the paper's KD loss.

Where the code departs from the paper, and why:
- lambda is annealed linearly over the run's epochs, from its first to its last; the authors'
  code holds it for 5 epochs and anneals it up to a fixed epoch (400 of at most 500), which only
  exists for their early-stopped runs of hundreds of epochs.
- The regressor's nonlinearity is found from the hint layer (the activation module it ends with,
  else none) unless `regressor_activation` names it: the paper's networks are all maxout, and a
  general model has no single nonlinearity to copy.
- Stage 1 drops the task's loss term and keeps every other method's terms, so that other methods
  (quantization, pruning) can act in both stages.
Importing this module is cheap; torch is imported when the method is first built.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import FitNets

    return [MethodSpec(name="fitnets", build=FitNets)]
