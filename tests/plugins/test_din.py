"""din: conformance of DIN and its variants, Eq. 3's unnormalised weighted sum (and sum pooling for the
base model), padding, Dice against Eq. 8, the mini-batch aware penalty, the generated task, bad input,
and training that raises the AUC."""

import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.din.model import Dice

SMALL = dict(num_goods=30, num_shops=10, num_categories=5, history_length=6, embedding_dim=4,
             attention_hidden=8, mlp_hidden=[16, 8])


def _batch(n=5, length=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    limits = torch.tensor([30, 10, 5])
    history = (torch.rand(n, length, 3, generator=g) * limits).long() + 1
    history[:, 4:] = 0
    candidate = (torch.rand(n, 3, generator=g) * limits).long() + 1
    return history, candidate


def test_conforms_din_and_variants():
    assert_conforms("din", **SMALL)
    assert_conforms("din", variant="base", **SMALL)
    assert_conforms("din", variant="prelu", mba_lambda=0.01, **SMALL)


def test_user_vector_is_the_unnormalised_weighted_sum_of_eq_3():
    torch.manual_seed(0)
    model = zoo.create("din", activation="prelu", **SMALL).eval()
    history, candidate = _batch()
    weights = model.behaviour_weights(history, candidate)
    assert torch.all(weights[:, 4:] == 0)  # padding gets no weight
    expected = (weights.unsqueeze(-1) * model.embed(history)).sum(1)
    torch.testing.assert_close(model.user_vector(history, candidate), expected)
    # no softmax: the same behaviours listed twice give twice the user vector
    doubled = torch.cat([history[:, :4], history[:, :4]], 1)
    torch.testing.assert_close(model.user_vector(doubled, candidate), 2 * model.user_vector(history[:, :4], candidate))
    # the weight of a behaviour depends on the candidate
    other = candidate.roll(1, 0)
    assert not torch.allclose(model.behaviour_weights(history, other), weights)
    out = model.mlp(torch.cat([expected, model.embed(candidate)], -1))
    torch.testing.assert_close(model(history, candidate), out)


def test_base_model_sum_pools_and_ignores_padding():
    torch.manual_seed(0)
    model = zoo.create("din", variant="base", **SMALL).eval()
    history, candidate = _batch()
    expected = model.embed(history[:, :4]).sum(1)
    torch.testing.assert_close(model.user_vector(history, candidate), expected)
    # more padding at the end of the history changes nothing
    longer = torch.cat([history, torch.zeros(5, 3, 3, dtype=torch.long)], 1)
    torch.testing.assert_close(model.mlp(torch.cat([model.user_vector(longer, candidate), model.embed(candidate)], -1)),
                               model(history, candidate))


def test_dice_matches_eq_8():
    torch.manual_seed(0)
    dice = Dice(3, eps=1e-8)
    with torch.no_grad():
        dice.alpha.copy_(torch.tensor([0.0, 0.25, -0.5]))
    s = torch.randn(64, 3) * 2 + 1
    mean, var = s.mean(0), s.var(0, unbiased=False)
    p = torch.sigmoid((s - mean) / torch.sqrt(var + 1e-8))
    torch.testing.assert_close(dice(s), p * s + (1 - p) * dice.alpha * s)
    # at inference the moving averages replace the batch statistics
    dice.eval()
    running = torch.sigmoid((s - dice.norm.running_mean) / torch.sqrt(dice.norm.running_var + 1e-8))
    torch.testing.assert_close(dice(s), running * s + (1 - running) * dice.alpha * s)


def test_mini_batch_aware_penalty_weights_used_rows_by_inverse_frequency():
    torch.manual_seed(0)
    model = zoo.create("din", mba_lambda=0.01, **SMALL)
    history, candidate = _batch()
    model.count_features(history, candidate)
    goods = torch.cat([history[..., 0].reshape(-1), candidate[:, 0]])
    ids = torch.unique(goods[goods != 0])
    for j in ids[:3]:  # n_j counts samples (rows) holding id j
        rows = ((history[..., 0] == j).any(1) | (candidate[:, 0] == j)).sum()
        assert model.count_goods[j] >= rows and model.count_goods[j] >= 1
    expected = 0.0
    for i, field in enumerate(("goods", "shop", "category")):
        column = torch.cat([history[..., i].reshape(-1), candidate[:, i]])
        used = torch.unique(column[column != 0])
        counts = getattr(model, f"count_{field}")[used]
        expected = expected + (model.embeddings[i].weight[used].pow(2).sum(-1) / counts).sum()
    torch.testing.assert_close(model.mba_penalty(history, candidate), expected)


def test_generated_task_clicks_depend_on_the_candidate():
    task = zoo.get_task("din/behaviour-ctr", train_size=500, test_size=200)
    history, candidate, clicked = task.splits()["train"].tensors
    assert history.shape == (500, 30, 3) and candidate.shape == (500, 3)
    assert 0.1 < clicked.float().mean() < 0.9
    lengths = (history[..., 0] != 0).sum(1)
    assert lengths.min() >= 5 and lengths.max() <= 30
    # a candidate whose category appears in the history is clicked more often
    seen = (history[..., 2] == candidate[:, 2:3]).any(1)
    assert clicked[seen].float().mean() > clicked[~seen].float().mean() + 0.1


def test_bad_input_and_config():
    model = zoo.create("din", **SMALL)
    history, candidate = _batch()
    with pytest.raises(TypeError, match="integer"):
        model(history.float(), candidate)
    with pytest.raises(ValueError, match=r"\(batch, length, 3\)"):
        model(history[..., :2], candidate)
    with pytest.raises(ValueError, match="same"):
        model(history, candidate[:2])
    with pytest.raises(ValueError, match="out of range"):
        model(history, candidate + 100)
    for bad in ({"mlp_hidden": []}, {"pooling": "max"}, {"embedding_dim": 0}, {"activation": "relu"}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("din", **bad)


def test_training_raises_the_auc_with_and_without_mba():
    task = zoo.get_task("din/behaviour-ctr", train_size=3000, test_size=1000, goods=200, shops=40, categories=10)
    torch.manual_seed(0)
    model = zoo.create("din", task=task, embedding_dim=8, mba_lambda=0.01)
    before = zoo.evaluate(model, task, split="val")["auc"]
    zoo.train(model, task, epochs=2, batch_size=32, optimizer="sgd", momentum=0.0, lr=0.5, eval_splits=[],
              final_splits=[])
    assert float(model.count_goods.sum()) > 0
    assert zoo.evaluate(model, task, split="val")["auc"] > before + 0.05
