"""Tests of zoo.training.calibration: calibration inputs drawn deterministically and without labels,
layer inputs captured by hooks, the matrix view of dense and convolutional layers, and the grid."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError, ResourceError, ZooError
from zoo.training.calibration import (Grid, attach_grid, calibration_inputs, capture, compressible_layers, fit_grid,
                                      grid_of, layer_input_matrix, round_to_nearest, weight_matrix)


def small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2, dilation=1),
                         nn.ReLU(), nn.Flatten(), nn.Linear(6 * 3 * 3, 10))


def test_calibration_inputs_are_unlabelled_deterministic_and_distinct():
    a = calibration_inputs("digits", n=200, seed=3)
    b = calibration_inputs(zoo.get_task("digits"), n=200, seed=3)
    c = calibration_inputs("digits", n=200, seed=4)
    assert isinstance(a, torch.Tensor) and a.shape == (200, 1, 8, 8)
    assert torch.equal(a, b) and not torch.equal(a, c)
    train = zoo.get_task("digits").splits()["train"].tensors[0]
    # every drawn input is a train input
    assert (a.reshape(200, 1, -1) == train.reshape(1, len(train), -1)).all(-1).any(1).all()
    # drawn without replacement: all of a numbered pool is a permutation of it
    numbered = torch.arange(30.0).unsqueeze(1)
    assert sorted(calibration_inputs(numbered, n=30, seed=3).squeeze(1).tolist()) == numbered.squeeze(1).tolist()


def test_calibration_from_arrays_and_bare_inputs():
    x, y = torch.randn(50, 3), torch.randint(0, 2, (50,))
    from_pairs = calibration_inputs((x, y), n=10, seed=1)
    bare = calibration_inputs(x, n=10, seed=1)
    assert torch.equal(from_pairs, bare)
    assert from_pairs.shape == (10, 3)


def test_calibration_refuses_bad_sizes_and_splits():
    with pytest.raises(ZooError, match="holds 1149"):
        calibration_inputs("digits", n=5000)
    with pytest.raises(ConfigError, match="positive"):
        calibration_inputs("digits", n=0)
    with pytest.raises(ConfigError, match="at most"):
        calibration_inputs("digits", n=10**7)
    with pytest.raises(ConfigError, match="Did you mean 'train'"):
        calibration_inputs("digits", n=10, split="trian")


def test_capture_gives_each_layers_input_and_output_in_batches():
    model = small_cnn()
    x = torch.rand(37, 1, 8, 8)
    layers = compressible_layers(model)
    assert list(layers) == ["0", "2", "5"]
    seen = capture(model, layers, x, outputs=True, batch_size=8)
    assert torch.allclose(seen["2"].inputs, torch.relu(model[0](x)), atol=1e-6)
    assert torch.allclose(seen["5"].outputs, model(x), atol=1e-6)
    model.train()
    capture(model, ["0"], x)
    assert model.training  # the mode is restored
    assert not model[0]._forward_hooks  # and the hooks removed
    with pytest.raises(ResourceError, match="GiB"):
        capture(model, layers, x, max_bytes=1000)
    assert not model[0]._forward_hooks


def test_layer_input_matrix_times_the_weight_matrix_is_the_layer_output():
    model = small_cnn()
    x = torch.rand(5, 1, 8, 8)
    seen = capture(model, compressible_layers(model), x, outputs=True)
    for name, layer in compressible_layers(model).items():
        rows = layer_input_matrix(layer, seen[name].inputs) @ weight_matrix(layer).T + layer.bias
        out = seen[name].outputs
        expected = out.flatten(2).transpose(1, 2).reshape(-1, out.shape[1]) if out.dim() == 4 else out
        assert torch.allclose(rows, expected, atol=1e-5), name
    conv1d = nn.Conv1d(3, 4, 3, padding=2, dilation=2)
    x1 = torch.randn(2, 3, 9)
    out = conv1d(x1)
    rows = layer_input_matrix(conv1d, x1) @ weight_matrix(conv1d).T + conv1d.bias
    assert torch.allclose(rows, out.transpose(1, 2).reshape(-1, 4), atol=1e-5)


def test_compressible_layers_leave_out_attention_grouped_convs_and_skipped_names():
    model = nn.ModuleDict({"attn": nn.MultiheadAttention(8, 2), "grouped": nn.Conv2d(4, 4, 3, groups=2),
                           "fc": nn.Linear(8, 8), "head": nn.Linear(8, 2)})
    assert list(compressible_layers(model)) == ["fc", "head"]
    assert list(compressible_layers(model, skip=["he*"])) == ["fc"]


@pytest.mark.parametrize("per_channel", [True, False])
def test_grid_has_2_to_the_bits_levels_holding_zero_and_search_lowers_the_error(per_channel):
    torch.manual_seed(0)
    w = torch.randn(6, 50)
    w[0, 0] = 8.0  # an outlier: the min-max grid wastes its levels on it
    for bits in (3, 4):
        minmax = fit_grid(w, bits, per_channel=per_channel, search=False)
        fitted = fit_grid(w, bits, per_channel=per_channel)
        q = fitted.integers(w)
        assert q.min() >= 0 and q.max() <= 2**bits - 1 and torch.equal(q, q.round())
        assert fitted.contains(fitted.round(w)) and fitted.contains(torch.zeros_like(w))
        assert (fitted.round(w) - w).pow(2).sum() < (minmax.round(w) - w).pow(2).sum()
        if not per_channel:
            assert torch.equal(fitted.scale, fitted.scale[:1].expand_as(fitted.scale))


def test_a_grid_kept_in_buffers_is_saved_with_the_state_dict():
    layer = nn.Linear(5, 3)
    grid = fit_grid(weight_matrix(layer), 4)
    attach_grid(layer, grid)
    fresh = nn.Linear(5, 3)
    attach_grid(fresh, bits=4)
    fresh.load_state_dict(layer.state_dict())
    kept = grid_of(fresh)
    assert isinstance(kept, Grid) and kept.maxq == 15
    assert torch.equal(kept.scale, grid.scale) and torch.equal(kept.zero, grid.zero)
    assert grid_of(nn.Linear(2, 2)) is None


def test_round_to_nearest_puts_every_layer_on_its_own_grid():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    grids = {name: fit_grid(weight_matrix(layer), 3) for name, layer in compressible_layers(model).items()}
    assert round_to_nearest(model, 3) is model
    for name, layer in compressible_layers(model).items():
        assert grids[name].contains(weight_matrix(layer))
        assert len(torch.unique(weight_matrix(layer)[0])) <= 2**3
