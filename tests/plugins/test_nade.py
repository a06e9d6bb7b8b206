"""nade: conformance of NADE and DeepNADE, exact normalisation (probabilities of all 2^D binary
vectors sum to 1, under any ordering), bad input, and training that lowers the NLL."""

import itertools

import pytest
import torch

import zoo
from zoo.testing import assert_conforms


def all_binary_vectors(d):
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=d)))


def test_conforms_nade_and_deepnade():
    assert_conforms("nade")
    assert_conforms("nade", variant="deepnade", input_dim=64, hidden_sizes=[64, 64])


def test_nade_is_normalised():
    torch.manual_seed(0)
    model = zoo.create("nade", input_dim=6, hidden_sizes=[7]).eval()
    with torch.no_grad():
        total = model(all_binary_vectors(6)).exp().sum()
    assert total.item() == pytest.approx(1.0, abs=1e-5)


def test_deepnade_is_normalised_under_every_ordering_tried():
    torch.manual_seed(0)
    model = zoo.create("nade", variant="deepnade", input_dim=5, hidden_sizes=[8, 8]).eval()
    x = all_binary_vectors(5)
    with torch.no_grad():
        for ordering in (torch.arange(5), torch.tensor([3, 0, 4, 2, 1])):
            assert model.log_prob(x, ordering).exp().sum().item() == pytest.approx(1.0, abs=1e-5)
        assert model.ensemble_log_prob(x, torch.stack([torch.arange(5), torch.arange(5).flip(0)])).exp().sum().item() \
            == pytest.approx(1.0, abs=1e-5)


def test_bad_input_and_config():
    model = zoo.create("nade", input_dim=64, hidden_sizes=[10])
    with pytest.raises(ValueError, match=r"\(batch, 64\)"):
        model(torch.zeros(3, 10))
    with pytest.raises(TypeError, match="binary float"):
        model(torch.zeros(3, 64, dtype=torch.long))
    with pytest.raises(zoo.ConfigError, match="shares one hidden layer"):
        zoo.create("nade", hidden_sizes=[10, 10])
    with pytest.raises(zoo.ConfigError):
        zoo.create("nade", input_dim=1)


@pytest.mark.parametrize("variant", ["default", "deepnade"])
def test_training_lowers_the_test_nll(variant):
    torch.manual_seed(0)
    overrides = {"hidden_sizes": [32]} if variant == "default" else {"hidden_sizes": [64, 64]}
    model = zoo.create("nade", variant=variant, task="digits-binarized", **overrides)
    before = zoo.evaluate(model, "digits-binarized", split="test")["nll"]
    zoo.train(model, "digits-binarized", epochs=3, batch_size=100, lr=3e-3, eval_splits=[])
    after = zoo.evaluate(model, "digits-binarized", split="test")["nll"]
    assert after < before - 5, (before, after)
