"""Tests of lth-rewinding: the rewinding point theta_k, rounds that restart from m * theta_k, resume of an
interrupted procedure, and refused input."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import MethodMismatchError
from zoo_plugins.lottery_ticket.method import dense_state, masks_of
from zoo_plugins.lottery_ticket.method import remaining as remaining_of

SLUG = "lth-rewinding"
FAST = {"batch_size": 60, "progress": False, "device": "cpu", "eval_splits": [], "final_splits": [], "epochs": 1}


def small_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 40), nn.ReLU(), nn.Linear(40, 20), nn.ReLU(), nn.Linear(20, 10))


class FirstStep:
    """Records the weights each run starts from (at zoo_train_start)."""

    def __init__(self):
        self.starts = []

    def zoo_train_start(self, run):
        self.starts.append(dense_state(run.model))


def test_rounds_restart_from_the_weights_after_k_steps(tmp_path):
    model = small_net()
    theta0 = dense_state(model)
    starts = FirstStep()
    result = zoo.method(SLUG, rewind_iteration=7, rounds=2).run(model, "digits", out_dir=tmp_path / "imp",
                                                               callbacks=[starts], **FAST)
    from safetensors.torch import load_file

    theta_k = load_file(str(tmp_path / "imp" / "rewind.safetensors"))
    # theta_k is the dense model after exactly k = 7 steps from theta_0
    reference = small_net()
    zoo.train(reference, "digits", max_steps=7, **{**FAST, "epochs": 10**6})
    assert all(torch.equal(theta_k[k], v) for k, v in dense_state(reference).items())
    assert not torch.equal(theta_k["1.weight"], theta0["1.weight"])
    assert len(starts.starts) == 4  # the rewinding run, then rounds 0, 1, 2
    assert all(torch.equal(starts.starts[0][k], v) for k, v in theta0.items())
    for r, start in zip(result.rounds, starts.starts[1:]):
        for name, mask in r.masks.items():
            assert torch.equal(start[f"{name}.weight"], theta_k[f"{name}.weight"] * mask)  # m * theta_k
        assert torch.equal(start["1.bias"], theta_k["1.bias"])
    assert [r.remaining for r in result.rounds][0] == 1.0 and result.rounds[2].remaining < result.rounds[1].remaining
    assert result.rewind_iteration == 7 and "rounds {0: 100.0% left" in repr(result)


def test_rewinding_run_keeps_the_full_learning_rate_under_a_decaying_schedule(tmp_path):
    # the first k steps of a cosine over a whole round are at full lr; a cosine over the k steps would not be
    zoo.method(SLUG, rewind_iteration=6, rounds=0).run(small_net(), "digits", out_dir=tmp_path / "imp",
                                                       schedule="cosine", lr=0.5, **FAST)
    from safetensors.torch import load_file

    theta_k = load_file(str(tmp_path / "imp" / "rewind.safetensors"))
    constant, decayed = small_net(), small_net()
    zoo.train(constant, "digits", max_steps=6, lr=0.5, **{**FAST, "epochs": 10**6})
    zoo.train(decayed, "digits", max_steps=6, lr=0.5, schedule="cosine", **{**FAST, "epochs": 10**6})
    assert all(torch.equal(theta_k[k], v) for k, v in dense_state(constant).items())
    assert not torch.equal(theta_k["1.weight"], dense_state(decayed)["1.weight"])


def test_iteration_zero_is_the_lottery_ticket():
    a, b = small_net(), small_net()
    zoo.method(SLUG, rewind_iteration=0, rounds=1, conv_prune_rate=0.1).run(a, "digits", **FAST)
    zoo.method("lottery-ticket", rounds=1).run(b, "digits", **FAST)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


class Starts:
    """Counts the runs that train, and the optimizer step each run's first batch ends at."""

    def __init__(self):
        self.count = 0
        self.first_steps = []

    def zoo_train_start(self, run):
        self.count += 1

    def zoo_train_batch_end(self, run, logs):
        if len(self.first_steps) < self.count:
            self.first_steps.append(run.global_step)


def test_interrupted_procedure_resumes_at_the_right_run(tmp_path):
    whole = small_net()
    zoo.method(SLUG, rewind_iteration=5, rounds=2).run(whole, "digits", out_dir=tmp_path / "whole", **FAST)
    out = tmp_path / "cut"
    zoo.method(SLUG, rewind_iteration=5, rounds=2).run(small_net(), "digits", out_dir=out, **FAST)
    record = json.loads((out / "procedure.json").read_text())
    assert sorted(record["done"]) == ["rewind-point", "round-0", "round-1", "round-2"]
    del record["done"]["round-2"]
    (out / "procedure.json").write_text(json.dumps(record))
    shutil.rmtree(out / "round-2")
    starts = Starts()
    resumed = small_net(seed=3)  # another init: theta_k must come from the kept rewind.safetensors
    zoo.method(SLUG, rewind_iteration=5, rounds=2).run(resumed, "digits", out_dir=out, resume=True, callbacks=[starts],
                                                       **FAST)
    assert starts.count == 1
    a, b = whole.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_run_interrupted_inside_a_training_stage_resumes_exactly(tmp_path):
    options = {**FAST, "epochs": 2, "checkpoint_every": 4, "keep_checkpoints": 50, "seed": 2}
    whole = small_net()
    zoo.method(SLUG, rewind_iteration=5, rounds=2).run(whole, "digits", out_dir=tmp_path / "whole", **options)
    # the same procedure killed inside round 1 (epoch 1, mid-epoch), before round 2 began
    out = tmp_path / "cut"
    shutil.copytree(tmp_path / "whole", out)
    record = json.loads((out / "procedure.json").read_text())
    for stage in ("round-1", "round-2"):
        del record["done"][stage]
    (out / "procedure.json").write_text(json.dumps(record))
    shutil.rmtree(out / "round-2")
    checkpoints = sorted((out / "round-1" / "checkpoints").iterdir())
    middle = next(c for c in checkpoints if "epoch-00001" in c.name and not c.name.endswith("000000"))
    for later in checkpoints[checkpoints.index(middle) + 1:]:
        shutil.rmtree(later)
    (out / "round-1" / "model.safetensors").unlink(missing_ok=True)
    starts = Starts()
    resumed = small_net(seed=4)
    zoo.method(SLUG, rewind_iteration=5, rounds=2).run(resumed, "digits", out_dir=out, resume=True,
                                                       callbacks=[starts], **options)
    # round 1 continued from its mid-epoch checkpoint (not from step 0), round 2 trained; nothing else ran again
    steps_per_epoch = 20  # 1150 training images in batches of 60
    assert starts.count == 2
    assert starts.first_steps == [steps_per_epoch + int(middle.name.split("-")[-1]) + 1, 1]
    a, b = whole.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert masks_of(resumed).keys() == masks_of(whole).keys() and remaining_of(resumed)[0] < 1


def test_acts_on_a_zoo_model():
    torch.manual_seed(0)
    model = zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=1)
    result = zoo.method(SLUG, rewind_iteration=3, rounds=1).run(model, "digits", **FAST)
    assert result.remaining < 1 and "head" in masks_of(model)


class NoLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(64, 10))

    def forward(self, x):
        return x.flatten(1) @ self.scale


def test_bad_input_is_refused():
    with pytest.raises(ConfigError, match="rewind_iteration"):
        zoo.method(SLUG, rewind_iteratio=5)
    with pytest.raises(ConfigError):
        zoo.method(SLUG, rewind_iteration=-1)
    with pytest.raises(MethodMismatchError, match=r"lth-rewinding.*NoLayers.*Linear"):
        zoo.method(SLUG).run(NoLayers(), "digits", **FAST)
    with pytest.raises(ConfigError, match="runs on its own"):
        zoo.train(small_net(), "digits", methods=[SLUG], **FAST)
