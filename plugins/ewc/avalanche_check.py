"""Avalanche's side of the EWC cross-check: its EWCPlugin's importances and penalty for given weights and data.

Run by repro_avalanche.py with a Python that has avalanche-lib (it imports neither zoo nor this
package): ``python avalanche_check.py INPUT OUTPUT``. INPUT (a safetensors file) holds the
MLP's weights at the anchor, the data, the moved weights and lambda; OUTPUT gets Avalanche's
importances (minibatch size 1) and its penalty ewc_lambda * sum_i imp_i (theta_i - theta*_i)^2.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import torch
from safetensors.torch import load_file, save_file


def mlp(width: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, width), torch.nn.ReLU(),
                               torch.nn.Linear(width, width), torch.nn.ReLU(), torch.nn.Linear(width, 10))


def main(source: str, target: str) -> None:
    import avalanche
    from avalanche.training.plugins import EWCPlugin
    from avalanche.training.utils import copy_params_dict

    given = load_file(source)
    anchor = {k.removeprefix("anchor."): v for k, v in given.items() if k.startswith("anchor.")}
    moved = {k.removeprefix("moved."): v for k, v in given.items() if k.startswith("moved.")}
    ewc_lambda = float(given["ewc_lambda"])
    model = mlp(anchor["1.weight"].shape[0])
    model.load_state_dict(anchor)
    data = torch.utils.data.TensorDataset(given["x"], given["y"], torch.zeros(len(given["y"]), dtype=torch.long))

    plugin = EWCPlugin(ewc_lambda=ewc_lambda)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    importances = plugin.compute_importances(model, torch.nn.CrossEntropyLoss(), optimizer, data, "cpu", 1)
    plugin.update_importances(importances, 0)
    plugin.saved_params[0] = copy_params_dict(model)

    model.load_state_dict(moved)
    strategy = SimpleNamespace(model=model, device="cpu", loss=torch.zeros(()),
                               clock=SimpleNamespace(train_exp_counter=1))
    plugin.before_backward(strategy)
    out = {f"importance.{k}": v.data.detach().clone() for k, v in plugin.importances[0].items()}
    out["penalty"] = strategy.loss.detach().clone()
    out["version"] = torch.tensor([int(p) for p in avalanche.__version__.split(".")[:3]])
    save_file({k: v.contiguous() for k, v in out.items()}, target)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
