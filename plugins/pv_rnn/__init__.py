"""PaperZoo plugin for PV-RNN, "A Novel Predictive-Coding-Inspired Variational RNN Model for Online
Prediction and Recognition" (Ahmadi & Tani, Neural Computation 31(11), 2019): the model `pv-rnn`
(multiple-timescale RNN layers with stochastic latents, a learned prior, per-sequence adaptive
posteriors, the ELBO with the KL weighted by the meta-prior w, and error regression for online
recognition) and the task `pv-rnn/pfsm` (2-D sequences from a probabilistic finite-state machine,
generated in this folder).

Departures (details in model.py and DOC.md): loss terms normalised per dimension and step; error
regression over the whole observed window instead of a sliding one. Importing this module is
cheap; torch is imported when a model or task is built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import PVRNN

    return PVRNN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.arange(batch_size) % config.sequences,)


def _from_task(values: dict, info) -> dict:
    return {"output_dim": info.output_dim, "sequences": info.extra["sequences"], "max_length": info.extra["length"]}


def _pfsm(**options):
    from .task import PFSMTask

    return PFSMTask(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import PVRNNConfig

    return [ModelSpec("pv-rnn", PVRNNConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("pv-rnn/pfsm", _pfsm)]
