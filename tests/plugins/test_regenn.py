"""regenn: conformance, the co-occurrence and evolved graph by hand, the graph convolution's
direction (series j informs series i only through A[i, j]), the step-major output layout, a tiny
training that must improve, and bad input."""

import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.regenn.model import co_occurrence


def test_conforms_default_and_variants():
    assert_conforms("regenn")
    assert_conforms("regenn", variant="gru")


def test_co_occurrence_and_evolved_graph_by_hand():
    x = torch.tensor([[[1.0, 2.0], [3.0, -1.0], [0.0, 1.0]]])  # (1, w=3, v=2)
    expected = torch.tensor([[1 + 9 + 0, 2 - 3 + 0], [2 - 3 + 0, 4 + 1 + 1]]) / 3.0
    torch.testing.assert_close(co_occurrence(x)[0], expected)
    model = zoo.create("regenn", n_series=2, lookback=3, encoded_steps=2)
    with torch.no_grad():
        model.relations.copy_(torch.tensor([[0.0, 0.5], [-0.2, 0.0]]))
        model.evolution.copy_(torch.tensor([[1.0, 2.0], [0.0, 3.0]]))
    graph = model.evolved_graph(x)[0]
    torch.testing.assert_close(graph, model.relations + model.evolution * expected)


def _input_jacobian(model, x):
    """|d output / d input| summed over the batch and time: (outputs, series)."""
    jac = torch.autograd.functional.jacobian(lambda inp: model(inp).sum(0), x)  # (out, batch, w, v)
    return jac.abs().sum((1, 2))


def test_series_inform_each_other_only_through_the_graph():
    torch.manual_seed(0)
    model = zoo.create("regenn", n_series=3, lookback=6, encoded_steps=4, horizon=2, hidden_dim=8)
    x = torch.randn(2, 6, 3)
    # no relations and no evolution: each series is forecast from its own window only
    influence = _input_jacobian(model, x)
    off = influence.clone()
    for h in range(2):
        for i in range(3):
            off[h * 3 + i, i] = 0.0  # step-major output: index h * v + i is series i at step h
    assert off.max() == 0
    assert all(influence[h * 3 + i, i] > 0 for h in range(2) for i in range(3))
    # one relation, A[0, 2]: series 2 now informs series 0, and nothing else changes
    with torch.no_grad():
        model.relations[0, 2] = 1.0
    influence = _input_jacobian(model, x)
    assert influence[0, 2] > 0 and influence[3, 2] > 0
    assert influence[1, 2] == 0 and influence[2, 0] == 0 and influence[0, 1] == 0


def test_tiny_training_improves():
    task = zoo.get_task("dynamics/coupled", length=300, lookback=8, n_series=4, seed=0)
    x, y = task.splits()["train"].tensors
    torch.manual_seed(0)
    model = zoo.create("regenn", task=task, hidden_dim=16)
    with torch.no_grad():
        before = torch.nn.functional.mse_loss(model(x), y).item()
    zoo.train(model, task, optimizer="adam", lr=0.02, batch_size=64, epochs=4, eval_splits=[], final_splits=[],
              progress=False)
    with torch.no_grad():
        after = torch.nn.functional.mse_loss(model(x), y).item()
    assert after < 0.7 * before


def test_sizes_from_task_and_bad_input():
    task = zoo.get_task("dynamics/coupled", length=300, lookback=10, horizon=3, n_series=5, seed=1)
    model = zoo.create("regenn", task=task)
    cfg = model.config
    assert (cfg.lookback, cfg.n_series, cfg.horizon, cfg.encoded_steps) == (10, 5, 3, 10)
    assert model(task.splits()["test"].tensors[0][:4]).shape == (4, 15)
    with pytest.raises(ValueError, match=r"\(batch, 10, 5\)"):
        model(torch.randn(4, 10, 6))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(4, 10, 5, dtype=torch.long))
    for bad in ({"n_series": 0}, {"lookback": 1}, {"cell": "tcn"}, {"dropout": 1.0}, {"hidden_dim": 10**6}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("regenn", **bad)
