"""concept-subspace-net: conformance, classification by distance to prototypes, the subspace
alignment (principal angles by hand, invariance to the basis), the KL term by hand, the alignment
loss driving the geometry during training, the tasks' data and the metrics, and bad input."""

import math

import numpy as np
import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.concept_subspace_net.metrics import fairness_report, hierarchy_report
from zoo_plugins.concept_subspace_net.model import subspace_alignment
from zoo_plugins.concept_subspace_net.task import fair_task, hierarchy_task

SMALL = {"input_dim": 5, "latent_dim": 4, "hidden_dim": 16}


def test_conforms_fair_and_hierarchy():
    assert_conforms("concept-subspace-net")
    assert_conforms("concept-subspace-net", variant="hierarchy")
    assert_conforms("concept-subspace-net", variant="unconstrained", latent_dim=4, hidden_dim=8)


def test_classification_by_distance_to_prototypes():
    torch.manual_seed(0)
    model = zoo.create("concept-subspace-net", concepts=[3, 2], **SMALL).eval()
    x = torch.randn(6, 5)
    z = model.encode(x)
    torch.testing.assert_close(z, model.encode_distribution(x)[0])  # evaluation: the mean of q(z | x)
    logits = model(x)
    assert [tuple(t.shape) for t in logits] == [(6, 3), (6, 2)]
    expected = -((z[:, None, :] - model.prototypes[0][None]) ** 2).sum(-1)
    torch.testing.assert_close(logits[0], expected, atol=1e-4, rtol=1e-4)
    # the decision depends only on z's projection onto the concept's subspace
    p = model.prototypes[1].detach()
    normal = torch.randn(4)
    direction = p[1] - p[0]
    normal = normal - normal @ direction / direction.dot(direction) * direction  # orthogonal to the subspace
    moved = model.concept_logits(z + normal)[1]
    torch.testing.assert_close((moved[:, 1] - moved[:, 0]), logits[1][:, 1] - logits[1][:, 0], atol=1e-4, rtol=1e-4)


def test_subspace_alignment_is_principal_angles():
    a = torch.tensor([[0.0, 0, 0], [1, 0, 0]])  # the x axis
    b = torch.tensor([[1.0, 1, 0], [1 + math.cos(0.3), 1 + math.sin(0.3), 0]])  # a line at 0.3 rad, elsewhere
    assert subspace_alignment(a, b).item() == pytest.approx(math.cos(0.3) ** 2, rel=1e-5)
    plane = torch.tensor([[0.0, 0, 0], [2, 0, 0], [0, 3, 0]])  # the xy plane
    assert subspace_alignment(b, plane).item() == pytest.approx(1.0, abs=1e-6)  # the line lies in the plane
    assert subspace_alignment(torch.tensor([[0.0, 0, 0], [0, 0, 1]]), plane).item() == pytest.approx(0.0, abs=1e-7)
    # invariant to which prototype comes first and to the spread of the prototypes (the subspace is the same)
    shuffled = torch.tensor([[0.0, 3, 0], [2, 0, 0], [0, 0, 0]]) * 5
    assert subspace_alignment(b, shuffled).item() == pytest.approx(1.0, abs=1e-6)


def test_kl_to_the_nearest_prototype_by_hand():
    torch.manual_seed(0)
    model = zoo.create("concept-subspace-net", concepts=[2], **SMALL)
    with torch.no_grad():
        model.prototypes[0].copy_(torch.tensor([[0.0, 0, 0, 0], [10.0, 0, 0, 0]]))
    mean = torch.tensor([[1.0, 2.0, 0.0, 0.0]])
    log_var = torch.tensor([[0.0, math.log(2.0), 0.0, 0.0]])
    # nearest prototype is the origin (the softmax at temperature 0.1 puts all weight there)
    expected = np.mean([0.5 * (1 + 1 - 1 - 0), 0.5 * (2 + 4 - 1 - math.log(2)), 0.0, 0.0])
    assert model.kl_to_prototypes(mean, log_var).item() == pytest.approx(expected, rel=1e-5)


def test_alignment_loss_shapes_the_geometry():
    task = hierarchy_task(train=300, val=10, test=10, seed=0)
    aligned = {}
    for target in ("parallel", "orthogonal"):
        torch.manual_seed(0)
        model = zoo.create("concept-subspace-net", task=task, alignment=target, alignment_weight=100.0, latent_dim=16,
                             hidden_dim=32)
        start = float(model.alignments()[(0, 1)].detach())  # a random line against a random 5-D subspace: ~5/16
        zoo.train(model, task, optimizer="adam", lr=1e-2, batch_size=50, epochs=8, seed=0, eval_splits=[],
                  final_splits=[], progress=False)
        aligned[target] = (start, float(model.alignments()[(0, 1)].detach()))
    assert 0.05 < aligned["parallel"][0] < 0.8 and aligned["parallel"][1] > 0.9
    assert aligned["orthogonal"][1] < 0.05 < aligned["orthogonal"][0]


def test_tasks_and_metrics():
    fair = fair_task(train=3000, val=10, test=10, seed=0)
    x, labels = fair.splits()["train"].tensors
    assert x.shape == (3000, 8) and labels.shape == (3000, 2)
    y, s = labels[:, 0].numpy(), labels[:, 1].numpy()
    assert y[s == 1].mean() - y[s == 0].mean() > 0.2  # the label depends on the protected attribute
    assert np.corrcoef(x[:, 7].numpy(), s)[0, 1] > 0.5  # a proxy feature
    hier = hierarchy_task(seed=1)
    _, lab = hier.splits()["test"].tensors
    np.testing.assert_array_equal(hier.parent[lab[:, 0].numpy()], lab[:, 1].numpy())
    assert hier.info.extra["concepts"] == [6, 2]
    report = fairness_report(np.array([1, 1, 0, 0, 1, 0]), np.array([1, 0, 0, 1, 1, 0]), np.array([1, 1, 1, 0, 0, 0]))
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["parity_gap"] == pytest.approx(abs(2 / 3 - 1 / 3))
    # y = 0: s=1 rate 1/2 (rows 1, 2), s=0 rate 0 (row 5); y = 1: s=1 rate 1 (row 0), s=0 rate 1/2 (rows 3, 4)
    assert report["odds_gap"] == pytest.approx(0.5)
    h = hierarchy_report([0, 3, 1, 4], [0, 0, 0, 1], [0, 1, 2, 3], [0, 0, 0, 1], np.array([0, 0, 0, 1, 1, 1]))
    assert h["fine_accuracy"] == 0.25 and h["consistency"] == 0.75 and h["severe_mistakes"] == pytest.approx(1 / 3)


def test_bad_input_and_config():
    model = zoo.create("concept-subspace-net", **SMALL)
    with pytest.raises(ValueError, match=r"\(batch, 5\)"):
        model(torch.randn(3, 4))
    with pytest.raises(ValueError, match=r"labels of shape \(batch, 2\)"):
        model.losses(torch.randn(3, 5), torch.zeros(3, dtype=torch.long))
    with pytest.raises(zoo.ConfigError, match="2..10000 classes"):
        zoo.create("concept-subspace-net", concepts=[2, 1])
    with pytest.raises(zoo.ConfigError, match="one per concept"):
        zoo.create("concept-subspace-net", concept_weights=[1.0])
    with pytest.raises(zoo.ConfigError):
        zoo.create("concept-subspace-net", alignment="diagonal")
    with pytest.raises(zoo.ConfigError, match="coarse=1"):
        hierarchy_task(coarse=1)
