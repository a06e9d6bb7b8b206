"""Tests of the ranger21 method: the run's step count reaches the optimizer (its warm-up and
warm-down schedule follows it), the components act (gradient centralisation, lookahead merge), it
is pytorch_optimizer's Ranger21 step for step, a zoo model, exact resume, and refused inputs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo_plugins.ranger21.method import build_ranger21, total_steps, warm_down_start, warm_up_steps

pytest.importorskip("pytorch_optimizer")
SLUG = "ranger21"
QUIET = {"eval_splits": [], "final_splits": [], "progress": False, "device": "cpu"}


def mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))


def digits_subset(n: int = 128):
    x, y = zoo.get_task("digits").splits()["train"].tensors[:2]
    return x[:n], y[:n]


def test_step_count_and_schedule_lengths():
    assert total_steps(1149, batch_size=64, epochs=30) == 18 * 30
    assert total_steps(1149, batch_size=64, epochs=30, drop_last=True) == 17 * 30
    assert total_steps(1149, batch_size=64, epochs=30, grad_accumulation=4) == 5 * 30
    assert total_steps(1149, batch_size=64, epochs=30, max_steps=100) == 100
    assert warm_up_steps(100_000, 0.999) == 2000  # ceil(2 / (1 - beta2))
    assert warm_up_steps(540, 0.999) == int(0.22 * 540)  # 2000 steps would be over 45% of the run
    assert warm_down_start(540) == int(0.72 * 540)


def test_zoo_train_gives_the_optimizer_the_runs_step_count():
    x, y = digits_subset()
    seen = []

    class Spy:
        def zoo_train_start(self, run):
            seen.append(run.optimizers["main"].optimizer)

        def zoo_train_epoch_end(self, run, metrics):
            seen.append(run.optimizers["main"].optimizer.current_lr)

    zoo.train(mlp(), (x, y), optimizer=SLUG, lr=1e-3, epochs=5, batch_size=32, callbacks=[Spy()], **QUIET)
    optimizer, lrs = seen[0], seen[1:]
    steps = 4 * 5
    assert optimizer.num_warm_up_iterations == int(0.22 * steps)
    assert optimizer.start_warm_down == steps - (steps - int(0.72 * steps))
    assert lrs[0] == pytest.approx(1e-3)  # warmed up, not yet warming down
    assert lrs[-2] == pytest.approx(1e-3 - (1e-3 - 3e-5) * 3 / 7)  # step 16: 3 of the 6 (+1) warm-down steps
    assert lrs[-1] == pytest.approx(3e-5)  # the run's last step ends the warm-down at warm_down_min_lr


def test_it_is_pytorch_optimizers_ranger21_step_for_step():
    from pytorch_optimizer import Ranger21

    ours, theirs = mlp(), mlp()
    x, y = digits_subset(64)
    a = build_ranger21(ours.parameters(), 20, lr=1e-2)
    b = Ranger21(theirs.parameters(), num_iterations=20, lr=1e-2)
    start = [p.detach().clone() for p in ours.parameters()]
    for _ in range(7):  # past one lookahead merge (k = 5)
        for model, optimizer in ((ours, a), (theirs, b)):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    assert all(torch.equal(p, q) for p, q in zip(ours.parameters(), theirs.parameters()))
    assert all(not torch.equal(p, s) for p, s in zip(ours.parameters(), start))


def test_gradient_centralisation_and_lookahead_act():
    layer = nn.Linear(4, 3)
    optimizer = build_ranger21(layer.parameters(), 100, lr=1e-2, lookahead_merge_time=2, lookahead_blending_alpha=0.5)
    slow = [p.detach().clone() for p in layer.parameters()]
    x = torch.randn(8, 4)
    fast = None
    for step in range(2):
        optimizer.zero_grad()
        layer(x).pow(2).sum().backward()
        if step == 1:
            optimizer.lookahead_step = -10**9  # hold the merge back once to see the fast weights
            optimizer.step()
            fast = [p.detach().clone() for p in layer.parameters()]
            optimizer.lookahead_step = optimizer.lookahead_merge_time - 1
            with torch.no_grad():
                optimizer.lookahead_process_step()
        else:
            optimizer.step()
    # after the merge the weights are halfway between the slow (initial) and the fast weights
    for p, s, f in zip(layer.parameters(), slow, fast):
        assert torch.allclose(p, 0.5 * s + 0.5 * f, atol=1e-7)
    assert not torch.allclose(fast[0], slow[0])
    # the weight gradient was centralised in place: each output unit's gradient has mean zero
    assert torch.allclose(layer.weight.grad.mean(dim=1), torch.zeros(3), atol=1e-6)


def test_acts_on_a_zoo_model():
    torch.manual_seed(0)
    model = zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=2)
    before = [p.detach().clone() for p in model.parameters()]
    result = zoo.train(model, "digits", optimizer=SLUG, epochs=1, batch_size=128, progress=False,
                       final_splits=["val"], device="cpu")
    assert math.isfinite(result.history[-1]["train_loss"])
    assert sum(not torch.equal(a, b) for a, b in zip(before, model.parameters())) > len(before) // 2


def test_resume_is_bitwise_identical(tmp_path):
    x, y = digits_subset()
    options = dict(optimizer=SLUG, lr=3e-3, batch_size=16, seed=1, epochs=2, **QUIET)
    whole = mlp()
    zoo.train(whole, (x, y), out_dir=tmp_path / "run", checkpoint_every=3, keep_checkpoints=10, **options)
    checkpoints = sorted((tmp_path / "run" / "checkpoints").iterdir())
    assert len(checkpoints) > 3
    resumed = mlp()  # from the step-3 checkpoint: mid-warm-up, between lookahead merges
    zoo.train(resumed, (x, y), out_dir=tmp_path / "again", resume=checkpoints[0], **options)
    for a, b in zip(whole.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_a_resume_that_changes_the_run_length_is_refused(tmp_path):
    x, y = digits_subset()
    options = dict(optimizer=SLUG, batch_size=32, **QUIET)
    zoo.train(mlp(), (x, y), epochs=1, out_dir=tmp_path / "run", **options)
    with pytest.raises(ConfigError, match="4 optimizer steps, this one has 8"):
        zoo.train(mlp(), (x, y), epochs=2, out_dir=tmp_path / "run", resume=True, **options)


def test_bad_inputs_are_refused():
    with pytest.raises(ConfigError, match="beta0"):
        zoo.method(SLUG, beta_0=0.9)
    with pytest.raises(ConfigError, match="own warm-up"):
        zoo.train(mlp(), digits_subset(), optimizer=SLUG, schedule="cosine", epochs=1, **QUIET)
    with pytest.raises(ConfigError, match="optimizer='sgd'"):
        zoo.train(mlp(), digits_subset(), methods=[SLUG], optimizer="sgd", epochs=1, **QUIET)
