"""Every P3 model trains through zoo.train on the first task its catalog entry names, sized for it
by `zoo.create(name, task=...)`: a few steps with a finite loss, then the task's metrics on the
test split, all finite. (The older waves' models are trained by their own
tests and reproductions; this one check keeps the newest wave honest to the same interface.)"""

import math

import pytest
import torch

import zoo

# tasks whose default size takes seconds to generate: the same task, smaller
SMALL = {
    "dynamics/irregular": {"n_train": 16, "n_val": 4, "n_test": 8},
    "dyad/oscillator": {"n_train": 8, "n_val": 2, "n_test": 2},
    "adafnn-basis-layer/minor": {"train": 64, "val": 16, "test": 32},
    "tabpfn/scm-prior": {"train_draws": 16, "test_draws": 4},
}
P3_MODELS = [name for name in zoo.list_models() if zoo.info(name).priority == "P3"]


def test_the_wave_is_all_there():
    assert len(P3_MODELS) >= 28


@pytest.mark.parametrize("name", P3_MODELS)
def test_trains_on_its_catalog_task_through_zoo_train(name):
    torch.manual_seed(0)
    task_name = zoo.info(name).tasks[0]
    task = zoo.get_task(task_name, **SMALL.get(task_name, {}))
    model = zoo.create(name, task=task)
    result = zoo.train(model, task, max_steps=3, epochs=1, batch_size=8, progress=False, seed=0,
                       eval_splits=[], final_splits=["test"])
    losses = [entry["train_loss"] for entry in result.history]
    assert losses and all(math.isfinite(v) for v in losses), (name, losses)
    metrics = {k: v for k, v in result.final.items() if k.startswith("test_")}
    assert metrics and all(math.isfinite(v) for v in metrics.values()), (name, metrics)
