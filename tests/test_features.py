"""features_only as in timm: models built on timm's staged networks become feature extractors over
their stages; any other model, or bad stage indices, is a ConfigError that says why."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.errors import ConfigError, WeightsError


@pytest.mark.parametrize("name", ["mlp-mixer", "resmlp"])
def test_a_staged_model_returns_its_stages_feature_maps(name):
    torch.manual_seed(0)
    extractor = zoo.create(name, variant="digits", features_only=True, out_indices=[0, -1])
    features = extractor(torch.randn(3, 1, 8, 8))
    assert len(features) == 2 and all(f.shape == (3, 64, 4, 4) for f in features)
    assert extractor.feature_info.channels() == [64, 64]
    # the last map is the model's own last block output (before its final norm), reshaped to NCHW
    model = extractor.model
    x = torch.randn(2, 1, 8, 8)
    tokens = model.stem(x)
    for block in model.blocks:
        tokens = block(tokens)
    torch.testing.assert_close(extractor(x)[-1], tokens.transpose(1, 2).reshape(2, 64, 4, 4))


def test_the_default_takes_the_last_stages_it_has():
    extractor = zoo.create("mlp-mixer", variant="digits", features_only=True)
    assert len(extractor(torch.randn(1, 1, 8, 8))) == 4


def test_a_model_without_stages_or_bad_indices_is_a_config_error():
    with pytest.raises(ConfigError, match="model 'kan' has no stages to take features from"):
        zoo.create("kan", features_only=True)
    with pytest.raises(ConfigError, match=r"out_indices=\[0, 9\] for model 'mlp-mixer' with 4 stage\(s\)"):
        zoo.create("mlp-mixer", variant="digits", features_only=True, out_indices=[0, 9])
    with pytest.raises(ConfigError, match="out_indices='last': expected a number"):
        zoo.create("mlp-mixer", variant="digits", features_only=True, out_indices="last")
    with pytest.raises(ConfigError, match="give both or neither"):
        zoo.create("mlp-mixer", variant="digits", out_indices=2)
    with pytest.raises(ConfigError, match="features_only='yes'"):
        zoo.create("mlp-mixer", features_only="yes")


def test_an_extractor_does_not_save_as_the_zoo_model(tmp_path):
    """timm prunes the wrapped model to the chosen stages (no final norm, no head): neither the
    extractor nor its model is the catalog model any more, and zoo.save says so."""
    extractor = zoo.create("mlp-mixer", variant="digits", features_only=True)
    with pytest.raises(WeightsError):
        zoo.save(extractor, tmp_path / "extractor")
    with pytest.raises(WeightsError, match="the config builds tensors the weights lack: norm.weight"):
        zoo.save(extractor.model, tmp_path / "model")
    assert not (tmp_path / "extractor").exists() and not (tmp_path / "model").exists()
