"""dtrn: conformance (and its ablations), the hypernetwork interest extractor and the SENet refinement by hand,
task-specific against shared bottoms, the MMoE / PLE baselines, the conflicting two-task data, a tiny training
that must improve, and bad input."""

import numpy as np
import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.dtrn.baselines import MMoE, PLE
from zoo_plugins.dtrn.task import ConflictTask, generate

CARDS = [6, 9, 4]
SMALL = dict(field_cardinalities=CARDS, item_field=1, history_types=2, tasks=2, embedding_dim=4, hyper_hidden=[8],
             tower_hidden=[8])


def _inputs(batch=3, length=5):
    g = torch.Generator().manual_seed(0)
    ids = torch.stack([torch.randint(0, c, (batch,), generator=g) for c in CARDS], 1)
    return ids, torch.randint(0, CARDS[1], (batch, 2, length), generator=g)


def test_conforms_default_and_ablations():
    assert_conforms("dtrn", **SMALL)
    assert_conforms("dtrn", variant="no-tim", **SMALL)
    assert_conforms("dtrn", variant="no-trm", **SMALL)


def test_hypernetwork_interest_by_hand():
    torch.manual_seed(0)
    model = zoo.create("dtrn", **SMALL)
    ids, histories = _inputs()
    fields, sequences = model.embedding(ids, histories)
    candidate = fields[:, 1]
    weights = model.hypernetwork()
    assert weights.shape == (2, 2, 3, 4, 4)
    assert not torch.allclose(weights[0], weights[1])                 # each task gets its own extractors
    interests = model.interests(candidate, sequences)
    t, k = 1, 0
    w_q, w_k, w_v = weights[t, k]
    q, keys, values = candidate @ w_q.T, sequences[:, k] @ w_k.T, sequences[:, k] @ w_v.T
    attention = torch.softmax((keys @ q.unsqueeze(-1)).squeeze(-1) / 2.0, -1)   # / sqrt(d), d = 4
    torch.testing.assert_close(interests[:, t, k], (attention.unsqueeze(-1) * values).sum(1))
    # behaviours are items: a history id looks up the item field's embedding
    torch.testing.assert_close(sequences[0, 0, 0], model.embedding.table.weight[CARDS[0] + histories[0, 0, 0]])


def test_refinement_is_squeeze_excitation():
    torch.manual_seed(0)
    model = zoo.create("dtrn", **SMALL)
    features = torch.randn(3, 5, 4)
    se = model.refiners[0]
    first, second = se.excite[0], se.excite[2]
    weights = torch.sigmoid(second(torch.relu(first(features.mean(-1)))))
    torch.testing.assert_close(se(features), features * weights.unsqueeze(-1))


def test_task_specific_against_shared_bottom():
    ids, histories = _inputs()
    torch.manual_seed(0)
    specific = zoo.create("dtrn", **SMALL).bottom(ids, histories)
    assert specific.shape == (3, 2, 3 + 2, 4)
    assert not torch.allclose(specific[:, 0], specific[:, 1])
    torch.manual_seed(0)
    shared = zoo.create("dtrn", **{**SMALL, "task_interest": False, "refinement": False}).bottom(ids, histories)
    torch.testing.assert_close(shared[:, 0], shared[:, 1])          # without TIM and TRM both tasks see one bottom


def test_baselines_mix_experts_with_task_gates():
    ids, histories = _inputs()
    torch.manual_seed(0)
    mmoe = MMoE(CARDS, dim=4, experts=3, expert_hidden=[6], tower_hidden=[5])
    x = mmoe.bottom(ids, histories)
    gate = mmoe.gates[1](x).softmax(-1)
    mixed = sum(gate[:, e:e + 1] * mmoe.experts[e](x) for e in range(3))
    torch.testing.assert_close(mmoe(ids, histories)[:, 1], mmoe.towers[1](mixed)[:, 0])
    ple = PLE(CARDS, dim=4, shared_experts=2, task_experts=1, expert_hidden=[6], tower_hidden=[5])
    x = ple.bottom(ids, histories)
    gate = ple.gates[0](x).softmax(-1)
    experts = [ple.specific[0][0], ple.shared[0], ple.shared[1]]    # task 0's own expert first, then the shared
    mixed = sum(gate[:, e:e + 1] * experts[e](x) for e in range(3))
    torch.testing.assert_close(ple(ids, histories)[:, 0], ple.towers[0](mixed)[:, 0])


def test_conflict_data():
    world = lambda: np.random.default_rng(5)  # noqa: E731
    ids, histories, labels, logits = generate(3000, np.random.default_rng(1), world(), length=6, conflict=0.0)
    assert ids.shape == (3000, 6) and histories.shape == (3000, 2, 6) and labels.shape == (3000, 2)
    assert histories.min() >= 0 and histories.max() < 1000
    assert abs(labels[:, 0].mean() - 0.3) < 0.05 and abs(labels[:, 1].mean() - 0.15) < 0.05
    _, _, _, conflicting = generate(3000, np.random.default_rng(1), world(), length=6, conflict=4.0)
    # the conflict term makes the tasks' logits move against each other
    assert np.corrcoef(conflicting.T)[0, 1] < np.corrcoef(logits.T)[0, 1] - 0.2
    again = generate(3000, np.random.default_rng(1), world(), length=6, conflict=0.0)
    assert np.array_equal(again[2], labels)                          # seeded
    task = ConflictTask(n_train=300, n_val=50, n_test=400, seed=0)
    assert [len(s) for s in task.splits().values()] == [300, 50, 400]
    assert 0.5 < task.bayes_auc["click"] <= 1 and 0.5 < task.bayes_auc["conversion"] <= 1
    for bad in ({"n_train": 0}, {"length": 0}, {"conflict": -1.0}, {"items": 1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            ConflictTask(**bad)


def test_tiny_training_improves():
    task = ConflictTask(n_train=3000, n_val=300, n_test=1000, seed=0)
    torch.manual_seed(0)
    model = zoo.create("dtrn", task=task, embedding_dim=4, hyper_hidden=[8], tower_hidden=[16])
    ids, histories, labels = task.splits()["test"].tensors
    before = task.loss(model(ids, histories), (ids, histories, labels)).item()
    zoo.train(model, task, optimizer="adam", lr=3e-3, batch_size=64, epochs=3, eval_splits=[], final_splits=[],
              progress=False)
    after = task.loss(model(ids, histories), (ids, histories, labels)).item()
    assert after < before - 0.03


def test_bad_input_and_config():
    model = zoo.create("dtrn", **SMALL)
    ids, histories = _inputs()
    with pytest.raises(ValueError, match="histories must have shape"):
        model(ids, histories[:, :1])
    with pytest.raises(ValueError, match="history item ids out of range"):
        model(ids, histories + 9)
    with pytest.raises(ValueError, match="ids out of range"):
        model(ids + 10, histories)
    with pytest.raises(TypeError, match="integer"):
        model(ids.float(), histories)
    task = ConflictTask(n_train=20, n_val=5, n_test=5)
    with pytest.raises(ValueError, match="one logit per task"):
        task.loss(torch.zeros(4, 3), (None, None, torch.zeros(4, 2)))
    for bad in ({"item_field": 3}, {"tasks": 0}, {"embedding_dim": 0}, {"tower_hidden": [0]}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("dtrn", **{**SMALL, **bad})
