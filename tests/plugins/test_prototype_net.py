"""prototype-net: conformance, the prototype layer's squared distances, the objective's four terms
against their closed forms, decoded prototypes and their classes, the digits sizing, bad input, and
training that lowers the loss."""

import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.prototype_net import strides_for

SMALL = {"channels": 4, "latent_channels": 3, "num_prototypes": 5}


def test_conforms_default_and_digits_variant():
    assert_conforms("prototype-net", **SMALL)
    assert_conforms("prototype-net", variant="digits", **SMALL)


def test_digits_sizing_keeps_the_papers_2x2x10_code():
    assert strides_for(28, 4) == [2, 2, 2, 2] and strides_for(8, 4) == [2, 2, 1, 1]
    model = zoo.create("prototype-net", task="digits")
    assert model.config.input_shape == [1, 8, 8] and model.latent_shape == (10, 2, 2)
    assert zoo.create("prototype-net").latent_shape == (10, 2, 2)  # the paper's MNIST network


def test_logits_are_a_linear_map_of_squared_distances():
    torch.manual_seed(0)
    model = zoo.create("prototype-net", variant="digits", **SMALL)
    x = torch.rand(3, 1, 8, 8)
    z = model.encode(x)
    distances = torch.stack([((z - p) ** 2).sum(1) for p in model.prototype_vectors], dim=1)
    torch.testing.assert_close(model.prototype_distances(z), distances)
    torch.testing.assert_close(model(x), distances @ model.last_layer.weight.T)


def test_objective_terms_match_their_definitions():
    torch.manual_seed(0)
    model = zoo.create("prototype-net", variant="digits", **SMALL)
    x, y = torch.rand(6, 1, 8, 8), torch.tensor([0, 1, 2, 3, 4, 5])
    terms = model.losses(x, y)
    z = model.encode(x)
    d = torch.cdist(z, model.prototype_vectors) ** 2
    recon = ((model.decode(z) - x) ** 2).sum(dim=(1, 2, 3)).mean()
    r1 = torch.stack([d[:, j].min() for j in range(5)]).mean()
    r2 = torch.stack([d[i].min() for i in range(6)]).mean()
    ce = F.cross_entropy(model(x), y)
    for name, value in (("R", recon), ("R1", r1), ("R2", r2), ("E", ce)):
        torch.testing.assert_close(terms[name], value, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(terms["loss"], ce + 0.05 * (recon + r1 + r2), rtol=1e-4, atol=1e-5)


def test_decoded_prototypes_and_their_classes():
    torch.manual_seed(0)
    model = zoo.create("prototype-net", variant="digits", **SMALL)
    images = model.prototypes()
    assert images.shape == (5, 1, 8, 8) and ((images > 0) & (images < 1)).all()
    torch.testing.assert_close(images, model.decode(model.prototype_vectors))
    with torch.no_grad():
        model.last_layer.weight.zero_()
        model.last_layer.weight[7, 2] = -1.0
    assert model.prototype_classes()[2] == 7


def test_bad_input_and_config():
    model = zoo.create("prototype-net", variant="digits", **SMALL)
    with pytest.raises(ValueError, match=r"\(batch, 1, 8, 8\)"):
        model(torch.rand(2, 64))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(2, 1, 8, 8, dtype=torch.long))
    for bad in ({"strides": [3, 2]}, {"input_shape": [1, 8, 8]}, {"num_prototypes": 0}, {"lambda_r1": -1.0}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("prototype-net", **bad)


def test_training_lowers_the_loss():
    torch.manual_seed(0)
    model = zoo.create("prototype-net", task="digits", channels=8)
    batch = next(iter(torch.utils.data.DataLoader(zoo.get_task("digits").splits()["val"], batch_size=288)))
    before = model.losses(*batch)["loss"].item()
    zoo.train(model, "digits", epochs=2, batch_size=64, lr=0.01, optimizer="adam", eval_splits=[], seed=0)
    assert model.losses(*batch)["loss"].item() < 0.9 * before
