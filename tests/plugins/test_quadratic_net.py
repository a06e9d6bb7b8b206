"""quadratic-net: conformance, the quadratic neuron's formula, ReLinear's start (the network equals the
conventional one) and its two learning rates through zoo.train, a neuron computing x1 x2, training,
and bad input."""

import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.quadratic_net.model import QuadraticLinear


def test_conforms_default_and_variants():
    assert_conforms("quadratic-net")
    for variant in ("no-relinear", "conventional"):
        assert_conforms("quadratic-net", variant=variant, input_dim=5, output_dim=2, hidden_dims=[4, 3])


def test_quadratic_neuron_formula():
    torch.manual_seed(0)
    layer = QuadraticLinear(3, 2, init="random")
    x = torch.randn(4, 3)
    wr, br, wg, bg, wb, c = layer.r.weight, layer.r.bias, layer.w_g, layer.b_g, layer.w_b, layer.c
    for n in range(4):
        for k in range(2):
            by_hand = (wr[k] @ x[n] + br[k]) * (wg[k] @ x[n] + bg[k]) + wb[k] @ (x[n] ** 2) + c[k]
            assert layer(x)[n, k].item() == pytest.approx(by_hand.item(), rel=1e-5, abs=1e-6)


def test_relinear_starts_as_the_conventional_network():
    torch.manual_seed(0)
    quadratic = zoo.create("quadratic-net", input_dim=4, output_dim=2, hidden_dims=[6])
    conventional = zoo.create("quadratic-net", input_dim=4, output_dim=2, hidden_dims=[6], neuron="conventional")
    for q, lin in zip(quadratic.layers, conventional.layers):
        assert torch.all(q.w_g == 0) and torch.all(q.b_g == 1) and torch.all(q.w_b == 0) and torch.all(q.c == 0)
        lin.load_state_dict(q.r.state_dict())
    x = torch.randn(8, 4)
    torch.testing.assert_close(quadratic(x), conventional(x))
    random = zoo.create("quadratic-net", input_dim=4, output_dim=2, hidden_dims=[6], init="random")
    assert random.layers[0].w_b.abs().sum() > 0


def test_relinear_learning_rates_reach_the_optimizer():
    model = zoo.create("quadratic-net", input_dim=4, output_dim=1, hidden_dims=[5], quadratic_lr_scale=0.1)
    linear, quadratic = model.configure_optimizers(1e-2).param_groups
    assert linear["lr"] == pytest.approx(1e-2) and quadratic["lr"] == pytest.approx(1e-3)
    assert sum(p.numel() for p in quadratic["params"]) == (2 * 5 * 4 + 2 * 5) + (2 * 1 * 5 + 2 * 1)  # W_g, W_b; b_g, c
    # through zoo.train: after one step the quadratic terms moved about 10x less than the linear part (Adam's
    # first step moves every weight by about its learning rate)
    x, y = torch.randn(64, 4), torch.randn(64, 1)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    zoo.train(model, (x, y), loss=torch.nn.functional.mse_loss, lr=1e-2, batch_size=64, epochs=1, eval_splits=[],
              final_splits=[])
    moved = {n: (p.detach() - before[n]).abs().max().item() for n, p in model.named_parameters()}
    assert moved["layers.0.r.weight"] == pytest.approx(1e-2, rel=0.05)
    assert moved["layers.0.w_b"] == pytest.approx(1e-3, rel=0.05)


def test_one_neuron_multiplies():
    """Expressivity: with w_r = e1, w_g = e2 (b = 0) a single quadratic neuron computes x1 * x2 exactly."""
    layer = QuadraticLinear(2, 1)
    with torch.no_grad():
        layer.r.weight.copy_(torch.tensor([[1.0, 0.0]])), layer.r.bias.zero_()
        layer.w_g.copy_(torch.tensor([[0.0, 1.0]])), layer.b_g.zero_()
    x = torch.randn(10, 2)
    torch.testing.assert_close(layer(x)[:, 0], x[:, 0] * x[:, 1])


def test_training_improves():
    torch.manual_seed(0)
    x = torch.rand(512, 2) * 2 - 1
    y = x[:, :1] * x[:, 1:] + x[:, :1] ** 2
    model = zoo.create("quadratic-net", input_dim=2, output_dim=1, hidden_dims=[8], quadratic_lr_scale=0.1)
    mse = lambda: torch.nn.functional.mse_loss(model(x), y).item()  # noqa: E731
    before = mse()
    zoo.train(model, (x, y), loss=torch.nn.functional.mse_loss, lr=1e-2, batch_size=64, epochs=15, eval_splits=[],
              final_splits=[])
    assert mse() < 0.1 * before


def test_bad_input_and_config():
    model = zoo.create("quadratic-net", input_dim=4, output_dim=2)
    with pytest.raises(ValueError, match=r"\(batch, 4\)"):
        model(torch.randn(3, 5))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="init must be"):
        QuadraticLinear(2, 2, init="zeros")
    for bad in ({"quadratic_lr_scale": 0.0}, {"quadratic_lr_scale": 2.0}, {"neuron": "cubic"}, {"hidden_dims": [0]},
                {"input_dim": 10**7}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("quadratic-net", **bad)
