"""excelformer: conformance, the semi-permeable mask (a feature never sees less informative ones),
the GLU embedding and AiFFN equations, the attenuated initialisation, the mutual-information
ranking, Feat-Mix / Hidden-Mix and their mixed loss, a tiny training through training_step that
improves, and bad input."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.excelformer.loop import evaluate, fit
from zoo_plugins.excelformer.model import feat_mix, hidden_mix, mixed_loss

SMALL = {"d_token": 16, "n_heads": 2, "n_layers": 2}


def test_conforms_default_and_variants():
    assert_conforms("excelformer")  # the paper's size: d 256, 32 heads, 3 layers
    for variant in ("small", "feat-mix", "no-mix"):
        assert_conforms("excelformer", variant=variant, d_token=16, n_heads=2, n_layers=1)


def test_semi_permeable_attention_blocks_less_informative_features():
    torch.manual_seed(0)
    for permeable in (True, False):
        model = zoo.create("excelformer", d_in=5, d_out=2, semi_permeable=permeable, init_attenuation=1.0,
                           attention_dropout=0.0, **SMALL).eval()
        z = torch.randn(3, 5, 16)
        changed = z.clone()
        changed[:, 4] = torch.randn(3, 16)  # the least informative feature (last in importance order)
        out, out_changed = (model.layers[0](t) for t in (z, changed))
        same = torch.allclose(out[:, :4], out_changed[:, :4], atol=1e-6)
        assert same == permeable  # masked: the 4 more informative features cannot see the change
    mask = model.layers[0].attention.mask(4, "cpu")
    assert mask is None
    mask = zoo.create("excelformer", d_in=4, **SMALL).layers[0].attention.mask(4, "cpu")
    assert torch.equal(mask, torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool))


def test_glu_embedding_and_aiffn_equations():
    torch.manual_seed(0)
    model = zoo.create("excelformer", d_in=3, init_attenuation=1.0, **SMALL)
    x = torch.randn(4, 3)
    e = model.embedding
    i = 1
    expected = torch.tanh(x[:, i:i + 1] * e.w1[i] + e.b1[i]) * (x[:, i:i + 1] * e.w2[i] + e.b2[i])
    torch.testing.assert_close(model.embed(x)[:, i], expected)  # order is the identity before fitting
    ffn = model.layers[0].ffn.eval()
    z = torch.randn(4, 3, 16)
    expected = torch.tanh(z @ ffn.w1.weight.T + ffn.w1.bias) * (z @ ffn.w2.weight.T + ffn.w2.bias)
    torch.testing.assert_close(ffn(z), expected)


def test_interaction_attenuated_initialisation():
    torch.manual_seed(0)
    model = zoo.create("excelformer", d_in=4, d_token=256, n_heads=32, n_layers=1)
    he_std = math.sqrt(2 / 256)
    attention, ffn = model.layers[0].attention, model.layers[0].ffn
    for weight in (attention.q.weight, attention.k.weight, attention.v.weight, ffn.w1.weight, ffn.w2.weight):
        assert weight.std().item() == pytest.approx(1e-4 * he_std, rel=0.05)
    assert attention.o.weight.std().item() > 100 * 1e-4 * he_std  # the output projection is not attenuated


def test_mutual_information_ranking():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4)).astype(np.float32)
    y = (x[:, 2] > 0).astype(np.int64)  # only feature 2 carries the label; feature 0 a little
    x[:, 0] = x[:, 0] * 0.7 + 0.3 * (2 * y - 1) * 2
    model = zoo.create("excelformer", d_in=4, **SMALL)
    scores = model.fit_feature_importance(x, y, "classification")
    assert model.order[:2].tolist() == [2, 0] and scores[2] > scores[0] > max(scores[1], scores[3])
    assert bool(model.importance_fitted) and model.importance.sum().item() == pytest.approx(1.0)
    assert torch.all(model.importance[:-1] >= model.importance[1:])  # ranked, most informative first
    xt = torch.from_numpy(x[:3])
    torch.testing.assert_close(model.embed(xt)[:, 0], model.embedding(xt[:, [2, 0, 1, 3]])[:, 0])


def test_feat_mix_and_hidden_mix():
    torch.manual_seed(0)
    x = torch.arange(24.0).reshape(4, 6)
    importance = torch.tensor([0.4, 0.2, 0.2, 0.1, 0.05, 0.05])
    perm = torch.tensor([1, 2, 3, 0])
    mixed, weight = feat_mix(x, importance, 0.5, perm)
    kept = mixed == x
    assert torch.all(kept | (mixed == x[perm]))  # every feature from the sample or its partner
    torch.testing.assert_close(weight, (kept.float() * importance).sum(-1))  # Lambda_I: the kept MI share
    z = torch.randn(4, 3, 10)
    mixed, share = hidden_mix(z, 0.3, perm)
    kept = mixed == z
    assert torch.all(kept | (mixed == z[perm]))
    assert torch.all(kept == kept[:, :1])  # one mask over embedding dimensions, shared by all features
    torch.testing.assert_close(share, kept[:, 0].float().mean(-1))
    out = torch.randn(4, 3)
    y, y2, w = torch.tensor([0, 1, 2, 0]), torch.tensor([1, 1, 0, 2]), torch.tensor([0.2, 1.0, 0.5, 0.0])
    expected = (w * F.cross_entropy(out, y, reduction="none") + (1 - w) * F.cross_entropy(out, y2, reduction="none"))
    torch.testing.assert_close(mixed_loss(out, y, y2, w, "classification"), expected.mean())
    r, r2 = torch.randn(4, 1), torch.randn(4, 1)
    torch.testing.assert_close(mixed_loss(out[:, :1], r, r2, w, "regression"),
                               F.mse_loss(out[:, :1], w[:, None] * r + (1 - w[:, None]) * r2))


@pytest.mark.parametrize("mix_type", ["hidden", "feat"])
def test_tiny_training_through_training_step_improves(mix_type):
    task = zoo.get_task("wine", seed=0)
    torch.manual_seed(0)
    model = zoo.create("excelformer", task=task, mix_type=mix_type, **SMALL)
    before = evaluate(model, task, "test")
    fit(model, task, epochs=12, batch_size=32, lr=3e-3, weight_decay=0.0, patience=12, seed=0)
    after = evaluate(model, task, "test")
    assert bool(model.importance_fitted)  # ranked on the first training step, from the training split
    assert after["loss"] < 0.6 * before["loss"] and after["accuracy"] > 0.8


def test_bad_input_and_config():
    model = zoo.create("excelformer", d_in=3, **SMALL)
    with pytest.raises(ValueError, match=r"\(batch, 3\)"):
        model(torch.randn(4, 5))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        model.fit_feature_importance(np.zeros((5, 2)), np.zeros(5), "classification")
    with pytest.raises(ValueError, match="divisible"):
        zoo.create("excelformer", d_token=30, n_heads=4)
    for bad in ({"d_in": 0}, {"mix_type": "cutmix"}, {"init_attenuation": 0.0}, {"n_layers": 100}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("excelformer", **bad)
