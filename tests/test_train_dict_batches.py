"""Training data of dict samples (Hugging Face datasets' layout) read through an input key and a target
key, and the warning about a DataLoader's data order, given only when the run can be resumed."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from zoo.errors import ConfigError, ConfigTypeError
from zoo.training import evaluate, train
from zoo.training.data import DICT_KEYS

OPTIONS = dict(epochs=2, batch_size=16, lr=0.05, seed=3)


class DictSamples(Dataset):
    """Samples as dicts, with an extra key a model never sees (as datasets' rows have)."""

    def __init__(self, x, y, input_key="pixel_values", target_key="labels"):
        self.x, self.y, self.keys = x, y, (input_key, target_key)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {self.keys[0]: self.x[i], self.keys[1]: self.y[i], "id": f"row-{i}"}


def classification_data(n=64):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    return x, (x[:, 0] + x[:, 1] > 0).long()


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))


class TupleSamples(Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def test_dict_samples_train_exactly_like_the_same_pairs():
    x, y = classification_data()
    as_pairs = train(model(), TupleSamples(x, y), **OPTIONS)
    as_dicts = train(model(), DictSamples(x, y), **OPTIONS)  # ("pixel_values", "labels"): a default pair
    assert as_dicts.history == as_pairs.history and as_dicts.final == as_pairs.final
    assert as_dicts.steps == 2 * 4


def test_named_keys_with_a_validation_split_and_evaluate():
    x, y = classification_data(96)
    data = {"train": DictSamples(x[:64], y[:64], "features", "label"),
            "val": DictSamples(x[64:], y[64:], "features", "label")}
    net = model()
    result = train(net, data, input_key="features", target_key="label", **OPTIONS)
    assert "val_loss" in result.history[0]
    metrics = evaluate(net, data, split="val", input_key="features", target_key="label")
    assert metrics["loss"] == pytest.approx(result.final["val_loss"], rel=1e-6)


def test_dataloader_of_dict_batches():
    x, y = classification_data()
    loader = DataLoader(DictSamples(x, y, "x", "y"), batch_size=16, shuffle=False)
    result = train(model(), loader, epochs=1)  # ("x", "y"): a default pair
    assert result.steps == 4 and result.final["train_loss"] > 0


def test_one_named_key_pairs_with_the_default_of_the_other_side():
    x, y = classification_data()
    result = train(model(), DictSamples(x, y, "image", "labels"), input_key="image", **OPTIONS)
    assert result.steps == 8


def test_dict_without_known_keys_lists_its_keys_and_the_defaults():
    x, y = classification_data()
    with pytest.raises(ConfigError, match=r"keys 'features', 'target', 'id', none of the default.*"
                                          r"\('input', 'target'\).*\('pixel_values', 'labels'\).*input_key="):
        train(model(), DictSamples(x, y, "features", "target"), **OPTIONS)
    assert ("input", "target") == DICT_KEYS[0]


def test_named_key_that_the_samples_lack():
    x, y = classification_data()
    with pytest.raises(ConfigError, match=r"keys 'pixel_values', 'labels', 'id'; target_key='label' is not one"):
        train(model(), DictSamples(x, y), target_key="label", **OPTIONS)
    with pytest.raises(ConfigError, match=r"none of the default keys \['target', 'targets', 'y', 'labels'\] is "
                                          r"there for target_key"):
        train(model(), DictSamples(x, y, "img", "cls"), input_key="img", **OPTIONS)


def test_dict_values_that_are_not_tensors_are_named():
    class TextRows(DictSamples):
        def __getitem__(self, i):
            return {"x": f"text {i}", "y": self.y[i]}

    x, y = classification_data()
    with pytest.raises(ConfigTypeError, match="arrays or tensors under 'x' and 'y', got str and Tensor"):
        train(model(), TextRows(x, y), **OPTIONS)


def test_keys_for_data_without_dict_samples_are_refused():
    x, y = classification_data()
    with pytest.raises(ConfigError, match="do not apply to tuple data"):
        train(model(), (x, y), input_key="x", **OPTIONS)
    with pytest.raises(ConfigError, match="samples of type tuple"):
        train(model(), TupleSamples(x, y), input_key="x", **OPTIONS)
    with pytest.raises(ConfigTypeError, match="input_key must be the name of a key.*got int 0"):
        train(model(), DictSamples(x, y), input_key=0, **OPTIONS)


# --- the warning about a DataLoader's data order ------------------------------------------------------


def loader():
    x, y = classification_data()
    return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)


def test_no_resume_order_warning_without_a_run_directory():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(model(), loader(), epochs=1)
    assert not [w for w in caught if "resume" in str(w.message)]


def test_resume_order_warning_with_a_run_directory(tmp_path):
    with pytest.warns(UserWarning, match="its own sampler sets the data order, so a resume inside an epoch"):
        train(model(), loader(), epochs=1, out_dir=tmp_path / "run")
