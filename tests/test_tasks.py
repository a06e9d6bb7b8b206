"""The built-in tasks: every catalogued name builds offline, with fixed seeds and splits, the
documented shapes and preprocessing; ArrayTask's losses and metrics refuse mismatched shapes."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
import torch

import zoo
from zoo.tasks import ArraySplit, ArrayTask, cross_entropy, mse
from zoo_plugins.tasks import build_task, builtin_task_names

REQUIRED = ["digits", "iris", "wine", "breast-cancer", "diabetes", "toy/exp-sin", "toy/bessel-j0", "toy/xy",
            "toy/exp-sum-sin2-100d", "toy/four-var", "feynman/I.6.2a", "forecast/goog", "seq/sort", "seq/copy",
            "seq/modular-add"]
HAS_PHYSO = importlib.util.find_spec("physo") is not None


def test_required_tasks_are_catalogued_and_listed():
    names = zoo.list_tasks()
    assert set(REQUIRED) <= set(names)
    assert set(builtin_task_names()) <= set(names)
    assert zoo.task_info("feynman/I.6.2a").extra == "data"
    assert zoo.list_tasks("toy/*", kind="regression") == sorted(n for n in REQUIRED if n.startswith("toy/"))


@pytest.mark.parametrize("name", [n for n in builtin_task_names() if not n.startswith("feynman/")])
def test_every_builtin_task_builds_with_consistent_info(name):
    task = zoo.get_task(name)
    assert task.name == name and task.kind == zoo.task_info(name).kind == task.info.kind
    splits = task.splits()
    assert {"train", "test"} <= set(splits)
    x, y = splits["train"][[0, 1]]
    assert tuple(x.shape[1:]) == task.info.input_shape
    for split in splits.values():
        xs, ys = split.tensors
        assert torch.isfinite(xs.float()).all() and torch.isfinite(ys.float()).all()
    if task.info.num_classes:
        assert int(y.max()) < task.info.num_classes
    else:
        assert ys.shape[1:] == (task.info.output_dim,)


@pytest.mark.parametrize("name", ["digits", "toy/exp-sin", "seq/sort", "forecast/goog", "seq/modular-add"])
def test_same_seed_same_data(name):
    a, b = zoo.get_task(name).splits(), zoo.get_task(name).splits()
    for split in a:
        for ta, tb in zip(a[split].tensors, b[split].tensors):
            assert torch.equal(ta, tb)


def test_seed_option_changes_generated_and_split_data():
    assert not torch.equal(zoo.get_task("toy/xy", seed=1).splits()["train"].tensors[0],
                           zoo.get_task("toy/xy").splits()["train"].tensors[0])
    assert not torch.equal(zoo.get_task("iris", seed=1).splits()["test"].tensors[1],
                           zoo.get_task("iris").splits()["test"].tensors[1])


def test_toy_functions_follow_the_kan_paper_formulas():
    checks = {
        "toy/exp-sin": lambda v: math.exp(math.sin(math.pi * v[0]) + v[1] ** 2),
        "toy/xy": lambda v: v[0] * v[1],
        "toy/four-var": lambda v: math.exp(0.5 * (math.sin(math.pi * (v[0] ** 2 + v[1] ** 2))
                                                  + math.sin(math.pi * (v[2] ** 2 + v[3] ** 2)))),
        "toy/exp-sum-sin2-100d": lambda v: math.exp(sum(math.sin(math.pi * t / 2) ** 2 for t in v) / 100),
    }
    for name, f in checks.items():
        task = zoo.get_task(name)
        x, y = task.splits()["test"].tensors
        assert x.shape == (1000, task.info.input_dim) and y.shape == (1000, 1)
        assert -1 <= float(x.min()) and float(x.max()) <= 1
        for i in (0, 17, 999):
            assert float(y[i, 0]) == pytest.approx(f([float(t) for t in x[i].double()]), rel=1e-5, abs=1e-6)
    scipy_special = pytest.importorskip("scipy.special")
    x, y = zoo.get_task("toy/bessel-j0").splits()["train"].tensors
    np.testing.assert_allclose(y[:, 0].numpy(), scipy_special.j0(20 * x[:, 0].double().numpy()), atol=1e-5)


def test_digits_are_images_in_unit_range_with_stratified_splits():
    task = zoo.get_task("digits")
    assert task.info.input_shape == (1, 8, 8) and task.info.num_classes == 10 and task.info.output_dim == 10
    splits = task.splits()
    assert sum(len(s) for s in splits.values()) == 1797
    x = torch.cat([s.tensors[0] for s in splits.values()])
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    counts = torch.bincount(splits["test"].tensors[1], minlength=10)
    assert int(counts.min()) >= 35  # ~36 per class: stratified


@pytest.mark.parametrize("name", ["iris", "wine", "breast-cancer", "diabetes"])
def test_tabular_features_standardised_with_training_statistics(name):
    splits = zoo.get_task(name).splits()
    train, test = splits["train"].tensors[0].double(), splits["test"].tensors[0].double()
    assert train.mean(0).abs().max() < 1e-5
    assert (train.std(0, unbiased=False) - 1).abs().max() < 1e-4
    assert test.mean(0).abs().max() > 1e-3  # test statistics were not used


def test_diabetes_target_is_standardised_and_scale_recorded():
    task = zoo.get_task("diabetes")
    y = task.splits()["train"].tensors[1].double()
    assert abs(float(y.mean())) < 1e-5 and task.info.extra["target_std"] > 10


def test_sort_targets_sort_the_inputs():
    task = zoo.get_task("seq/sort", length=7, n_train=50, n_val=5, n_test=5)
    x, y = task.splits()["train"].tensors
    assert task.info.input_shape == (7, 1) and task.info.num_classes == 7
    ordered = torch.gather(x[..., 0], 1, y)
    assert (ordered[:, 1:] >= ordered[:, :-1]).all()


def test_copy_and_modular_add():
    x, y = zoo.get_task("seq/copy", n_train=20).splits()["train"].tensors
    assert torch.equal(x, y) and x.dtype == torch.long
    task = zoo.get_task("seq/modular-add", modulus=11)
    splits = task.splits()
    pairs = [tuple(map(int, p)) for s in splits.values() for p in s.tensors[0]]
    assert len(pairs) == len(set(pairs)) == 121
    x, y = splits["test"].tensors
    assert torch.equal(y, x.sum(1) % 11) and task.info.num_classes == 11


def test_forecast_windows_are_chronological_and_relative():
    task = zoo.get_task("forecast/goog", lookback=10, horizon=3)
    assert task.info.input_shape == (10, 1) and task.info.output_dim == 3
    splits = task.splits()
    x, y = splits["train"].tensors
    assert torch.all(x[:, -1, 0] == 0)  # relative to the last observed value
    # consecutive windows overlap: window i+1's input is window i's shifted by one day
    assert torch.allclose(x[1, :-1, 0] - x[1, -2, 0], x[0, 1:, 0] - x[0, -1, 0], atol=1e-5)
    assert sum(len(s) for s in splits.values()) < 1047
    assert task.info.extra["naive_mse"] > 0


@pytest.mark.skipif(not HAS_PHYSO, reason="physo (extra 'data') is not installed")
def test_feynman_catalog_matches_physo_csv_and_formulas_evaluate():
    from zoo_plugins.tasks.feynman import feynman_equations

    declared = {n.split("/", 1)[1] for n in builtin_task_names() if n.startswith("feynman/")}
    assert declared == set(feynman_equations())
    task = zoo.get_task("feynman/I.6.2a")
    x, y = task.splits()["train"].tensors
    assert x.shape == (1000, 1) and 1 <= float(x.min()) and float(x.max()) <= 3
    expected = torch.exp(-x.double() ** 2 / 2) / math.sqrt(2 * math.pi)
    assert torch.allclose(y.double(), expected, rtol=1e-6)
    # a formula whose variables clash with sympy names (gamma is a function, I a constant)
    task = zoo.get_task("feynman/II.11.27", n_train=10, n_test=10)
    assert task.info.input_dim == len(task.info.extra["variables"]) == 4


def test_feynman_without_physo_names_the_install_command(monkeypatch):
    from zoo_plugins.tasks import feynman

    feynman.feynman_equations.cache_clear()
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "physo" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match=r'pip install "paperzoo\[data\]"') as caught:
        build_task("feynman/I.6.2a")
    assert isinstance(caught.value, zoo.ZooError)  # the CLI reports it as bad input, without a traceback
    monkeypatch.undo()
    feynman.feynman_equations.cache_clear()


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="n_train"):
        zoo.get_task("toy/xy", n_train=0)
    with pytest.raises(ValueError, match="test_fraction"):
        zoo.get_task("iris", test_fraction=1.5)
    with pytest.raises(TypeError):
        zoo.get_task("digits", no_such_option=1)


def test_model_sized_from_a_task():
    assert zoo.create("kan", task="toy/four-var").config.width == [4, 5, 1]
    assert zoo.create("kan", task="wine").config.width == [13, 5, 3]


def test_array_task_losses_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(8, 1\).*\(8,\)"):
        mse(torch.zeros(8, 1), torch.zeros(8))
    with pytest.raises(ValueError, match="num_classes"):
        cross_entropy(torch.zeros(8, 5, 3), torch.zeros(8, dtype=torch.long))
    assert float(cross_entropy(torch.zeros(4, 6, 3), torch.zeros(4, 6, dtype=torch.long))) == pytest.approx(math.log(3))


def test_array_task_from_numpy_with_standard_metrics():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 3)), rng.integers(0, 4, size=30)
    task = ArrayTask("mine", "classification", {"train": (x, y), "test": (x[:10], y[:10])})
    assert task.info.num_classes == 4 and task.info.input_shape == (3,)
    assert task.splits()["train"].tensors[0].dtype == torch.float32
    metric = task.metrics()["accuracy"]
    logits = torch.nn.functional.one_hot(torch.as_tensor(y[:10]), 4).float()
    metric.update(logits, torch.as_tensor(y[:10]))
    assert float(metric.compute()) == 1.0
    seq = ArrayTask("s", "sequence", {"train": (torch.zeros(5, 3, dtype=torch.long), torch.ones(5, 3, dtype=torch.long))},
                    num_classes=2)
    metrics = seq.metrics()
    out = torch.zeros(5, 3, 2)
    out[:, :2, 1] = 1  # right on 2 of 3 positions
    for m in metrics.values():
        m.update(out, torch.ones(5, 3, dtype=torch.long))
    assert float(metrics["accuracy"].compute()) == pytest.approx(2 / 3)
    assert float(metrics["exact_match"].compute()) == 0.0
    with pytest.raises(ValueError, match="same number of rows"):
        ArraySplit(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="'train' split"):
        ArrayTask("t", "regression", {"test": (x, y)})


def test_padding_targets_are_left_out_of_the_metrics():
    y = torch.tensor([[1, 1, -100], [0, -100, -100]])
    task = ArrayTask("pad", "sequence", {"train": (torch.zeros(2, 3, dtype=torch.long), y)}, num_classes=2)
    metrics = task.metrics()
    out = torch.zeros(2, 3, 2)
    out[0, :2, 1] = 1  # right on both real positions of the first sequence
    out[1, 0, 1] = 1  # wrong on the only real position of the second
    for metric in metrics.values():
        metric.update(out, y)
    assert float(metrics["accuracy"].compute()) == pytest.approx(2 / 3)
    assert float(metrics["exact_match"].compute()) == pytest.approx(1 / 2)
    assert float(task.loss(out, (None, y))) == pytest.approx(float(cross_entropy(out[y != -100], y[y != -100])))


def test_array_task_keeps_num_classes_given_for_class_conditional_generation():
    images = np.zeros((12, 64), dtype=np.float32)
    task = ArrayTask("conditional", "generation", {"train": (images, images)}, num_classes=3)
    assert task.info.num_classes == 3 and task.info.output_dim == 64
    assert ArrayTask("plain", "regression", {"train": (images, images)}).info.num_classes is None
