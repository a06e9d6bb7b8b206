"""bilinear-layer: conformance, the layer is the elementwise product of two linear maps, its third-order
tensor reproduces the forward (with and without biases), the baselines, training, and bad input."""

import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.bilinear_layer.model import BilinearLayer


def test_conforms_default_and_variants():
    assert_conforms("bilinear-layer")
    for variant in ("residual", "relu", "gelu", "no-bias"):
        assert_conforms("bilinear-layer", variant=variant, input_dim=6, output_dim=3, hidden_dim=8, model_dim=8)


def test_layer_is_product_of_two_linear_maps():
    torch.manual_seed(0)
    layer = BilinearLayer(5, 7, 3, bias=False)
    x = torch.randn(4, 5)
    w1, w2, wo = layer.w1.weight, layer.w2.weight, layer.out.weight
    expected = torch.stack([wo @ ((w1 @ v) * (w2 @ v)) for v in x])
    torch.testing.assert_close(layer(x), expected)
    # no elementwise nonlinearity: the layer is homogeneous of degree 2 without biases
    torch.testing.assert_close(layer(3 * x), 9 * layer(x))


@pytest.mark.parametrize("bias", [False, True])
def test_interaction_tensor_reproduces_forward(bias):
    torch.manual_seed(1)
    layer = BilinearLayer(6, 9, 4, bias=bias).double()
    x = torch.randn(10, 6, dtype=torch.float64)
    xa = torch.cat([x, torch.ones(10, 1, dtype=torch.float64)], 1) if bias else x
    tensor = layer.interaction_tensor()
    assert tensor.shape == (4, 7 if bias else 6, 7 if bias else 6)
    out = torch.einsum("kij,ni,nj->nk", tensor, xa, xa)
    torch.testing.assert_close(out, layer(x))
    # one entry by hand: B_kij = sum_h Wout_kh W1_hi W2_hj
    k, i, j = 2, 1, 4
    by_hand = sum(layer.out.weight[k, h] * layer.w1.weight[h, i] * layer.w2.weight[h, j] for h in range(9))
    assert tensor[k, i, j].item() == pytest.approx(by_hand.item())
    symmetric = layer.symmetric_tensor()
    torch.testing.assert_close(symmetric, symmetric.transpose(1, 2))
    torch.testing.assert_close(torch.einsum("kij,ni,nj->nk", symmetric, xa, xa), out)


def test_model_tensors_and_baselines():
    torch.manual_seed(0)
    model = zoo.create("bilinear-layer", input_dim=5, output_dim=2, hidden_dim=6)
    x = torch.randn(3, 5)
    xa = torch.cat([x, torch.ones(3, 1)], 1)
    torch.testing.assert_close(torch.einsum("kij,ni,nj->nk", model.interaction_tensors()[0], xa, xa), model(x))
    residual = zoo.create("bilinear-layer", input_dim=5, output_dim=2, hidden_dim=6, residual_blocks=3, model_dim=4)
    assert [t.shape for t in residual.interaction_tensors()] == [(4, 5, 5)] * 3
    relu = zoo.create("bilinear-layer", input_dim=5, output_dim=2, hidden_dim=6, activation="relu")
    layer = relu.layers[0]
    torch.testing.assert_close(relu(x), layer.out(torch.relu(layer.w1(x))))
    with pytest.raises(ValueError, match="activation='bilinear'"):
        relu.interaction_tensors()
    # the bilinear layer has one more input matrix than the MLP layer of the same width
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(model) - n(relu) == 5 * 6 + 6
    # digits images (1, 8, 8) are flattened
    assert zoo.create("bilinear-layer", task="digits")(torch.rand(2, 1, 8, 8)).shape == (2, 10)


def test_training_improves_regression():
    torch.manual_seed(0)
    x = torch.rand(512, 3) * 2 - 1
    y = (x[:, :1] * x[:, 1:2] + 0.5 * x[:, 2:3])  # a quadratic target the layer can represent exactly
    model = zoo.create("bilinear-layer", input_dim=3, output_dim=1, hidden_dim=8)
    before = torch.nn.functional.mse_loss(model(x), y).item()
    zoo.train(model, (x, y), loss=torch.nn.functional.mse_loss, optimizer="adam", lr=1e-2, batch_size=64, epochs=15,
              eval_splits=[], final_splits=[])
    after = torch.nn.functional.mse_loss(model(x), y).item()
    assert after < 0.05 * before and after < 1e-2


def test_bad_input_and_config():
    model = zoo.create("bilinear-layer", input_dim=4, output_dim=2)
    with pytest.raises(ValueError, match=r"\(batch, 4\)"):
        model(torch.randn(3, 5))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(3, 4, dtype=torch.long))
    for bad in ({"hidden_dim": 0}, {"activation": "tanh"}, {"residual_blocks": 100}, {"input_dim": 10**7}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("bilinear-layer", **bad)
