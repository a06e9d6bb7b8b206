"""decoding-regression: conformance, the two tokenizations round-trip, the decoder is a normalised
density, the point prediction is an unbiased estimate of the decoded mean (checked against exact
enumeration), the tasks' data, a tiny training that improves, and bad input."""

import itertools

import numpy as np
import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.decoding_regression.config import DecodingRegressionConfig
from zoo_plugins.decoding_regression.loop import fit, objective
from zoo_plugins.decoding_regression.task import (bimodal_data, bimodal_log_density, bimodal_modes, bimodal_task,
                                                   make_regression_task)
from zoo_plugins.decoding_regression.tokenizer import DigitTokenizer

TINY = {"encoder_dim": 16, "d_model": 16, "heads": 2, "decoder_layers": 1}


def test_conforms_default_and_variants():
    for variant in ("default", "unnormalized", "mse-head"):
        assert_conforms("decoding-regression", variant=variant)


def test_normalized_tokens_round_trip():
    tokenizer = DigitTokenizer(DecodingRegressionConfig(target_low=-2.0, target_high=2.0, digits=3))
    y = torch.linspace(-2.0, 2.0, 101)
    tokens = tokenizer.encode(y)
    assert tokens.shape == (101, 3) and tokens.min() >= 0 and tokens.max() <= 9
    assert torch.all((tokenizer.decode(tokens) - y).abs() <= 4.0 / 1000 / 2 + 1e-6)  # within half a bin
    assert tokenizer.encode(torch.tensor([0.0])).tolist() == [[5, 0, 0]]  # u = 0.5 -> 0.500
    assert tokenizer.encode(torch.tensor([-9.0, 9.0])).tolist() == [[0, 0, 0], [9, 9, 9]]  # clamped
    torch.testing.assert_close(tokenizer.bin_width(tokens[:2]), torch.full((2,), 0.004))


def test_unnormalized_tokens_round_trip():
    config = DecodingRegressionConfig(tokenization="unnormalized", mantissa_digits=4, exponent_digits=1)
    tokenizer = DigitTokenizer(config)
    plus, minus = 10, 11
    assert tokenizer.encode(torch.tensor([-3.14159])).tolist() == [[minus, plus, 0, 3, 1, 4, 2]]
    assert tokenizer.encode(torch.tensor([0.00123456])).tolist() == [[plus, minus, 3, 1, 2, 3, 5]]
    assert tokenizer.encode(torch.tensor([9.99996])).tolist() == [[plus, plus, 1, 1, 0, 0, 0]]  # carry to 10
    y = torch.tensor([1.0, -0.5, 123.456, 7.0e-5, -8.8e8, 0.0])
    decoded = tokenizer.decode(tokenizer.encode(y))
    assert torch.all((decoded - y).abs() <= 5e-4 * y.abs() + 1e-12)  # 4 significant digits
    valid = tokenizer.valid()
    assert valid[:2, plus:].all() and not valid[:2, :10].any() and valid[2:, :10].all() and not valid[2:, 10:].any()


def test_decoder_density_sums_to_one():
    torch.manual_seed(0)
    model = zoo.create("decoding-regression", d_in=3, base=2, digits=3, target_low=0.0, target_high=1.0,
                       **TINY).eval()
    x = torch.randn(2, 3)
    centres = (torch.arange(8) + 0.5) / 8  # the 8 bins of 3 binary digits
    with torch.no_grad():
        density = torch.stack([model.log_density(x, torch.full((2,), c.item())).exp() for c in centres])
    torch.testing.assert_close((density / 8).sum(0), torch.ones(2))  # sum of p(bin) = 1


def test_point_prediction_is_the_decoded_mean():
    torch.manual_seed(0)
    for tokenization, options in (("normalized", {"digits": 3, "target_low": -1.0, "target_high": 3.0}),
                                  ("unnormalized", {"mantissa_digits": 2, "exponent_digits": 1})):
        model = zoo.create("decoding-regression", d_in=2, base=2, tokenization=tokenization, samples=4000,
                           **options, **TINY).eval()
        x = torch.randn(1, 2)
        tokenizer = model.tokenizer
        allowed = [row.nonzero()[:, 0].tolist() for row in tokenizer.valid()]
        sequences = torch.tensor(list(itertools.product(*allowed)))
        with torch.no_grad():
            p = model.log_prob_tokens(x.expand(len(sequences), 2), sequences).exp()
            exact = (p * tokenizer.decode(sequences)).sum()
            estimate = model(x)[0, 0]
        assert p.sum().item() == pytest.approx(1.0, abs=1e-5)
        spread = (tokenizer.decode(sequences) - exact).abs().max()
        assert abs(estimate - exact) < 0.03 * spread, tokenization


def test_tasks():
    x, y, which = bimodal_data(4000, np.random.default_rng(0))
    modes = bimodal_modes(x)
    assert np.allclose(modes[:, 1] - modes[:, 0], 2.0)
    assert (y[:, 0] - modes[np.arange(4000), which]).std() == pytest.approx(0.1, rel=0.1)
    assert abs(which.mean() - 0.5) < 0.03
    grid = np.linspace(-4, 4, 4001)
    density = np.exp(bimodal_log_density(np.repeat(x[:1], len(grid), 0), grid))
    assert density.sum() * (grid[1] - grid[0]) == pytest.approx(1.0, abs=1e-3)
    task = bimodal_task(n=100, seed=1)
    assert [len(task.splits()[k]) for k in ("train", "val", "test")] == [64, 16, 20]
    reg = make_regression_task(n=200, seed=0)
    xs, ys = reg.splits()["train"].tensors
    assert xs.shape == (128, 10) and abs(float(ys.mean())) < 1e-5 and float(ys.std()) == pytest.approx(1.0, rel=0.01)
    for bad in ({"n": 5}, {"n": 100, "gap": 0.0}, {"n": 100, "noise": -1.0}):
        with pytest.raises(ValueError, match="n must|gap must|noise must"):
            bimodal_task(**bad)
    with pytest.raises(ValueError, match="informative"):
        make_regression_task(features=3, informative=5)


def test_tiny_training_improves():
    task = bimodal_task(n=600, seed=0)
    torch.manual_seed(0)
    model = zoo.create("decoding-regression", task=task, target_low=-3.0, target_high=3.0, digits=2, **TINY)
    before = objective(model, task, "test")
    fit(model, task, epochs=15, batch_size=32, lr=3e-3, patience=15, seed=0)
    after = objective(model, task, "test")
    assert after < 0.85 * before  # token cross entropy, per token


def test_bad_input_and_config():
    model = zoo.create("decoding-regression", d_in=3, **TINY)
    with pytest.raises(ValueError, match=r"\(batch, 3\)"):
        model(torch.randn(4, 5))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="decoder head"):
        zoo.create("decoding-regression", d_in=3, head="mse").log_density(torch.randn(2, 3), torch.zeros(2))
    for bad in ({"target_low": 1.0, "target_high": 0.0}, {"d_model": 30, "heads": 4}, {"base": 1},
                {"tokenization": "binary"}, {"digits": 100}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("decoding-regression", **bad)
    with pytest.raises(ValueError, match="regression task"):
        zoo.create("decoding-regression", task="iris")
