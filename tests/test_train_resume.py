"""A real training process killed with SIGKILL inside an epoch, then resumed, ends bitwise identical
(weights, history, final metrics) to a run that was never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from zoo.training import train
from zoo.training.checkpoint import latest_checkpoint

WORKER = '''
import json, sys, time
from pathlib import Path
import torch
from safetensors.torch import save_file
sys.path.insert(0, sys.argv[3])
from test_train_resume import data, model, OPTIONS
from zoo.training import train

out, mode = Path(sys.argv[1]), sys.argv[2]
torch.set_num_threads(1)

class FreezeAtThirdCheckpoint:
    count = 0
    def zoo_train_checkpoint(self, path):
        self.count += 1
        if mode == "kill" and self.count == 3:
            (out / "READY").write_text(str(path))
            time.sleep(600)  # killed here, with later batches still to come

result = train(model(), data(), out_dir=out, resume=mode == "resume", callbacks=[FreezeAtThirdCheckpoint()], **OPTIONS)
(out / "result.json").write_text(json.dumps({"history": result.history, "final": result.final}))
'''

# checkpoints at steps 3, 6, 9 and every epoch end; 5 batches per epoch: the third is inside epoch 2
OPTIONS = dict(epochs=3, batch_size=16, lr=0.01, schedule="cosine", warmup_steps=2, checkpoint_every=3, seed=7,
               weight_decay=0.01)


def data():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(80, 3, generator=g) * 2 - 1
    return x, torch.sin(3 * x[:, :1]) + x[:, 1:2] * x[:, 2:]


def model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 32), torch.nn.GELU(), torch.nn.Dropout(0.2), torch.nn.Linear(32, 1))


def _run(script, out, mode):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(script), str(out), mode, os.path.dirname(__file__)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def test_sigkill_then_resume_is_bitwise_identical(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / "run"
    out.mkdir()
    victim = _run(script, out, "kill")
    deadline = time.monotonic() + 300
    while not (out / "READY").exists():
        assert victim.poll() is None, victim.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "the training process never reached its third checkpoint"
        time.sleep(0.2)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    assert not (out / "result.json").exists()
    assert latest_checkpoint(out).name == "epoch-00001-batch-000001"

    resumed = _run(script, out, "resume")
    log, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, log[-3000:]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        reference = model()
        expected = train(reference, data(), **OPTIONS)
    finally:
        torch.set_num_threads(threads)
    got = json.loads((out / "result.json").read_text())
    assert got["history"] == expected.history
    assert got["final"] == expected.final
    weights = load_file(out / "model.safetensors")
    for key, value in reference.state_dict().items():
        assert torch.equal(weights[key], value), key
    assert not torch.equal(weights["0.weight"], model().state_dict()["0.weight"])
