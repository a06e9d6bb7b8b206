"""powernorm: conformance, Algorithm 1's pieces against their closed forms (inference output, running
statistics, the approximate backward and the nu recursion, warmup's exact gradient), the norm
switch, sizing from the sequence tasks, bad input and config, and training on a sequence task."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.errors import ConfigError
from zoo.testing import assert_conforms
from zoo_plugins.powernorm.model import PowerNorm, TokenBatchNorm

TINY = {"d_model": 8, "num_layers": 2, "num_heads": 2, "ffn_dim": 16, "max_len": 12, "num_classes": 5,
        "warmup_iters": 2}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("variant", ["default", "layernorm", "batchnorm", "small"])
def test_variants_conform(variant):
    assert_conforms("powernorm", variant=variant, **TINY)


def test_conforms_with_tokens_pre_norm_and_sequence_labels():
    assert_conforms("powernorm", **TINY, vocab_size=7, norm_first=True, per_position=False)


def _layer(**options) -> PowerNorm:
    torch.manual_seed(0)
    layer = PowerNorm(4, **options)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([0.5, 1.0, 2.0, -1.0]))
        layer.bias.copy_(torch.tensor([0.1, 0.0, -0.2, 0.3]))
        layer.running_psi2.copy_(torch.tensor([0.5, 2.0, 1.0, 4.0]))
        layer.running_nu.copy_(torch.tensor([0.2, -0.1, 0.0, 0.3]))
    return layer


def test_inference_is_gamma_x_over_running_psi_plus_beta():
    layer = _layer().eval()
    x = torch.randn(3, 5, 4) + 2.0
    expected = layer.weight * x / torch.sqrt(layer.running_psi2 + layer.eps) + layer.bias
    torch.testing.assert_close(layer(x), expected)
    # no mean subtraction: a shift of the input shifts the output (LayerNorm/BatchNorm would remove it)
    assert not torch.allclose(layer(x + 1.0), layer(x))


def test_training_step_normalises_by_the_previous_running_psi_and_updates_it():
    layer = _layer(alpha_fwd=0.8, warmup_iters=0).train()
    psi2_before = layer.running_psi2.clone()
    x = torch.randn(6, 4, requires_grad=True)
    y = layer(x)
    torch.testing.assert_close(y, layer.weight * x / torch.sqrt(psi2_before + layer.eps) + layer.bias)
    torch.testing.assert_close(layer.running_psi2, 0.8 * psi2_before + 0.2 * x.detach().square().mean(0))


def test_backward_is_algorithm_1s_approximate_gradient_and_nu_recursion():
    layer = _layer(alpha_bkw=0.7, warmup_iters=0).train()
    psi = torch.sqrt(layer.running_psi2 + layer.eps)
    nu_before = layer.running_nu.clone()
    x = torch.randn(6, 4, requires_grad=True)
    upstream = torch.randn(6, 4)
    layer(x).backward(upstream)
    x_hat = x.detach() / psi
    g_hat = layer.weight.detach() * upstream
    torch.testing.assert_close(x.grad, (g_hat - nu_before * x_hat) / psi)
    gamma_t, lambda_t = x_hat.square().mean(0), (g_hat * x_hat).mean(0)
    torch.testing.assert_close(layer.running_nu, nu_before * (1 - 0.3 * gamma_t) + 0.3 * lambda_t)
    torch.testing.assert_close(layer.weight.grad, (upstream * x_hat).sum(0))
    torch.testing.assert_close(layer.bias.grad, upstream.sum(0))


def test_warmup_uses_batch_statistics_with_the_exact_gradient_then_switches():
    layer = _layer(warmup_iters=1).train()
    x = torch.randn(5, 3, 4, requires_grad=True)
    upstream = torch.randn(5, 3, 4)
    layer(x).backward(upstream)
    # the exact gradient of gamma * x / sqrt(mean over rows of x^2 + eps) + beta, by autograd
    x2 = x.detach().clone().requires_grad_(True)
    psi_b = torch.sqrt(x2.reshape(-1, 4).square().mean(0) + layer.eps)
    (layer.weight.detach() * x2 / psi_b + layer.bias.detach()).backward(upstream)
    torch.testing.assert_close(x.grad, x2.grad)
    # batch statistics make a warmup step invariant to the scale of the batch
    layer2 = _layer(warmup_iters=5, eps=1e-12).train()
    with torch.no_grad():
        torch.testing.assert_close(layer2(3.0 * x), layer2(x))
    assert int(layer.steps) == 1
    psi2 = layer.running_psi2.clone()  # the second step is past warmup: normalised by the running psi
    torch.testing.assert_close(layer(x), layer.weight * x / torch.sqrt(psi2 + layer.eps) + layer.bias)


def test_token_batchnorm_is_batchnorm_over_all_tokens():
    torch.manual_seed(0)
    ours, reference = TokenBatchNorm(4), torch.nn.BatchNorm1d(4)
    x = torch.randn(3, 5, 4)
    torch.testing.assert_close(ours(x), reference(x.reshape(15, 4)).reshape(3, 5, 4))


@pytest.mark.parametrize("norm, kind", [("powernorm", PowerNorm), ("layernorm", torch.nn.LayerNorm),
                                        ("batchnorm", TokenBatchNorm)])
def test_norm_switch_puts_that_norm_after_every_sublayer(norm, kind):
    model = zoo.create("powernorm", **TINY, norm=norm)
    norms = [m for m in model.modules() if isinstance(m, (PowerNorm, torch.nn.LayerNorm, TokenBatchNorm))]
    assert len(norms) == 2 * TINY["num_layers"] and all(type(m) is kind for m in norms)


def test_sized_from_the_sequence_tasks():
    sort = zoo.create("powernorm", variant="small", task=zoo.get_task("seq/sort"))
    assert (sort.config.vocab_size, sort.config.in_features, sort.config.num_classes, sort.config.per_position) == (
        0, 1, 10, True)
    assert sort(torch.rand(2, 10, 1)).shape == (2, 10, 10)
    add = zoo.create("powernorm", variant="small", task=zoo.get_task("seq/modular-add"))
    assert (add.config.vocab_size, add.config.num_classes, add.config.per_position) == (97, 97, False)
    assert add(torch.randint(97, (3, 2))).shape == (3, 97)


def test_bad_inputs_name_what_was_expected():
    values = zoo.create("powernorm", **TINY)
    with pytest.raises(ValueError, match=r"\(batch, length, 1\)"):
        values(torch.rand(2, 5, 3))
    with pytest.raises(TypeError, match="real values"):
        values(torch.ones(2, 5, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="max_len=12"):
        values(torch.rand(2, 13, 1))
    tokens = zoo.create("powernorm", **TINY, vocab_size=7)
    with pytest.raises(TypeError, match="integer tokens"):
        tokens(torch.rand(2, 5))
    with pytest.raises(ValueError, match=r"\[0, 7\)"):
        tokens(torch.full((2, 5), 7))
    with pytest.raises(ValueError, match=r"PowerNorm\(4\)"):
        PowerNorm(4)(torch.randn(3, 5))


@pytest.mark.parametrize("bad", [{"num_heads": 3}, {"norm": "rmsnorm"}, {"alpha_fwd": 1.0}, {"eps": 0.0},
                                 {"d_model": 0}, {"dropout": 1.0}, {"warmup_iters": -1}])
def test_bad_configs_are_refused(bad):
    with pytest.raises(ConfigError):
        zoo.create("powernorm", **{**TINY, **bad})


def test_trains_on_a_sequence_task():
    task = zoo.get_task("seq/copy", n_train=1024, n_val=256, n_test=256)
    torch.manual_seed(0)
    model = zoo.create("powernorm", variant="small", task=task, num_layers=1, warmup_iters=8)
    before = zoo.evaluate(model, task, split="val")
    zoo.train(model, task, epochs=2, batch_size=32, lr=3e-3, seed=0, progress=False)
    after = zoo.evaluate(model, task, split="val")
    assert after["loss"] < before["loss"] - 0.5 and after["accuracy"] > before["accuracy"] + 0.2
    assert int(model.layers[0].norm_attention.steps) == 64  # two epochs of 32 steps
