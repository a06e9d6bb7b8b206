"""adc-gan: conformance (ADC and the AC-GAN variant), the classifier terms against the paper's
formulas, the generator's ADC term vanishing where real k and generated k are indistinguishable,
the task's metrics against closed forms, bad input and config, and a short training run through
zoo.train that lowers the discriminator's classifier loss."""

import math

import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.adc_gan.model import classifier_loss_discriminator, classifier_loss_generator
from zoo_plugins.adc_gan.task import bayes_labels, class_w1, real_label_accuracy


class LossLog:
    def __init__(self):
        self.logs = []

    def zoo_train_batch_end(self, run, logs):
        self.logs.append(logs)


def test_conforms_adc_and_ac_variant():
    assert_conforms("adc-gan")
    assert_conforms("adc-gan", variant="acgan")


def test_classifier_sizes_follow_the_loss():
    assert zoo.create("adc-gan", num_classes=4).discriminator.classifier.out_features == 8  # 2K: real k, fake k
    assert zoo.create("adc-gan", variant="acgan", num_classes=4).discriminator.classifier.out_features == 4


def test_adc_discriminator_term_is_the_2k_way_log_likelihood():
    torch.manual_seed(0)
    real, fake = torch.randn(6, 6), torch.randn(6, 6)  # K = 3: logits of real 0, fake 0, real 1, ...
    y_real, y_fake = torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([2, 2, 1, 0, 0, 1])
    log_c_real, log_c_fake = real.log_softmax(-1), fake.log_softmax(-1)
    expected = -(log_c_real[torch.arange(6), 2 * y_real].mean() + log_c_fake[torch.arange(6), 2 * y_fake + 1].mean())
    torch.testing.assert_close(classifier_loss_discriminator("adc", real, y_real, fake, y_fake), expected)
    # AC-GAN's classifier sees real data only
    ac_real = torch.randn(6, 3)
    torch.testing.assert_close(classifier_loss_discriminator("ac", ac_real, y_real, torch.randn(6, 3), y_fake),
                               F.cross_entropy(ac_real, y_real))


def test_adc_generator_term_is_log_ratio_of_real_to_generated_class():
    torch.manual_seed(1)
    logits, y = torch.randn(5, 6), torch.tensor([0, 1, 2, 1, 0])
    log_c = logits.log_softmax(-1)
    expected = -(log_c[torch.arange(5), 2 * y] - log_c[torch.arange(5), 2 * y + 1]).mean()
    torch.testing.assert_close(classifier_loss_generator("adc", logits, y), expected)
    # where C_d cannot tell real k from generated k (equal logits) the term is 0 whatever the class
    tied = torch.randn(5, 3).repeat_interleave(2, dim=1)
    torch.testing.assert_close(classifier_loss_generator("adc", tied, y), torch.zeros(()))
    # AC-GAN's generator term is -log C(y|G), which still rewards being easy to classify
    ac_logits = torch.randn(5, 3)
    torch.testing.assert_close(classifier_loss_generator("ac", ac_logits, y), F.cross_entropy(ac_logits, y))


def test_classify_keeps_the_real_half_of_the_adc_classifier():
    torch.manual_seed(0)
    model = zoo.create("adc-gan")
    x = torch.randn(4, 1)
    logits = model.discriminator(x)[1]
    torch.testing.assert_close(model.classify(x), logits[:, 0::2].softmax(-1))


def test_label_conditions_the_generator():
    torch.manual_seed(0)
    model = zoo.create("adc-gan").eval()
    z = torch.randn(1, 2).repeat(2, 1)
    out = model(z, torch.tensor([0, 2]))
    assert out.shape == (2, 1) and not torch.allclose(out[0], out[1])


def test_task_metrics_match_closed_forms():
    gen = torch.Generator().manual_seed(0)
    exact = torch.special.ndtri((torch.arange(4000, dtype=torch.float64) + 0.5) / 4000) * 2 + 3
    assert class_w1(exact[torch.randperm(4000, generator=gen)], 3.0, 2.0) < 1e-9
    assert class_w1(exact + 0.5, 3.0, 2.0) == pytest.approx(0.5)  # a shift by 0.5 moves W1 by 0.5
    # the Bayes classifier: x far left -> class 0 (narrowest), far right -> class 2 (widest)
    assert bayes_labels(torch.tensor([-0.5, 4.0, 14.0])).tolist() == [0, 1, 2]
    assert 0.6 < real_label_accuracy(n=30000) < 0.8  # the classes overlap: far from 1
    task = zoo.get_task("adc-gan/overlap1d", n_per_class=3000)
    x, y = task.splits()["train"].tensors
    for k, (mu, sd) in enumerate(zip(task.means, task.stds)):
        assert float(x[y == k].mean()) == pytest.approx(mu, abs=0.15)
        assert float(x[y == k].std()) == pytest.approx(sd, rel=0.05)


def test_bad_input_names_what_is_expected():
    model = zoo.create("adc-gan")
    z = torch.randn(4, 2)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        model(z, torch.tensor([0, 1, 2, 3]))
    with pytest.raises(TypeError, match="integer class labels"):
        model(z, torch.zeros(4))
    with pytest.raises(ValueError, match="one label each"):
        model(z, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        model(torch.randn(4, 5), torch.tensor([0, 1, 2, 0]))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(4, 2, dtype=torch.long), torch.tensor([0, 1, 2, 0]))


@pytest.mark.parametrize("bad", [{"num_classes": 1}, {"loss": "tac"}, {"aux_weight": -1.0}, {"k_steps": 0},
                                 {"generator_hidden": []}, {"discriminator_hidden": [0]}])
def test_out_of_range_config_rejected(bad):
    with pytest.raises(zoo.ConfigError):
        zoo.create("adc-gan", **bad)


@pytest.mark.parametrize("variant", ["default", "acgan"])
def test_training_lowers_the_classifier_loss(variant):
    torch.manual_seed(0)
    task = zoo.get_task("adc-gan/overlap1d", n_per_class=1000, n_test_per_class=300)
    model = zoo.create("adc-gan", variant=variant, task=task)
    log = LossLog()
    zoo.train(model, task, max_steps=40, batch_size=128, lr=2e-3, eval_splits=[], callbacks=[log], progress=False)
    losses = [entry["classifier_loss"] for entry in log.logs]
    assert len(losses) == 40 and all(math.isfinite(v) for v in losses)
    assert sum(losses[-10:]) / 10 < sum(losses[:5]) / 5
    assert int(model.discriminator_steps) == 40
    metrics = zoo.evaluate(model, task, split="test")
    assert 0.0 <= metrics["label_accuracy"] <= 1.0 and metrics["w1"] > 0
