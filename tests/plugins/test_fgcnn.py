"""fgcnn: conformance, IPNN's pairwise inner products and the feature-generation layers computed by hand,
the IPNN switch, a tiny training on planted click data that must improve, and bad input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.fgcnn.model import pairwise_inner_products, two_class_logits
from zoo_plugins.tasks.synthetic_tabular import ctr_data

CARDS = [7, 5, 3, 4, 6]


def test_conforms_default_and_ipnn():
    assert_conforms("fgcnn", field_cardinalities=CARDS, embedding_dim=4, mlp_hidden=[8])
    assert_conforms("fgcnn", variant="ipnn", field_cardinalities=CARDS, embedding_dim=4, mlp_hidden=[8])


def test_pairwise_inner_products_by_hand():
    e = torch.randn(2, 4, 3)
    expected = torch.stack([torch.stack([(e[b, i] * e[b, j]).sum() for i in range(4) for j in range(i + 1, 4)])
                            for b in range(2)])
    torch.testing.assert_close(pairwise_inner_products(e), expected)


def test_two_class_logits_give_the_sigmoid():
    z = torch.tensor([-2.0, 0.0, 3.0])
    torch.testing.assert_close(two_class_logits(z).softmax(-1)[:, 1], torch.sigmoid(z))


def test_feature_generation_layer_by_hand():
    """One layer: conv (h x 1, tanh) -> max-pool (h_p x 1) -> recombination tanh(W flatten + b), Eqs. 1-3."""
    torch.manual_seed(0)
    model = zoo.create("fgcnn", field_cardinalities=CARDS, embedding_dim=3, conv_channels=[2], conv_height=3,
                       pool_height=2, recombined_maps=[2], mlp_hidden=[4])
    ids = torch.tensor([[0, 1, 2, 3, 4], [6, 4, 0, 0, 1]])
    e = model.embedding(ids)                                   # (2, 5 fields, 3)
    conv, recombine = model.generation.convs[0], model.generation.recombine[0]
    w, b = conv.weight[:, 0, :, 0], conv.bias                  # (maps 2, height 3)
    padded = F.pad(e, (0, 0, 1, 1))                           # 'same' padding along the fields
    c = torch.stack([torch.tanh(sum(w[m, t] * padded[:, t:t + 5] for t in range(3)) + b[m]) for m in range(2)], 1)
    pooled = torch.stack([c[:, :, 0:2].amax(2), c[:, :, 2:4].amax(2), c[:, :, 4:5].amax(2)], 2)  # ceil: 3 rows
    new = torch.tanh(recombine(pooled.flatten(1))).view(2, 6, 3)  # n_f^1 m_r^1 = 3 * 2 new features
    torch.testing.assert_close(model.generation(e), new)
    features = model.features(ids)
    assert features.shape == (2, 5 + 6, 3)
    torch.testing.assert_close(features[:, :5], e)  # raw embeddings first, unchanged
    assert bool((features[:, 5:].abs() < 1).all())  # generated features are tanh outputs


def test_ipnn_is_the_same_classifier_without_generated_features():
    fg = zoo.create("fgcnn", field_cardinalities=CARDS, embedding_dim=4, mlp_hidden=[8])
    ipnn = zoo.create("fgcnn", variant="ipnn", field_cardinalities=CARDS, embedding_dim=4, mlp_hidden=[8])
    assert ipnn.generation is None and ipnn.total_features == 5
    n = fg.total_features  # 5 raw + (3 + 2 + 1 + 1) rows x 3 maps generated with pooling 2 (ceil)
    assert n == 5 + 3 * (3 + 2 + 1 + 1)
    assert fg.mlp[0].in_features == n * 4 + n * (n - 1) // 2
    assert ipnn.mlp[0].in_features == 5 * 4 + 10
    ids = torch.tensor([[1, 2, 0, 3, 5]])
    torch.testing.assert_close(ipnn.features(ids), ipnn.embedding(ids))


def test_tiny_training_improves():
    rng = np.random.default_rng(0)
    cards = [20, 10, 8, 5, 4]
    ids, clicks, _ = ctr_data(3000, rng, cardinalities=cards, pairs=3, target_ctr=0.4)
    data = {"train": (ids[:2500], clicks[:2500]), "val": (ids[2500:], clicks[2500:])}
    torch.manual_seed(0)
    model = zoo.create("fgcnn", field_cardinalities=cards, embedding_dim=4, conv_channels=[4, 4], recombined_maps=[2, 2],
                       conv_height=3, mlp_hidden=[16])
    x, y = torch.as_tensor(ids[2500:]), torch.as_tensor(clicks[2500:])
    before = F.cross_entropy(model(x), y).item()
    zoo.train(model, data, loss=F.cross_entropy, optimizer="adam", lr=3e-3, batch_size=64, epochs=3, eval_splits=[],
              final_splits=[], progress=False)
    after = F.cross_entropy(model(x), y).item()
    assert after < before - 0.02


def test_bad_input_and_config():
    model = zoo.create("fgcnn", field_cardinalities=CARDS, embedding_dim=4, mlp_hidden=[8])
    with pytest.raises(ValueError, match=r"\(batch, 5\)"):
        model(torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="out of range"):
        model(torch.tensor([[7, 0, 0, 0, 0]]))
    with pytest.raises(TypeError, match="integer"):
        model(torch.zeros(2, 5))
    for bad in ({"conv_channels": [4, 4], "recombined_maps": [2]}, {"conv_height": 4}, {"field_cardinalities": [5, 0]},
                {"embedding_dim": 0}, {"mlp_hidden": []}, {"dropout": 1.0}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("fgcnn", **bad)
