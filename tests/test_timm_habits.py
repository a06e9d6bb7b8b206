"""Habits from timm that must work on zoo models: classifier surgery before zoo.save (config.json
follows the weights, or the save is refused), and zoo.create("hf-hub:org/name") building and
loading a zoo repo from the Hub, as timm.create_model("hf-hub:...") does."""

from __future__ import annotations

import json

import pytest
import torch
from hub_helpers import dead_endpoint, populate_hf_cache, repo_files

import zoo
from zoo.errors import ConfigError, HubError, WeightsError


def _same(a, b) -> bool:
    return a.state_dict().keys() == b.state_dict().keys() and all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def _saved_config(folder) -> dict:
    return json.loads((folder / "config.json").read_text())["config"]


@pytest.fixture
def mixer():
    """A timm-backed zoo model (timm's MlpMixer), small: 8x8 grey digits, 10 classes."""
    torch.manual_seed(0)
    return zoo.create("mlp-mixer", variant="digits")


@pytest.fixture
def nin():
    """One of the zoo's own models: its last 1x1 convolution makes the class maps."""
    torch.manual_seed(0)
    return zoo.create("network-in-network", variant="digits")


# --- classifier surgery, then zoo.save -------------------------------------------------------------------


def test_reset_classifier_on_a_timm_model_saves_a_config_that_loads(mixer, tmp_path):
    mixer.reset_classifier(3)
    folder = zoo.save(mixer, tmp_path / "mixer")
    assert _saved_config(folder)["num_classes"] == 3
    assert mixer.zoo_identity.config.num_classes == 3  # the saved model now says what it is
    loaded = zoo.load(folder)
    assert _same(loaded, mixer)
    assert loaded.zoo_identity.config.num_classes == 3
    assert loaded(torch.rand(2, 1, 8, 8)).shape == (2, 3)


def test_a_replaced_class_layer_in_a_zoo_model_saves_a_config_that_loads(nin, tmp_path):
    nin.features[6][4] = torch.nn.Conv2d(64, 3, 1)  # the class-map convolution, now for 3 classes
    folder = zoo.save(nin, tmp_path / "nin")
    config = _saved_config(folder)
    assert config["num_classes"] == 3 and config["channels"] == nin.zoo_identity.config.to_dict()["channels"]
    loaded = zoo.load(folder)
    assert _same(loaded, nin)
    assert loaded(torch.rand(2, 1, 8, 8)).shape == (2, 3)


def test_an_unchanged_model_saves_its_own_config(mixer, tmp_path):
    folder = zoo.save(mixer, tmp_path / "mixer")
    assert _saved_config(folder) == mixer.zoo_identity.config.to_dict()


def test_surgery_no_config_value_records_is_refused_naming_the_tensors(nin, tmp_path):
    nin.features[0][0] = torch.nn.Conv2d(1, 16, 3, padding=1)  # a narrower first layer: no field says 16
    with pytest.raises(WeightsError, match=r"features\.0\.0\.weight: weights \(16, 1, 3, 3\) vs config "
                                           r"\(32, 1, 3, 3\).*zoo\.create\('network-in-network'"):
        zoo.save(nin, tmp_path / "nin")
    assert not (tmp_path / "nin").exists()


def test_a_removed_classifier_is_refused_when_the_config_cannot_say_so(mixer, tmp_path):
    mixer.reset_classifier(0)  # timm's headless model; num_classes must be >= 1 here
    with pytest.raises(WeightsError, match=r"the config builds tensors the weights lack: head\.weight, head\.bias"):
        zoo.save(mixer, tmp_path / "mixer")
    assert not (tmp_path / "mixer").exists()


# --- zoo.create("hf-hub:...") ------------------------------------------------------------------------------


@pytest.fixture
def pushed(hub, mixer):
    """The mixer pushed to the local Hub-compatible server: (model, PushResult)."""
    return mixer, zoo.push_to_hub(mixer, "someone/mixer-digits")


def test_create_from_the_hub_builds_the_repo_config_and_loads_its_weights(pushed):
    model, result = pushed
    for uri in ("hf-hub:someone/mixer-digits", result.uri):
        created = zoo.create(uri)
        assert _same(created, model)
        assert created.zoo_identity.config == model.zoo_identity.config


def test_create_from_the_hub_with_a_new_class_count_keeps_the_body_and_a_fresh_head(pushed):
    model, result = pushed
    with pytest.warns(UserWarning, match=r"head\.bias, head\.weight keep their fresh initialisation"):
        created = zoo.create(result.uri, num_classes=3)
    assert created.zoo_identity.config.num_classes == 3
    assert created(torch.rand(2, 1, 8, 8)).shape == (2, 3)
    mine, theirs = created.state_dict(), model.state_dict()
    assert all(torch.equal(mine[k], theirs[k]) for k in theirs if not k.startswith("head."))


def test_create_from_the_hub_without_pretrained_fetches_only_the_config(pushed, hub):
    model, result = pushed
    torch.manual_seed(1)
    created = zoo.create(result.uri, pretrained=False, dropout=0.1)
    assert created.zoo_identity.config == model.zoo_identity.config.model_copy(update={"dropout": 0.1})
    assert created.zoo_identity.weights is None
    assert not _same(created, model)  # freshly initialised
    fetched = [path for method, path in hub.requests if "/resolve/" in path]
    assert fetched and all(path.endswith("/config.json") for path in fetched)


def test_create_from_the_hub_refuses_bad_options(pushed):
    _, result = pushed
    with pytest.raises(ConfigError, match="num_clases"):
        zoo.create(result.uri, num_clases=3)
    with pytest.raises(ConfigError, match=r"variant='digits' does not apply to 'hf-hub:someone/mixer-digits@"):
        zoo.create(result.uri, variant="digits")
    with pytest.raises(HubError):
        zoo.create("hf-hub:someone/no-such-repo")
    with pytest.raises(HubError, match="invalid repo id"):
        zoo.create("hf-hub:../escape")


def test_create_from_the_hub_offline_from_a_prefilled_cache(mixer, tmp_path, monkeypatch):
    folder = zoo.save(mixer, tmp_path / "mixer")
    cache = tmp_path / "hf-cache"
    commit = populate_hf_cache(cache, "someone/mixer-cached", repo_files(folder))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", dead_endpoint())
    assert _same(zoo.create(f"hf-hub:someone/mixer-cached@{commit}"), mixer)
    assert _same(zoo.create("hf-hub:someone/mixer-cached"), mixer)
