"""pointer-net: conformance, bad input, the hull task's targets and metrics, and a few training steps."""

import numpy as np
import pytest
import torch

import zoo
from zoo.errors import ConfigError
from zoo.testing import assert_conforms


@pytest.fixture(autouse=True)
def _one_thread():
    """The CPUs are shared: one intra-op thread is several times faster than two fighting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_conforms():
    assert_conforms("pointer-net", hidden_size=32)


def test_attention_baseline_conforms():
    assert_conforms("pointer-net", decoder="attention", hidden_size=16, max_positions=8)


def test_bad_config_rejected_at_create():
    with pytest.raises(ConfigError, match="hidden_size"):
        zoo.create("pointer-net", hidden_size=0)
    with pytest.raises(ConfigError, match="decoder"):
        zoo.create("pointer-net", decoder="transformer")


def test_bad_input_names_expected_shape():
    model = zoo.create("pointer-net", hidden_size=8)
    with pytest.raises(ValueError, match=r"\(batch, n, 2\)"):
        model(torch.rand(3, 5))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(2, 5, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="int64"):
        model(torch.rand(2, 5, 2), torch.zeros(2, 3))


def test_pointer_names_positions_beyond_training_size():
    model = zoo.create("pointer-net", hidden_size=8)
    out = model(torch.rand(2, 23, 2))
    assert out["logits"].shape[-1] == 24  # end symbol + 23 inputs, whatever n was at training


def test_attention_baseline_cannot_name_positions_past_its_dictionary():
    model = zoo.create("pointer-net", decoder="attention", hidden_size=8, max_positions=5)
    logits = model(torch.rand(2, 9, 2))["logits"]
    assert torch.isinf(logits[..., 6:]).all() and torch.isfinite(logits[..., :6]).all()


def test_hull_targets_are_canonical():
    from zoo_plugins.pointer_net.task import hull_targets

    square = np.array([[[0.5, 0.5], [1, 1], [0, 1], [0, 0], [1, 0]]], dtype=np.float32)
    # CCW from the lowest index among the corners: 2 (1,1) -> 3 (0,1) -> 4 (0,0) -> 5 (1,0)
    assert hull_targets(square)[0].tolist() == [2, 3, 4, 5, 0, -100]


def test_metrics_score_exact_valid_and_area():
    task = zoo.get_task("pointer-net/convex-hull", n_points=5, train_size=4, test_size=4)
    points = torch.tensor([[[0.5, 0.5], [1, 1], [0, 1], [0, 0], [1, 0]]] * 2)
    hull = torch.tensor([[2, 3, 4, 5, 0, -100]] * 2)
    # first output exact; second skips a corner: valid triangle with half the area
    indices = torch.tensor([[2, 3, 4, 5, 0, -1], [2, 3, 4, 0, -1, -1]])
    metrics = task.metrics()
    for m in metrics.values():
        m.update({"indices": indices}, (points, hull))
    values = {k: float(m.compute()) for k, m in metrics.items()}
    assert values == pytest.approx({"accuracy": 0.5, "valid": 1.0, "area_coverage": 0.75})


def test_a_few_training_steps_lower_the_loss():
    torch.manual_seed(0)
    task = zoo.get_task("pointer-net/convex-hull", n_points=6, train_size=256, test_size=8)
    model = zoo.create("pointer-net", task=task, hidden_size=32)
    points, hull = task.splits()["train"].tensors
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = task.loss(model(*task.inputs((points, hull))), (points, hull))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]


def test_hull_targets_agree_with_qhull():
    from scipy.spatial import ConvexHull

    from zoo_plugins.pointer_net.task import hull_targets

    rng = np.random.default_rng(0)
    for n in (3, 10, 25):
        points = rng.random((20, n, 2))
        targets = hull_targets(points)
        for k in range(20):
            qhull = list(ConvexHull(points[k]).vertices)  # counter-clockwise
            start = qhull.index(min(qhull))
            expected = [i + 1 for i in qhull[start:] + qhull[:start]] + [0]
            assert targets[k, : len(expected)].tolist() == expected
            assert (targets[k, len(expected):] == -100).all()


def test_sort_task_targets_and_metrics():
    task = zoo.get_task("pointer-net/sort", n_points=4, train_size=8, test_size=8)
    values, order = task.splits()["test"][[0]]
    assert torch.all(values[0, order[0, :4] - 1, 0].diff() > 0) and order[0, 4] == 0
    model = zoo.create("pointer-net", task=task, hidden_size=8)
    assert model.config.input_dim == 1
    metrics = task.metrics()
    exact = {"indices": order.clone()}
    repeated = {"indices": torch.tensor([[1, 1, 2, 3, 0]])}
    for m in metrics.values():
        m.update(exact, (values, order))
        m.update(repeated, (values, order))
    assert float(metrics["valid"].compute()) == 0.5
    assert float(metrics["accuracy"].compute()) <= 0.5
