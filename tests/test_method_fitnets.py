"""The fitnets method: its losses against the paper's equations, what each stage trains, exact
resume of a stage and of the two-stage procedure, and the inputs it refuses."""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import MethodConflictError, MethodMismatchError
from zoo_plugins.fitnets.method import (FitNets, Regressor, build_regressor, hint_loss, kd_loss, kd_weight,
                                        middle_block)

FAST = dict(batch_size=128, lr=0.005, progress=False, final_splits=[])


def conv_net(widths=(4, 4, 4), seed=0) -> nn.Module:
    """A small CNN on digits whose `features.<i>` are conv + ReLU blocks (pooling after the first)."""
    torch.manual_seed(seed)
    blocks, channels = [], 1
    for i, width in enumerate(widths):
        blocks.append(nn.Sequential(nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()))
        channels = width
        if i == 0:
            blocks.append(nn.MaxPool2d(2))
    net = nn.Sequential()
    net.add_module("features", nn.Sequential(*blocks))
    net.add_module("flatten", nn.Flatten())
    net.add_module("classifier", nn.Linear(channels * 16, 10))
    return net


def tiny_mixer() -> nn.Module:
    """The catalog's MLP-Mixer digits variant at tiny sizes."""
    torch.manual_seed(0)
    return zoo.create("mlp-mixer", variant="digits", task="digits", hidden_dim=16, num_blocks=2)


def digits_batch(n=6):
    x, y = zoo.get_task("digits").splits()["train"][list(range(n))]
    return x, y


def fake_run(model, epoch=0, epochs=10, seed=0):
    """What setup() and loss() read of a run, without zoo.train."""
    return SimpleNamespace(device=torch.device("cpu"), model=model, task=zoo.get_task("digits"), epoch=epoch,
                           config=SimpleNamespace(seed=seed, epochs=epochs))


def params(model) -> dict:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


# --- the equations -----------------------------------------------------------------------------------


def test_kd_loss_matches_a_hand_computation():
    student = torch.tensor([[1.0, 2.0, 0.0]])
    teacher = torch.tensor([[3.0, 0.0, 0.0]])
    tau = 3.0
    p_t = [math.exp(a / tau) for a in (3.0, 0.0, 0.0)]
    p_t = [p / sum(p_t) for p in p_t]
    z = sum(math.exp(a / tau) for a in (1.0, 2.0, 0.0))
    log_p_s = [a / tau - math.log(z) for a in (1.0, 2.0, 0.0)]
    expected = -sum(pt * lps for pt, lps in zip(p_t, log_p_s))
    assert kd_loss(student, teacher, tau).item() == pytest.approx(expected, rel=1e-6)
    # the cross-entropy H(P_T, P_S) is smallest (the teacher's entropy) when the student equals the teacher
    assert kd_loss(teacher, teacher, tau) < kd_loss(student, teacher, tau)


def test_hint_loss_is_half_the_squared_distance_per_example():
    hint = torch.randn(4, 3, 2, 2)
    assert hint_loss(hint.clone(), hint).item() == 0.0
    shifted = hint + 0.5  # each example differs by 0.5 in each of its 12 features
    assert hint_loss(shifted, hint).item() == pytest.approx(0.5 * 12 * 0.25)


def test_lambda_is_annealed_linearly_from_first_to_last_epoch():
    assert kd_weight(0, 7, 4.0, 1.0) == 4.0
    assert kd_weight(6, 7, 4.0, 1.0) == 1.0
    assert kd_weight(3, 7, 4.0, 1.0) == pytest.approx(2.5)
    assert kd_weight(0, 1, 4.0, 1.0) == 4.0


def test_regressor_kernel_maps_the_guided_shape_to_the_hint_shape():
    conv = Regressor((8, 8, 8), (64, 4, 4), "auto", "relu")
    assert conv.kind == "conv" and conv.map.kernel_size == (5, 5)  # N_g - N_h + 1
    out = conv(torch.randn(2, 8, 8, 8))
    assert out.shape == (2, 64, 4, 4) and (out >= 0).all()
    fc = Regressor((5, 16), (7, 32), "auto", "none")
    assert fc.kind == "fc" and fc(torch.randn(3, 5, 16)).shape == (3, 7, 32)
    with pytest.raises(ValueError, match="regressor='fc'"):
        Regressor((8, 2, 2), (8, 4, 4), "conv")
    # the regressor's init does not draw from the global random stream
    torch.manual_seed(5)
    before = torch.random.get_rng_state()
    build_regressor((8, 4, 4), (16, 4, 4), seed=1)
    assert torch.equal(before, torch.random.get_rng_state())


# --- the method's terms ------------------------------------------------------------------------------


def test_hint_term_is_zero_when_the_regressed_features_equal_the_teacher_hint():
    student = conv_net()
    teacher = copy.deepcopy(student)  # the same network: its hint equals the student's guided features
    method = FitNets(teacher=teacher, stage="hints", hint_layer="features.2", guided_layer="features.2")
    run = fake_run(student)
    method.setup(run)
    assert method.regressor.kind == "conv" and method.regressor.activation == "relu"
    with torch.no_grad():  # an identity 1x1 convolution: relu(r(v_g)) = v_g = u_h
        method.regressor.map.weight.copy_(torch.eye(4).view(4, 4, 1, 1))
        method.regressor.map.bias.zero_()
    x, y = digits_batch()
    output = student(x)
    terms = method.loss({"task": torch.tensor(1.0), "other": torch.tensor(2.0)}, output, (x, y), run)
    assert set(terms) == {"other", "hint"}  # stage 1 drops the task's term, keeps other methods' terms
    assert terms["hint"].item() == 0.0
    with torch.no_grad():
        method.regressor.map.bias.fill_(0.1)
    student(x)
    assert method.loss({}, output, (x, y), run)["hint"].item() > 0
    method.end(run)
    assert not student.features[2]._forward_hooks and not teacher.features[2]._forward_hooks


def test_kd_term_is_lambda_times_the_softened_cross_entropy():
    student, teacher = conv_net(seed=0), conv_net(widths=(8, 8, 8), seed=1)
    method = FitNets(teacher=teacher)  # stage "kd" by default
    x, y = digits_batch()
    output = student(x)
    for epoch, weight in ((0, 4.0), (9, 1.0)):
        run = fake_run(student, epoch=epoch, epochs=10)
        method.setup(run)
        terms = method.loss({"task": torch.tensor(0.5)}, output, (x, y), run)
        assert terms["task"].item() == 0.5 and method.parameters() == []
        expected = weight * kd_loss(output, teacher(x), 3.0)
        assert terms["kd"].item() == pytest.approx(expected.item(), rel=1e-6)
        method.end(run)


def test_default_layers_are_the_middle_blocks():
    assert middle_block(conv_net()) == "features.1"  # 4 entries: conv, pool, conv, conv
    mixer = tiny_mixer()
    blocks = len(mixer.blocks)
    assert middle_block(mixer) == f"blocks.{(blocks - 1) // 2}"
    assert middle_block(nn.Linear(2, 2)) is None


# --- training ----------------------------------------------------------------------------------------


def test_hint_stage_trains_up_to_the_guided_layer_and_never_the_teacher():
    student, teacher = conv_net(seed=0), conv_net(widths=(8, 8, 8), seed=1)
    teacher_before, student_before = params(teacher), params(student)
    method = zoo.method("fitnets", teacher=teacher, stage="hints", hint_layer="features.2",
                        guided_layer="features.2")
    zoo.train(student, "digits", methods=[method], epochs=1, **FAST)
    after = params(student)
    assert all(torch.equal(teacher_before[k], v) for k, v in params(teacher).items())
    # stage 1 (Algorithm 1) trains the layers up to the guided one; those above it get no gradient
    for name in ("features.0.0.weight", "features.2.0.weight"):
        assert not torch.equal(after[name], student_before[name])
    for name in ("features.3.0.weight", "classifier.weight"):
        assert torch.equal(after[name], student_before[name])
    initial = build_regressor((4, 4, 4), (8, 4, 4), "conv", "relu", seed=0)  # the regressor as setup built it
    assert not torch.equal(method.regressor.map.weight.detach(), initial.map.weight)  # the regressor learned


def test_kd_stage_trains_a_zoo_model_and_a_plain_module_without_touching_the_teacher():
    teacher = conv_net(widths=(8, 8, 8), seed=1)
    teacher.train()
    before = params(teacher)
    mixer = tiny_mixer()
    mixer_before = params(mixer)
    result = zoo.train(mixer, "digits", methods=[zoo.method("fitnets", teacher=teacher)], epochs=1, **FAST)
    assert result.history[0]["train_loss"] > 0
    assert any(not torch.equal(mixer_before[k], v) for k, v in params(mixer).items())
    assert all(torch.equal(before[k], v) for k, v in params(teacher).items())
    assert teacher.training  # put back in training mode after the run (it is in eval mode during it)
    plain = conv_net(seed=2)
    zoo.train(plain, "digits", methods=[zoo.method("fitnets", teacher=teacher, kd_lambda=1.0)], epochs=1, **FAST)


def test_hints_between_a_zoo_model_and_a_cnn_use_a_fully_connected_regressor():
    mixer = tiny_mixer()
    teacher = conv_net(widths=(8, 8, 8), seed=1)
    method = zoo.method("fitnets", teacher=teacher, stage="hints")  # default layers: the middle blocks
    zoo.train(mixer, "digits", methods=[method], epochs=1, **FAST)
    assert method.regressor.kind == "fc" and method.regressor.activation == "none"  # features.1 is a pooling


def test_hint_stage_resumes_bitwise_including_the_regressor(tmp_path):
    teacher = conv_net(widths=(8, 8, 8), seed=1)
    options = dict(epochs=2, checkpoint_every=4, keep_checkpoints=10, seed=3, **FAST)

    def method():
        return zoo.method("fitnets", teacher=teacher, stage="hints", hint_layer="features.2",
                          guided_layer="features.2")

    whole, whole_method = conv_net(seed=0), method()
    zoo.train(whole, "digits", methods=[whole_method], out_dir=tmp_path / "whole", **options)
    early = sorted((tmp_path / "whole" / "checkpoints").glob("epoch-*"))[0]
    assert early.name == "epoch-00000-batch-000004"  # inside the first epoch
    resumed, resumed_method = conv_net(seed=9), method()
    zoo.train(resumed, "digits", methods=[resumed_method], out_dir=tmp_path / "resumed", resume=early, **options)
    for key, value in params(whole).items():
        assert torch.equal(value, params(resumed)[key]), key
    whole_state, resumed_state = whole_method.state_dict(), resumed_method.state_dict()
    assert set(whole_state["regressor"]) == {"map.weight", "map.bias"}
    for key, value in whole_state["regressor"].items():
        assert torch.equal(value, resumed_state["regressor"][key]), key


def test_procedure_interrupted_between_its_stages_resumes_at_the_kd_stage(tmp_path, monkeypatch):
    teacher = conv_net(widths=(8, 8, 8), seed=1)
    options = dict(epochs=1, seed=4, **FAST)

    def procedure():
        return zoo.method("fitnets", teacher=teacher, hint_layer="features.2", guided_layer="features.2")

    whole = conv_net(seed=0)
    done = procedure().run(whole, "digits", out_dir=tmp_path / "whole", **options)
    assert done.hints.epochs == 1 and done.kd.epochs == 1

    class Interrupted(Exception):
        pass

    original_loss = FitNets.loss

    def fail_in_kd(self, terms, output, batch, run):
        if self.config.stage == "kd":
            raise Interrupted
        return original_loss(self, terms, output, batch, run)

    monkeypatch.setattr(FitNets, "loss", fail_in_kd)
    student = conv_net(seed=0)
    with pytest.raises(Interrupted):
        procedure().run(student, "digits", out_dir=tmp_path / "cut", **options)
    hint_weights = tmp_path / "cut" / "hints" / "model.safetensors"
    written = hint_weights.stat().st_mtime_ns
    monkeypatch.setattr(FitNets, "loss", original_loss)
    fresh = conv_net(seed=7)  # the finished hint stage's weights are loaded into it
    procedure().run(fresh, "digits", out_dir=tmp_path / "cut", resume=True, **options)
    assert hint_weights.stat().st_mtime_ns == written  # stage 1 was not trained again
    for key, value in params(whole).items():
        assert torch.equal(value, params(fresh)[key]), key


# --- refused inputs ----------------------------------------------------------------------------------


def test_unknown_option_is_a_config_error_with_a_suggestion():
    with pytest.raises(ConfigError, match="did you mean 'temperature'"):
        zoo.method("fitnets", temprature=2.0)
    with pytest.raises(ConfigError):
        zoo.method("fitnets", stage="both")


def test_models_and_tasks_it_cannot_act_on_are_refused_before_training():
    student = conv_net()
    with pytest.raises(MethodMismatchError, match=r"'fitnets'.*'Sequential'.*'digits'.*teacher="):
        zoo.train(student, "digits", methods=[zoo.method("fitnets")], epochs=1, **FAST)
    teacher = conv_net(seed=1)
    bad_layer = zoo.method("fitnets", teacher=teacher, stage="hints", hint_layer="features.9")
    with pytest.raises(MethodMismatchError, match=r"features\.9.*'features\.0'"):
        zoo.train(student, "digits", methods=[bad_layer], epochs=1, **FAST)
    with pytest.raises(MethodMismatchError, match="classification task"):
        zoo.train(nn.Linear(10, 1), "diabetes", methods=[zoo.method("fitnets", teacher=nn.Linear(10, 1))],
                  epochs=1, **FAST)
    with pytest.raises(MethodMismatchError, match="no nn.Sequential"):
        zoo.train(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), "digits", epochs=1, **FAST,
                  methods=[zoo.method("fitnets", teacher=nn.Linear(64, 10), stage="hints")])
    with pytest.raises(MethodMismatchError, match="same classes"):
        zoo.train(student, "digits", methods=[zoo.method("fitnets", teacher=nn.Sequential(nn.Flatten(),
                                                                                          nn.Linear(64, 3)))],
                  epochs=1, **FAST)


def test_fitnets_given_twice_is_a_conflict():
    teacher = conv_net(seed=1)
    with pytest.raises(MethodConflictError, match="given twice"):
        zoo.train(conv_net(), "digits", methods=[zoo.method("fitnets", teacher=teacher),
                                                 zoo.method("fitnets", teacher=teacher, stage="hints")],
                  epochs=1, **FAST)
