"""multiplet-nn: conformance, the Lehmer and Gini means against their formulas and known special
cases, the constructions the paper's claim rests on (XOR in two layers, x1 x2 and x1 / x2 from one
Gini neuron), the tasks, training, and bad input."""

import numpy as np
import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.multiplet_nn.model import MultipletLayer, gini_mean, lehmer_mean
from zoo_plugins.multiplet_nn.repro import hand_built_xor, xor_error
from zoo_plugins.multiplet_nn.task import XOR_INPUTS, XOR_TARGETS, arithmetic_task, xor_task


def test_conforms_default_and_variants():
    assert_conforms("multiplet-nn")
    for variant in ("gini", "relu"):
        assert_conforms("multiplet-nn", variant=variant, input_dim=3, output_dim=2, hidden_dims=[4])


def test_lehmer_mean_formula_and_special_cases():
    x = torch.tensor([[1.5, 0.5, 3.0]], dtype=torch.float64)
    w = torch.tensor([[0.2, 0.5, 0.3]], dtype=torch.float64)
    for p in (-2.0, 0.0, 0.5, 1.0, 3.0):
        by_hand = (w * x ** p).sum() / (w * x ** (p - 1)).sum()
        assert lehmer_mean(x, w, torch.tensor([p], dtype=torch.float64)).item() == pytest.approx(by_hand.item())
    equal = torch.ones(1, 3, dtype=torch.float64)
    lehmer = lambda p: lehmer_mean(x, equal, torch.tensor([p], dtype=torch.float64)).item()  # noqa: E731
    assert lehmer(1.0) == pytest.approx(x.mean().item())  # arithmetic
    assert lehmer(0.0) == pytest.approx(3 / (1 / x).sum().item())  # harmonic
    assert lehmer(60.0) == pytest.approx(3.0, rel=1e-6) and lehmer(-60.0) == pytest.approx(0.5, rel=1e-6)  # max / min
    two = torch.tensor([[2.0, 8.0]], dtype=torch.float64)
    assert lehmer_mean(two, torch.ones(1, 2, dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64)).item() == \
        pytest.approx(4.0)  # geometric for two inputs


def test_gini_mean_formula_limit_and_lehmer_case():
    x = torch.tensor([[1.5, 0.5, 3.0]], dtype=torch.float64)
    w = torch.tensor([[0.2, 0.5, 0.3]], dtype=torch.float64)
    r, s = torch.tensor([2.0], dtype=torch.float64), torch.tensor([-1.0], dtype=torch.float64)
    by_hand = ((w * x ** 2).sum() / (w * x ** -1).sum()) ** (1 / 3)
    assert gini_mean(x, w, r, s).item() == pytest.approx(by_hand.item())
    zero = torch.zeros(1, dtype=torch.float64)
    geometric = torch.exp((w * torch.log(x)).sum() / w.sum())
    assert gini_mean(x, w, zero, zero).item() == pytest.approx(geometric.item())
    assert gini_mean(x, w, zero + 1e-3, zero).item() == pytest.approx(geometric.item(), rel=1e-3)  # continuous at r = s
    p = torch.tensor([2.5], dtype=torch.float64)
    assert gini_mean(x, w, p, p - 1).item() == pytest.approx(lehmer_mean(x, w, p).item())  # Lehmer = Gini(p, p-1)


def test_one_gini_neuron_multiplies_and_divides():
    x = torch.rand(50, 2, dtype=torch.float64) * 3 + 0.2
    layer = MultipletLayer(2, 2, mean="gini").double()
    with torch.no_grad():  # r = s = 0: prod x_i^(w_i / sum w) over (x1, x2, 1)
        layer.weight.copy_(torch.tensor([[1.0, 1.0, -1.0], [1.0, -1.0, 1.0]]))
        layer.r.zero_(), layer.s.zero_()
    out = layer(x)
    torch.testing.assert_close(out[:, 0], x[:, 0] * x[:, 1])
    torch.testing.assert_close(out[:, 1], x[:, 0] / x[:, 1])


def test_two_lehmer_layers_solve_xor():
    model = hand_built_xor()
    assert xor_error(model) < 1e-3
    outputs = model(torch.tensor(XOR_INPUTS))[:, 0]
    assert outputs.round().tolist() == XOR_TARGETS[:, 0].tolist()


def test_tasks():
    xor = xor_task(repeats=3)
    x, y = xor.splits()["train"][:]
    assert x.shape == (12, 2) and np.all(np.asarray(x) > 0)
    assert set(map(tuple, np.asarray(xor.splits()["test"][:][0]).tolist())) == {(1, 1), (1, 2), (2, 1), (2, 2)}
    for op, fn in (("multiply", np.multiply), ("divide", np.divide)):
        task = arithmetic_task(op, n_train=100, n_test=50, seed=1)
        x, y = (np.asarray(a) for a in task.splits()["train"][:])
        np.testing.assert_allclose(y[:, 0], fn(x[:, 0], x[:, 1]), rtol=1e-6)
        assert x.min() >= 0.5 and x.max() <= 2.0
        xe, ye = task.extrapolation
        assert xe.min() >= 2.0 and xe.max() <= 4.0 and ye.shape == (50, 1)
    with pytest.raises(ValueError, match="operation"):
        arithmetic_task("add")
    with pytest.raises(ValueError, match="positive"):
        arithmetic_task("multiply", low=-1.0)


def test_training_learns_multiplication():
    task = arithmetic_task("multiply", n_train=256, n_test=100, seed=0)
    torch.manual_seed(0)
    model = zoo.create("multiplet-nn", task=task, mean="gini")
    before = zoo.evaluate(model, task)["rmse"]
    zoo.train(model, task, optimizer="adam", lr=0.03, batch_size=64, epochs=20, eval_splits=[], final_splits=[])
    assert zoo.evaluate(model, task)["rmse"] < 0.3 * before


def test_bad_input_and_config():
    model = zoo.create("multiplet-nn")
    with pytest.raises(ValueError, match="positive"):
        model(torch.tensor([[1.0, -0.5]]))
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        model(torch.ones(3, 5))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="mean must be"):
        MultipletLayer(2, 2, mean="power")
    for bad in ({"mean": "max"}, {"hidden_dims": [0]}, {"floor": 0.0}, {"init_p": 1e3}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("multiplet-nn", **bad)
