"""network-in-network: conformance, the paper's structure, bad input, training lowers the loss."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.testing import assert_conforms


@pytest.fixture(autouse=True)
def _one_thread():
    """The cores are shared: one intra-op thread avoids oversubscription stalls."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_default_and_digits_variants_conform():
    assert_conforms("network-in-network")
    assert_conforms("network-in-network", **zoo.resolve_config("network-in-network", variant="digits")[2].to_dict())


def test_default_is_the_papers_cifar10_network():
    model = zoo.create("network-in-network")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convs] == [
        (3, 192, 5), (192, 160, 1), (160, 96, 1),
        (96, 192, 5), (192, 192, 1), (192, 192, 1),
        (192, 192, 3), (192, 192, 1), (192, 10, 1)]
    assert not any(isinstance(m, nn.Linear) for m in model.modules())  # no fully-connected layer at all
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 2
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.5, 0.5]


def test_scores_are_the_global_average_of_the_class_maps():
    torch.manual_seed(0)
    model = zoo.create("network-in-network", variant="digits").eval()
    x = torch.rand(3, 1, 8, 8)
    maps = model.features(x)
    assert maps.shape == (3, 10, 2, 2)
    torch.testing.assert_close(model(x), maps.mean(dim=(2, 3)))


def test_any_image_size_works_thanks_to_global_pooling():
    model = zoo.create("network-in-network", variant="digits")
    assert model(torch.rand(2, 1, 8, 8)).shape == model(torch.rand(2, 1, 13, 21)).shape == (2, 10)


def test_wrong_input_shape_and_dtype_name_the_expected_shape():
    model = zoo.create("network-in-network", variant="digits")
    with pytest.raises(ValueError, match=r"\(batch, 1, H, W\)"):
        model(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"\(batch, 1, H, W\)"):
        model(torch.rand(2, 64))
    with pytest.raises(TypeError, match=r"\(batch, 1, H, W\).*uint8"):
        model(torch.zeros(2, 1, 8, 8, dtype=torch.uint8))


@pytest.mark.parametrize("bad", [{"kernel_sizes": [3, 3]}, {"kernel_sizes": [4, 3, 3]}, {"channels": [[32], [], [8]]},
                                 {"channels": [[32], [0], [8]]}, {"dropout": 1.5}, {"pool_stride": 0}])
def test_out_of_range_configs_are_refused_at_create(bad):
    with pytest.raises(ConfigError):
        zoo.create("network-in-network", variant="digits", **bad)


def test_sized_from_the_digits_task_and_a_few_epochs_lower_the_loss():
    torch.manual_seed(0)
    model = zoo.create("network-in-network", variant="digits", task="digits")
    assert (model.config.in_chans, model.config.num_classes) == (1, 10)
    before = zoo.evaluate(model, "digits", split="train")["loss"]
    zoo.train(model, "digits", epochs=4, batch_size=64, lr=2e-3, progress=False)
    after = zoo.evaluate(model, "digits", split="train")["loss"]
    assert after < 0.95 * before  # NIN starts slowly (see DOC.md); 4 epochs take it from 2.35 to 2.10


def test_class_maps_are_relud_unless_asked_not_to():
    torch.manual_seed(0)
    x = torch.rand(16, 1, 8, 8)
    faithful = zoo.create("network-in-network", variant="digits").eval()
    assert faithful(x).min() >= 0  # Eq. 2: ReLU on the class maps, so every score is >= 0
    linear = zoo.create("network-in-network", variant="digits", relu_on_class_maps=False).eval()
    assert linear(x).min() < 0
