"""tabpfn: conformance, the input handling (standardisation by the training rows, zero padding and
rescaling by the used features, queries that see only the training rows, a training set that is a
set), the SCM prior's datasets, pretraining on the prior that lowers the loss, the numpy helper's
ensembling, and bad input."""

import numpy as np
import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.tabpfn.inference import classify
from zoo_plugins.tabpfn.model import standardise_and_pad
from zoo_plugins.tabpfn.prior import SCMPrior
from zoo_plugins.tabpfn.task import SCMPriorTask

TINY = {"max_features": 5, "max_classes": 3, "emsize": 16, "nhead": 2, "nhid": 32, "nlayers": 1}


def test_conforms_default_and_tiny():
    assert_conforms("tabpfn", variant="tiny")
    assert_conforms("tabpfn", **TINY)


def test_standardise_pad_and_rescale_by_used_features():
    x_train = torch.tensor([[[1.0, 10.0, 7.0], [3.0, 30.0, 7.0], [5.0, 50.0, 7.0]]])  # (1, 3 rows, 3 features)
    x_query = torch.tensor([[[3.0, 50.0, 9.0]]])
    tr, q = standardise_and_pad(x_train, x_query, torch.tensor([2]), max_features=6)
    std0 = float(np.std([1.0, 3.0, 5.0]))
    scale = 6 / 2  # 2 of 6 features used: values multiplied by max_features / F
    assert tr.shape == (1, 3, 6) and q.shape == (1, 1, 6)
    torch.testing.assert_close(tr[0, :, 0], torch.tensor([-2 / std0, 0.0, 2 / std0]) * scale)
    torch.testing.assert_close(q[0, 0, :2], torch.tensor([0.0, 20 / (std0 * 10)]) * scale)
    assert (tr[..., 2:] == 0).all() and (q[..., 2:] == 0).all()  # column 2 is padding here, 3..5 are padded


def test_queries_see_only_training_rows_and_training_set_is_a_set():
    torch.manual_seed(0)
    model = zoo.create("tabpfn", **TINY).eval()
    x, y, q = torch.randn(2, 7, 4), torch.randint(0, 3, (2, 7)), torch.randn(2, 5, 4)
    order = [6, 2, 0, 5, 1, 3, 4]
    with torch.no_grad():
        full = model(x, y, q)
        alone = model(x, y, q[:, 2:3])
        permuted = model(x[:, order], y[:, order], q)
        relabelled = model(x, (y + 1) % 3, q)
    torch.testing.assert_close(full[:, 2:3], alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(full, permuted, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(full, relabelled)  # the labels do reach the prediction
    # padding columns beyond num_features change nothing
    with torch.no_grad():
        padded = model(torch.cat([x, torch.randn(2, 7, 1)], -1), y, torch.cat([q, torch.randn(2, 5, 1)], -1),
                       torch.tensor([4, 4]))
    torch.testing.assert_close(full, padded, atol=1e-5, rtol=1e-5)


def test_scm_prior_datasets():
    prior = SCMPrior(max_features=6, max_classes=4)
    x, y, used = prior.sample(40, 50, np.random.default_rng(0))
    assert x.shape == (40, 50, 6) and y.shape == (40, 50) and used.shape == (40,)
    assert used.min() >= 1 and used.max() <= 6 and len(set(used.tolist())) > 2  # random feature subsets
    for b in range(40):
        assert (x[b, :, used[b]:] == 0).all() and np.isfinite(x[b]).all()
        assert y[b].min() >= 0 and y[b].max() < 4
    assert {len(np.unique(r)) for r in y} >= {2, 3, 4}  # class counts vary
    again = prior.sample(40, 50, np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip((x, y, used), again))
    # the features carry information about the class: logistic regression beats the majority class
    from sklearn.linear_model import LogisticRegression

    x, y, used = prior.sample(60, 100, np.random.default_rng(1))
    fitted, majority = [], []
    for b in range(60):
        f, lab = x[b, :, :used[b]], y[b]
        if len(np.unique(lab[:80])) < 2:
            continue
        f = (f - f[:80].mean(0)) / (f[:80].std(0) + 1e-9)
        fitted.append((LogisticRegression(max_iter=500).fit(f[:80], lab[:80]).predict(f[80:]) == lab[80:]).mean())
        majority.append((lab[80:] == np.bincount(lab[:80]).argmax()).mean())
    assert np.mean(fitted) > np.mean(majority) + 0.05
    with pytest.raises(ValueError, match="low <= high"):
        SCMPrior(noise_std=(0.5, 0.1))


def test_pretraining_on_the_prior_lowers_the_loss():
    task = SCMPriorTask(max_features=4, max_classes=3, num_points=30, eval_train_points=20, train_draws=16 * 40,
                        test_draws=64, seed=0)
    torch.manual_seed(0)
    model = zoo.create("tabpfn", task=task, emsize=32, nhead=2, nhid=64, nlayers=1)
    test = task.splits()["test"][list(range(64))]
    with torch.no_grad():
        before = float(model.query_loss(test, 20).mean())
    zoo.train(model, task, max_steps=40, epochs=1, batch_size=16, lr=3e-3, seed=0, eval_splits=[],
              final_splits=[], progress=False)
    with torch.no_grad():
        after = float(model.query_loss(test, 20).mean())
    assert after < before - 0.05


def test_classify_maps_labels_and_averages_an_ensemble():
    torch.manual_seed(0)
    model = zoo.create("tabpfn", **TINY)
    rng = np.random.default_rng(0)
    x, xq = rng.normal(size=(12, 3)), rng.normal(size=(4, 3))
    y = np.array(["b", "c", "a"] * 4)
    probs, classes = classify(model, x, y, xq, ensemble=1)
    assert list(classes) == ["a", "b", "c"] and probs.shape == (4, 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    direct = model.predict_proba(torch.tensor(x, dtype=torch.float32)[None],
                                 torch.tensor([1, 2, 0] * 4)[None], torch.tensor(xq, dtype=torch.float32)[None])
    np.testing.assert_allclose(probs, direct[0].numpy(), atol=1e-5)
    mixed, _ = classify(model, x, y, xq, ensemble=4, seed=1)
    np.testing.assert_allclose(mixed.sum(1), 1.0, atol=1e-6)
    assert not np.allclose(mixed, probs)  # other members see permuted classes and rotated features
    with pytest.raises(ValueError, match="at most 5 features"):
        classify(model, rng.normal(size=(5, 6)), y[:5], rng.normal(size=(2, 6)))
    with pytest.raises(ValueError, match="at most 3 classes"):
        classify(model, x, np.arange(12) % 4, xq)


def test_bad_input_and_config():
    model = zoo.create("tabpfn", **TINY)
    with pytest.raises(ValueError, match="at most max_features=5"):
        model(torch.randn(1, 4, 6), torch.zeros(1, 4, dtype=torch.long), torch.randn(1, 2, 6))
    with pytest.raises(TypeError, match="integer class ids"):
        model(torch.randn(1, 4, 2), torch.zeros(1, 4), torch.randn(1, 2, 2))
    with pytest.raises(ValueError, match=r"class ids must lie in \[0, max_classes=3\)"):
        model(torch.randn(1, 4, 2), torch.full((1, 4), 3), torch.randn(1, 2, 2))
    with pytest.raises(ValueError, match="num_features must lie"):
        model(torch.randn(1, 4, 2), torch.zeros(1, 4, dtype=torch.long), torch.randn(1, 2, 2), torch.tensor([3]))
    with pytest.raises(zoo.ConfigError, match="divisible"):
        zoo.create("tabpfn", emsize=10, nhead=4)
    with pytest.raises(zoo.ConfigError):
        zoo.create("tabpfn", max_classes=1)
    with pytest.raises(zoo.ConfigError, match="eval_train_points"):
        SCMPriorTask(num_points=10, eval_train_points=10)
