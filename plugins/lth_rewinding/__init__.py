"""PaperZoo plugin for the lth-rewinding method: Frankle, Dziugaite, Roy & Carbin, "Stabilizing the Lottery
Ticket Hypothesis" (arXiv:1903.01611), also published as "Linear Mode Connectivity and the Lottery Ticket
Hypothesis" (ICML 2020).

`zoo.method("lth-rewinding", rewind_iteration=k).run(model, task, ...)` is iterative magnitude pruning
(IMP) whose survivors are rewound to their values theta_k after k iterations of training instead of to
theta_0. It builds on the lottery-ticket plugin (its masks, magnitude pruning and rewinding functions).

Where the code departs from the paper:
- Pruning is layer-wise at the lottery-ticket rates (the paper prunes deeper networks globally).
- theta_k comes from a first run of k steps; every round (the dense one included) then trains its
  `train_options` epochs from theta_k with a fresh optimizer, so the dense network and the subnetworks
  train alike after the rewinding point (the paper continues the dense run's schedule from k).
- The k-step rewinding run trains at the constant base learning rate even when a decaying `schedule` is
  given: zoo.train's schedule would span only those k steps, while the first k steps of a decay over a
  whole round are at (nearly) the full rate.
- k = 0 is the lottery-ticket procedure (rewinding to theta_0).
Importing this module is cheap; torch is imported when the method is first used.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import LTHRewinding

    return [MethodSpec(name="lth-rewinding", build=LTHRewinding)]
