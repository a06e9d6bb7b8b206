"""cgan: conformance, bad labels and noise, label conditioning reaching both players, and a short
training run through zoo.train that lowers the discriminator's loss."""

import pytest
import torch

import zoo
from zoo.testing import assert_conforms


class LossLog:
    def __init__(self):
        self.losses = []

    def zoo_train_batch_end(self, run, logs):
        self.losses.append(logs["loss"])


def test_conforms_default_and_toy_variant():
    assert_conforms("cgan")
    assert_conforms("cgan", variant="toy2d")


def test_bad_labels_and_noise_name_what_is_expected():
    model = zoo.create("cgan", variant="toy2d")
    z = torch.rand(4, 16)
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        model(z, torch.tensor([0, 1, 2, 8]))
    with pytest.raises(TypeError, match="integer class labels"):
        model(z, torch.zeros(4))
    with pytest.raises(ValueError, match="one label each"):
        model(z, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"\(batch, 16\)"):
        model(torch.rand(4, 5), torch.tensor([0, 1, 2, 3]))


@pytest.mark.parametrize("bad", [{"num_classes": 1}, {"joint_pieces": 0}, {"dropout": -0.1}, {"k_steps": 0}])
def test_out_of_range_config_rejected_at_create(bad):
    with pytest.raises(zoo.ConfigError):
        zoo.create("cgan", **bad)


def test_label_changes_both_generator_and_discriminator():
    torch.manual_seed(0)
    model = zoo.create("cgan", variant="toy2d").eval()
    z = torch.rand(1, 16).repeat(2, 1)
    samples = model(z, torch.tensor([0, 5]))
    assert not torch.allclose(samples[0], samples[1])
    x = torch.randn(1, 2).repeat(2, 1)
    d = model.discriminate(x, torch.tensor([0, 5]))
    assert not torch.allclose(d[0], d[1])


def test_from_task_takes_classes_and_shape():
    model = zoo.create("cgan", variant="toy2d", task="mixture2d/grid25")
    assert model.config.num_classes == 25 and model.config.data_shape == [2]


def test_training_lowers_the_discriminator_loss():
    torch.manual_seed(0)
    model = zoo.create("cgan", variant="toy2d", task="mixture2d/ring8")
    log = LossLog()
    zoo.train(model, "mixture2d/ring8", max_steps=30, batch_size=128, lr=1e-3, eval_splits=[], callbacks=[log])
    assert len(log.losses) == 30
    assert sum(log.losses[-8:]) / 8 < sum(log.losses[:4]) / 4
