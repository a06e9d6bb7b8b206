"""arm-net: conformance (ids, numeric inputs, ARM-Net+), alpha-entmax against sparsemax's closed form and its
gradient, the exponential neuron as a product of powers, the gated attention's sparsity, the baselines'
equations, a tiny training that must improve, and bad input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.arm_net.baselines import EmbeddingMLP, FactorizationMachine
from zoo_plugins.arm_net.entmax import entmax, sparsemax
from zoo_plugins.tasks.synthetic_tabular import interaction_data

SMALL = dict(embedding_dim=4, heads=2, neurons=3, mlp_hidden=[8])


def test_conforms_ids_numeric_and_plus():
    assert_conforms("arm-net", field_cardinalities=[7, 5, 3], **SMALL)
    assert_conforms("arm-net", field_cardinalities=[], numeric_features=4, **SMALL)
    assert_conforms("arm-net", variant="plus", field_cardinalities=[7, 5, 3], **{**SMALL, "ensemble_hidden": [6]})


def test_sparsemax_closed_form_and_entmax_properties():
    z = torch.tensor([[1.0, 0.9, 0.5, -1.0]])
    # sparsemax: support {1, 0.9, 0.5}, tau = (1 + 0.9 + 0.5 - 1) / 3, p = z - tau on the support
    tau = (1.0 + 0.9 + 0.5 - 1.0) / 3
    torch.testing.assert_close(sparsemax(z), torch.tensor([[1 - tau, 0.9 - tau, 0.5 - tau, 0.0]]))
    torch.manual_seed(0)
    x = torch.randn(50, 8) * 3
    for alpha in (1.3, 1.7, 2.0):
        p = entmax(x, alpha)
        torch.testing.assert_close(p.sum(-1), torch.ones(50))
        assert bool((p >= 0).all()) and bool((p == 0).any())          # exact zeros: sparse
        # the stationarity condition of alpha-entmax: ((alpha - 1) z_i - tau)^(1/(alpha-1)) = p_i on the support
        i = p[0] > 0
        tau = (alpha - 1) * x[0, i] - p[0, i] ** (alpha - 1)
        assert float(tau.max() - tau.min()) < 1e-4
    # closer to softmax as alpha -> 1: fewer zeros
    assert int((entmax(x, 1.1) == 0).sum()) < int((entmax(x, 2.0) == 0).sum())


def test_entmax_gradient_is_exact():
    z = torch.randn(3, 6, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: entmax(t, 1.7), (z,))
    assert torch.autograd.gradcheck(lambda t: sparsemax(t), (z,))
    with pytest.raises(ValueError, match="alpha"):
        entmax(z, 1.0)


def test_exponential_neuron_is_a_product_of_powers():
    torch.manual_seed(0)
    model = zoo.create("arm-net", field_cardinalities=[7, 5, 3], **SMALL)
    ids = torch.tensor([[1, 2, 0], [6, 4, 2]])
    e = model.embedding(ids)                                       # (2, 3 fields, 4)
    module = model.relations
    w = module.interaction_weights(e)                              # (2, heads, neurons, 3 fields)
    y = module(e)
    b, h, k = 1, 1, 2
    # y = exp(sum_j w_j e_j) = prod_j exp(e_j)^(w_j), element-wise over the embedding
    expected = torch.prod(torch.stack([torch.exp(e[b, j]) ** w[b, h, k, j] for j in range(3)]), 0)
    torch.testing.assert_close(y[b, h, k], expected)
    # the weights are the value vector gated by the entmax attention over the fields
    attention = module.attention(e)
    torch.testing.assert_close(w, module.value * attention)
    # z_ij = e_j^T W_h q_i, one bilinear score per field, then alpha-entmax over the fields
    scores = torch.stack([e[b, j] @ module.bilinear[h] @ module.query[h, k] for j in range(3)])
    torch.testing.assert_close(attention[b, h, k], entmax(scores, 1.7))


def test_plus_starts_as_the_average_of_arm_net_and_dnn():
    torch.manual_seed(0)
    model = zoo.create("arm-net", variant="plus", field_cardinalities=[7, 5, 3], **{**SMALL, "ensemble_hidden": [6]})
    model.eval()
    ids = torch.tensor([[1, 2, 0], [6, 4, 2]])
    cross = model.relations(model.embedding(ids))                      # (2, heads 2, neurons 3, 4)
    assert model.norm.num_features == 2 * 3                            # one batch-norm channel per neuron
    arm = model.head(model.norm(cross.flatten(1, 2)).flatten(1))[:, 0]
    dnn = model.dnn(model.dnn_embedding(ids).flatten(1))[:, 0]
    torch.testing.assert_close(model.logit(ids), 0.5 * arm + 0.5 * dnn)


def test_numeric_inputs_embed_as_value_times_vector():
    model = zoo.create("arm-net", field_cardinalities=[], numeric_features=3, **SMALL)
    x = torch.tensor([[0.5, -2.0, 0.0]])
    torch.testing.assert_close(model.embedding(x)[0], x[0, :, None] * model.embedding.table.weight)


def test_baseline_equations():
    torch.manual_seed(0)
    fm = FactorizationMachine([4, 3, 5], 0, dim=2)
    torch.nn.init.normal_(fm.first_order.table.weight)
    ids = torch.tensor([[1, 2, 3]])
    e = fm.embedding(ids)[0]
    expected = fm.bias + fm.first_order(ids).sum() + sum(e[i] @ e[j] for i in range(3) for j in range(i + 1, 3))
    torch.testing.assert_close(fm(ids)[0, 1], expected)
    mlp = EmbeddingMLP([], 3, dim=2, hidden=[4])
    assert mlp(torch.randn(5, 3)).shape == (5, 2)


def test_tiny_training_improves():
    x, y, _ = interaction_data(3000, np.random.default_rng(0), features=5, pairs=2, triples=0)
    data = {"train": (x[:2500].astype(np.float32), y[:2500]), "val": (x[2500:].astype(np.float32), y[2500:])}
    torch.manual_seed(0)
    model = zoo.create("arm-net", field_cardinalities=[], numeric_features=5, **SMALL)
    xv, yv = torch.as_tensor(x[2500:], dtype=torch.float32), torch.as_tensor(y[2500:])
    model.eval()
    before = F.cross_entropy(model(xv), yv).item()
    zoo.train(model, data, loss=F.cross_entropy, optimizer="adam", lr=1e-2, batch_size=64, epochs=3, eval_splits=[],
              final_splits=[], progress=False)
    model.eval()
    after = F.cross_entropy(model(xv), yv).item()
    assert after < before - 0.02


def test_bad_input_and_config():
    ids_model = zoo.create("arm-net", field_cardinalities=[7, 5, 3], **SMALL)
    with pytest.raises(ValueError, match=r"\(batch, 3\)"):
        ids_model(torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="out of range"):
        ids_model(torch.tensor([[7, 0, 0]]))
    with pytest.raises(TypeError, match="integers"):
        ids_model(torch.zeros(2, 3))
    numeric = zoo.create("arm-net", field_cardinalities=[], numeric_features=3, **SMALL)
    with pytest.raises(TypeError, match="floating point"):
        numeric(torch.zeros(2, 3, dtype=torch.long))
    for bad in ({"field_cardinalities": [], "numeric_features": 0}, {"numeric_features": 3},
                {"field_cardinalities": [5]}, {"alpha": 1.0}, {"alpha": 2.5}, {"heads": 0}, {"mlp_hidden": []}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("arm-net", **bad)
