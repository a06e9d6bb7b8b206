"""finalmlp: conformance, the gate (2 sigmoid, context or learned vector), the multi-head bilinear aggregation
by hand, the DualMLP switch, the DeepFM / DCN baselines' equations, a tiny training that must improve, and bad
input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.finalmlp.baselines import DCN, CrossNetwork, DeepFM, fm_second_order
from zoo_plugins.finalmlp.model import BilinearAggregation, FeatureGate
from zoo_plugins.tasks.synthetic_tabular import ctr_data

CARDS = [7, 5, 3, 4]
SMALL = dict(field_cardinalities=CARDS, embedding_dim=4, stream1_hidden=[8, 8], stream2_hidden=[12], gate_hidden=[6],
             heads=2)


def test_conforms_default_and_dualmlp():
    assert_conforms("finalmlp", **SMALL)
    assert_conforms("finalmlp", variant="dualmlp", **SMALL)
    assert_conforms("finalmlp", gate1_context=[0], gate2_context=[1, 2], **SMALL)


def test_gate_is_two_sigmoid_of_its_context():
    torch.manual_seed(0)
    gate = FeatureGate(fields=3, dim=2, context=[1], hidden=[5])
    e = torch.randn(4, 3, 2)
    expected = 2 * torch.sigmoid(gate.net(e[:, 1]))             # conditioned on field 1's embedding only
    torch.testing.assert_close(gate(e), expected * e.flatten(1))
    changed = e.clone()
    changed[:, 0] += 1.0
    torch.testing.assert_close(gate.gate(changed), gate.gate(e))  # other fields do not move the gate
    free = FeatureGate(fields=3, dim=2, context=[], hidden=[5])  # no context: one learned vector, same gate for all
    g = free.gate(e)
    assert g.shape == (4, 6) and torch.allclose(g, g[:1].expand_as(g))
    assert bool(((g > 0) & (g < 2)).all())


def test_bilinear_aggregation_by_hand():
    torch.manual_seed(0)
    agg = BilinearAggregation(4, 6, heads=2)
    o1, o2 = torch.randn(3, 4), torch.randn(3, 6)
    w1, b = agg.linear1.weight[0], agg.linear1.bias[0]
    w2 = agg.linear2.weight[0]
    expected = b + o1 @ w1 + o2 @ w2 + sum((o1[:, 2 * j:2 * j + 2] @ agg.bilinear[j] * o2[:, 3 * j:3 * j + 3]).sum(1)
                                           for j in range(2))
    torch.testing.assert_close(agg(o1, o2), expected)
    with pytest.raises(ValueError, match="divide"):
        BilinearAggregation(5, 6, heads=2)


def test_dualmlp_switch_feeds_e_to_both_streams():
    model = zoo.create("finalmlp", variant="dualmlp", **SMALL)
    assert model.gates is None and isinstance(model.fusion, torch.nn.Linear)
    e = torch.randn(2, 4, 4)
    h1, h2 = model.stream_inputs(e)
    torch.testing.assert_close(h1, e.flatten(1))
    torch.testing.assert_close(h2, e.flatten(1))
    full = zoo.create("finalmlp", **SMALL)
    h1, h2 = full.stream_inputs(e)
    assert not torch.allclose(h1, h2) or not torch.allclose(h1, e.flatten(1))


def test_baseline_equations():
    e = torch.randn(2, 4, 3)
    pairs = sum((e[:, i] * e[:, j]).sum(-1) for i in range(4) for j in range(i + 1, 4))
    torch.testing.assert_close(fm_second_order(e), pairs)
    torch.manual_seed(0)
    cross = CrossNetwork(5, layers=2)
    x0 = torch.randn(3, 5)
    x1 = x0 * (x0 @ cross.weights[0]).unsqueeze(-1) + cross.biases[0] + x0
    x2 = x0 * (x1 @ cross.weights[1]).unsqueeze(-1) + cross.biases[1] + x1
    torch.testing.assert_close(cross(x0), x2)
    ids = torch.tensor([[1, 2, 0, 3]])
    deepfm = DeepFM(CARDS, embedding_dim=3, hidden=[4])
    z = deepfm(ids)[:, 1]
    emb = deepfm.embedding(ids)
    by_hand = deepfm.bias + deepfm.first_order(ids).sum() + fm_second_order(emb) + deepfm.dnn(emb.flatten(1))[:, 0]
    torch.testing.assert_close(z, by_hand)
    assert DCN(CARDS, embedding_dim=3, hidden=[4])(ids).shape == (1, 2)


def test_tiny_training_improves():
    rng = np.random.default_rng(0)
    cards = [20, 10, 8, 5, 4]
    ids, clicks, _ = ctr_data(3000, rng, cardinalities=cards, pairs=3, target_ctr=0.4)
    data = {"train": (ids[:2500], clicks[:2500]), "val": (ids[2500:], clicks[2500:])}
    torch.manual_seed(0)
    model = zoo.create("finalmlp", **{**SMALL, "field_cardinalities": cards})
    x, y = torch.as_tensor(ids[2500:]), torch.as_tensor(clicks[2500:])
    before = F.cross_entropy(model(x), y).item()
    zoo.train(model, data, loss=F.cross_entropy, optimizer="adam", lr=3e-3, batch_size=64, epochs=3, eval_splits=[],
              final_splits=[], progress=False)
    after = F.cross_entropy(model(x), y).item()
    assert after < before - 0.02


def test_bad_input_and_config():
    model = zoo.create("finalmlp", **SMALL)
    with pytest.raises(ValueError, match=r"\(batch, 4\)"):
        model(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="out of range"):
        model(torch.tensor([[0, 5, 0, 0]]))
    with pytest.raises(TypeError, match="integer"):
        model(torch.zeros(2, 4))
    for bad in ({"heads": 3}, {"gate1_context": [4]}, {"stream1_hidden": []}, {"embedding_dim": 0},
                {"field_cardinalities": [3, 0, 2, 2]}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("finalmlp", **{**SMALL, **bad})
