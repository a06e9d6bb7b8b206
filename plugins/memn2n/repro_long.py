"""Reproduction for `memn2n` (End-To-End Memory Networks, arXiv:1503.08895), the longer run.

The experiment of the part `repro` (1 against 3 hops on the generated qa2 and qa3, no
supporting-fact supervision) with longer training: one seed, 200 epochs of which the first 50
are the paper's linear start, recorded as `hops-long`.

    zoo reproduce memn2n --part repro_long
"""

from __future__ import annotations

from zoo.reproduce import Run
from zoo_plugins.memn2n.repro import hops_experiment


def reproduce(run: Run) -> None:
    hops_experiment(run, "hops-long", seeds=[0], epochs=run.pick(200, 2), linear_start_epochs=run.pick(50, 1),
                    keep=False)
