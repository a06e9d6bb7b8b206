"""gan: conformance, bad input, Algorithm 1's k-step schedule, the mixture metrics, and a short
training run through zoo.train that lowers the discriminator's loss."""

import pytest
import torch

import zoo
from zoo.testing import assert_conforms


class LossLog:
    def __init__(self):
        self.logs = []

    def zoo_train_batch_end(self, run, logs):
        self.logs.append(dict(logs))


def test_conforms_default_and_toy_variant():
    assert_conforms("gan")
    assert_conforms("gan", variant="toy2d")


def test_bad_noise_names_expected_shape():
    model = zoo.create("gan", variant="toy2d")
    with pytest.raises(ValueError, match=r"\(batch, 16\)"):
        model(torch.rand(4, 3))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(4, 16, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        model.discriminate(torch.rand(4, 3))


@pytest.mark.parametrize("bad", [{"k_steps": 0}, {"dropout": 1.0}, {"data_shape": []}, {"generator_hidden": [0]},
                                 {"generator_loss": "wasserstein"}, {"latent_dim": 1.5}])
def test_out_of_range_config_rejected_at_create(bad):
    with pytest.raises(zoo.ConfigError):
        zoo.create("gan", **bad)


def test_from_task_sizes_the_model_for_a_mixture():
    model = zoo.create("gan", variant="toy2d", task="mixture2d/grid25")
    assert model.config.data_shape == [2] and model.config.output_activation == "identity"


class _Step:
    """The part of zoo.training.StepContext a training_step uses, to count optimizer steps."""

    def __init__(self, optimizers):
        self.optimizers, self.stepped = optimizers, []

    def backward(self, loss):
        loss.backward()

    def zero_grad(self, name):
        self.optimizers[name].zero_grad(set_to_none=True)

    def step(self, name):
        self.optimizers[name].step()
        self.stepped.append(name)


def test_k_discriminator_steps_per_generator_step():
    torch.manual_seed(0)
    model = zoo.create("gan", variant="toy2d", k_steps=3)
    step = _Step(model.configure_optimizers(1e-3))
    for _ in range(6):
        model.training_step((torch.randn(16, 2), torch.zeros(16, dtype=torch.long)), step)
    assert step.stepped == ["discriminator"] * 3 + ["generator"] + ["discriminator"] * 3 + ["generator"]


def test_mixture_metrics_count_modes_and_quality():
    task = zoo.get_task("mixture2d/ring8")
    metrics = task.metrics()
    on_four_modes = task.centres[:4].repeat(10, 1)
    far = torch.full((40, 2), 10.0)
    for metric in metrics.values():
        metric.update(torch.cat([on_four_modes, far]))
    assert metrics["modes_covered"].compute().item() == 4
    assert metrics["high_quality"].compute().item() == pytest.approx(0.5)


def test_training_lowers_the_discriminator_loss():
    torch.manual_seed(0)
    model = zoo.create("gan", variant="toy2d", task="mixture2d/ring8")
    log = LossLog()
    zoo.train(model, "mixture2d/ring8", max_steps=40, batch_size=128, lr=1e-3, eval_splits=[], callbacks=[log])
    losses = [entry["loss"] for entry in log.logs]
    assert len(losses) == 40
    assert sum(losses[-10:]) / 10 < sum(losses[:5]) / 5
    assert {"generator_loss", "d_real", "d_fake"} <= set(log.logs[-1])


def test_evaluate_reports_mode_metrics():
    torch.manual_seed(0)
    model = zoo.create("gan", variant="toy2d", task="mixture2d/ring8")
    result = zoo.evaluate(model, "mixture2d/ring8", split="test")
    assert set(result) == {"modes_covered", "high_quality"}
    assert 0 <= result["modes_covered"] <= 8
