"""k-sparse-ae: conformance, Algorithm 1 (the support holds exactly the k largest activations, the
reconstruction uses only those units with the tied weights, the gradient reaches only them), the alpha*k
encoding, the linear k schedule, bad input, and training that lowers the reconstruction error."""

import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.k_sparse_ae.model import keep_top_k, scheduled_k

SMALL = {"hidden_dim": 40, "k": 5, "k_start": 20}


def test_conforms_default_and_digits_variant():
    assert_conforms("k-sparse-ae", **SMALL)
    assert_conforms("k-sparse-ae", variant="digits", **SMALL)


def test_keep_top_k_keeps_exactly_the_k_largest():
    z = torch.tensor([[0.3, -2.0, 5.0, 1.0, 0.9], [-1.0, -0.5, -3.0, -0.1, -0.2]])
    kept = keep_top_k(z, 2)
    assert torch.equal(kept, torch.tensor([[0.0, 0.0, 5.0, 1.0, 0.0], [0.0, 0.0, 0.0, -0.1, -0.2]]))
    assert torch.equal(keep_top_k(z, 10), z)  # k above the width keeps everything


def test_reconstruction_is_algorithm_1_with_tied_weights():
    torch.manual_seed(0)
    model = zoo.create("k-sparse-ae", input_shape=[6], hidden_dim=10, k=3, k_start=3)
    x = torch.randn(4, 6)
    z = x @ model.weight.T + model.hidden_bias  # z = W^T x + b
    support = z.argsort(dim=1, descending=True)[:, :3]
    sparse = torch.zeros_like(z).scatter(1, support, z.gather(1, support))
    torch.testing.assert_close(model(x), sparse @ model.weight + model.visible_bias)  # x_hat = W z + b'
    assert ((model.encode(x) != 0).sum(1) == 9).all()  # alpha * k = 3 * 3 features
    assert ((model.encode(x, alpha=1.0) != 0).sum(1) == 3).all()


def test_gradient_flows_only_through_the_support():
    torch.manual_seed(0)
    model = zoo.create("k-sparse-ae", input_shape=[6], hidden_dim=10, k=2, k_start=2)
    x = torch.randn(1, 6)
    F.mse_loss(model(x), x).backward()
    kept = keep_top_k(model.hidden(x), 2)[0] != 0
    assert (model.hidden_bias.grad[~kept] == 0).all() and (model.hidden_bias.grad[kept] != 0).all()


def test_k_schedule_falls_linearly_over_the_first_half():
    ks = [scheduled_k(25, 100, 1000, epoch, 100, 0.5) for epoch in range(100)]
    assert ks[0] == 100 and ks[25] == 62 and ks[49] == 26 and set(ks[50:]) == {25}
    assert all(a >= b for a, b in zip(ks, ks[1:]))
    assert scheduled_k(5, 100, 40, 0, 10, 0.5) == 40  # k_start above the width starts at the width
    assert scheduled_k(5, 100, 40, 0, 10, 0.0) == 5


def test_bad_input_and_config():
    model = zoo.create("k-sparse-ae", input_shape=[1, 8, 8], **SMALL)
    with pytest.raises(ValueError, match=r"\(batch, 1, 8, 8\)"):
        model(torch.rand(3, 1, 7, 8))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(3, 64, dtype=torch.long))
    for bad in ({"k": 50, "hidden_dim": 40}, {"k": 30, "k_start": 20}, {"alpha": 0.5}, {"input_shape": [0, 8]}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("k-sparse-ae", **bad)


def test_training_lowers_the_reconstruction_error():
    torch.manual_seed(0)
    task = "digits/reconstruction"
    model = zoo.create("k-sparse-ae", task=task, hidden_dim=100, k=10, k_start=40)
    before = zoo.evaluate(model, task, split="val")["mse"]
    zoo.train(model, task, epochs=2, batch_size=128, lr=3e-3, eval_splits=[], seed=0)
    assert zoo.evaluate(model, task, split="val")["mse"] < 0.7 * before
    assert model.last_k == 10  # the schedule reached k after the first half of the two epochs
