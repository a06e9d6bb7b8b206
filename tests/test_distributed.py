"""Data-parallel training through Accelerate: two CPU processes (gloo) launched by torchrun train
the same model as one process would, within float tolerance, for the standard step and for a model
with its own training_step (whose gradients StepContext averages across processes)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from zoo.training import evaluate, train

WORKER = '''
import json, os, sys
import torch
from safetensors.torch import save_file
from zoo.training import evaluate, train
sys.path.insert(0, sys.argv[2])
from test_distributed import data, plain_model, SelfTrained, OPTIONS

out = sys.argv[1]
rank = int(os.environ["RANK"])
results = {}
for name, model in (("plain", plain_model()), ("self", SelfTrained())):
    result = train(model, data(), **OPTIONS)
    results[name] = {"history": result.history, "final": result.final, "steps": result.steps,
                     "evaluate": evaluate(model, data(), split="test", batch_size=32, device="cpu")}
    if rank == 0:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{out}/{name}.safetensors")
from accelerate import PartialState
results["processes"] = PartialState().num_processes
results["backend"] = PartialState().backend
with open(f"{out}/rank{rank}.json", "w") as f:
    json.dump(results, f)
# tear gloo down before the interpreter does: its threads outliving the group can abort the process
PartialState().wait_for_everyone()
PartialState().destroy_process_group()
'''

OPTIONS = dict(epochs=3, batch_size=32, lr=0.05, optimizer="sgd", eval_splits=["train"], device="cpu")


def data():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(128, 3, generator=g) * 2 - 1
    y = x[:, :1] * 2 - x[:, 1:2] + 0.5 * x[:, 2:] ** 2
    return {"train": (x[:96], y[:96]), "test": (x[96:], y[96:])}


def plain_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))


class SelfTrained(torch.nn.Module):
    """Does its own update (so it is not wrapped in DDP)."""

    def __init__(self):
        super().__init__()
        self.net = plain_model()

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, step):
        loss = step.loss(self(batch[0]), batch)
        step.backward(loss)
        step.step()
        return {"loss": loss}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_gloo_training_matches_one_process(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
         "--master_addr=127.0.0.1", f"--master_port={_free_port()}", str(script), str(tmp_path),
         os.path.dirname(__file__)],
        capture_output=True, text=True, timeout=540, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["processes"] == 2 and ranks[0]["backend"] == "gloo"
    for name, model in (("plain", plain_model()), ("self", SelfTrained())):
        single = train(model, data(), **OPTIONS)
        parallel = load_file(tmp_path / f"{name}.safetensors")
        for key, value in model.state_dict().items():
            assert torch.allclose(value, parallel[key], atol=1e-5), (name, key)
        assert not torch.allclose(model.state_dict()["0.weight" if name == "plain" else "net.0.weight"],
                                  plain_model().state_dict()["0.weight"], atol=1e-3)  # it did train
        for rank in ranks:
            got = rank[name]
            assert got["steps"] == single.steps == 9  # 96 samples / 32 per (global) batch x 3 epochs
            for a, b in zip(got["history"], single.history):
                assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
            assert got["final"] == pytest.approx(single.final, rel=1e-5)
            assert got["evaluate"] == pytest.approx(evaluate(model, data(), split="test", batch_size=32,
                                                             device="cpu"), rel=1e-5)


def test_fsdp_asked_where_accelerate_cannot_shard_is_said(monkeypatch):
    """`accelerate launch --use_fsdp` on CPU (or one process) trains whole replicas: a warning says so."""
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    with pytest.warns(RuntimeWarning, match=r"FSDP was asked for .* runs one process on cpu"):
        result = train(plain_model(), data(), **{**OPTIONS, "epochs": 1})
    assert result.steps == 3


def test_a_model_that_declares_gradient_free_parameters_gets_ddp_looking_for_them(monkeypatch):
    """DistributedDataParallel fails on a parameter without a gradient unless told to look for them:
    a model whose zoo_gradient_exempt names such parameters is trained with find_unused_parameters."""
    from zoo.training import loop

    built = []
    real = loop._accelerator

    def watch(config, **kwargs):
        accelerator = real(config, **kwargs)
        built.append(accelerator.ddp_handler)
        return accelerator

    monkeypatch.setattr(loop, "_accelerator", watch)
    train(plain_model(), data(), **{**OPTIONS, "epochs": 1})
    model = plain_model()
    model.zoo_gradient_exempt = {"*.bias": "a test's declaration"}
    train(model, data(), **{**OPTIONS, "epochs": 1})
    assert built[0] is None
    assert built[1] is not None and built[1].find_unused_parameters is True
