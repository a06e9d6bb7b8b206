"""Tests of the `noprop` method and the `noprop-dt` model: the schedule and the inference chain against
the noising process, block independence in the loss, training through zoo.train, exact resume and
refusals."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import MethodMismatchError
from zoo_plugins.noprop.method import noprop_loss
from zoo_plugins.noprop.model import NoPropConfig, NoPropNet, block_loss_weight, classifier_loss

TRAIN = {"batch_size": 32, "eval_splits": [], "final_splits": [], "progress": False, "device": "cpu",
         "optimizer": "adamw", "lr": 1e-3}


def tiny(**options):
    return NoPropNet(NoPropConfig(image_size=8, num_blocks=3, hidden=16, **options))


def test_schedule_runs_from_pure_noise_to_the_clean_label_and_snr_grows():
    model = NoPropNet(NoPropConfig(image_size=8))
    ab = model.alpha_bar
    assert ab[0] == 0 and ab[-1] > 0.999 and torch.all(ab[1:] > ab[:-1])
    assert all(block_loss_weight(model, t, 0.1) > 0 for t in range(1, 11))


@pytest.mark.parametrize("t", [1, 2, 3])
def test_chain_step_with_a_perfect_block_keeps_the_noising_marginals(t):
    """With û_t = u_y, Eq. 3 is the posterior q(z_t | z_{t-1}, y): z_{t-1} ~ q(z_{t-1}|y) gives
    mean a u + b sqrt(abar_{t-1}) u = sqrt(abar_t) u and variance b^2 (1 - abar_{t-1}) + c = 1 - abar_t."""
    model = tiny()
    ab = model.alpha_bar.double()
    a, b, c = model.chain_coefficients(t)
    assert a + b * float(ab[t - 1].sqrt()) == pytest.approx(float(ab[t].sqrt()), rel=1e-9)
    assert b * b * float(1 - ab[t - 1]) + c == pytest.approx(float(1 - ab[t]), rel=1e-9)


def test_each_block_gets_only_its_own_terms_gradient():
    torch.manual_seed(0)
    model = tiny()
    x, y = torch.rand(8, 1, 8, 8), torch.randint(0, 10, (8,))
    _, parts = noprop_loss(model, x, y, eta=0.1)
    parts["denoise/2"].backward()
    grads = [sum(float(p.grad.abs().sum()) for p in block.parameters() if p.grad is not None)
             for block in model.blocks]
    assert grads[1] > 0 and grads[0] == 0 and grads[2] == 0


def test_block_output_is_a_convex_combination_of_the_class_embeddings():
    model = tiny().eval()
    out = model.blocks[0](torch.rand(4, 1, 8, 8), torch.randn(4, 10), model.embedding)
    # embeddings start one-hot, so the output is a probability vector
    assert torch.allclose(out.sum(dim=1), torch.ones(4)) and torch.all(out >= 0)


def test_inference_is_repeatable_and_leaves_the_global_generator_alone():
    model = tiny().eval()
    x = torch.rand(5, 1, 8, 8)
    state = torch.random.get_rng_state()
    first = model(x)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(first, model(x)) and first.shape == (5, 10)


def test_conv_width_sets_the_image_paths_channels():
    model = tiny(conv_width=4)
    convs = [m for m in model.blocks[0].image if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 8, 16]


def test_the_last_block_trained_alone_reads_the_label_from_a_lightly_noised_embedding():
    """The diagnosis of an untrained chain: block T (T = 10), trained only on its own denoising term,
    predicts u_y from z_{T-1} ~ q(z_{T-1} | y) (noise std 0.17) and the image."""
    torch.manual_seed(0)
    model = NoPropNet(NoPropConfig(image_size=8, hidden=64, conv_width=2, dropout=0.0))
    x, y = zoo.get_task("digits").splits()["train"].tensors
    x, y = x[:128], y[:128]
    block, embedding = model.blocks[-1], model.embedding.detach()
    optimizer = torch.optim.Adam(block.parameters(), lr=1e-2)
    u = embedding[y]
    for _ in range(30):
        loss = (block(x, model.noisy_embedding(u, 9), embedding) - u).square().sum(dim=1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():  # batch statistics: 30 steps leave BatchNorm's running averages unsettled
        guess = block(x, model.noisy_embedding(u, 9), embedding)
    assert float((guess.argmax(dim=1) == y).float().mean()) > 0.9  # one-hot embeddings: argmax is the class


def test_the_classifier_term_alone_learns_p_y_given_z_T():
    torch.manual_seed(0)
    model = tiny()
    y = torch.arange(10).repeat(20)
    optimizer = torch.optim.Adam(model.classifier.parameters(), lr=1e-2)
    u = model.embedding.detach()[y]
    first = float(classifier_loss(model, u, y))
    for _ in range(100):
        loss = classifier_loss(model, u, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    z_T = model.noisy_embedding(u, model.config.num_blocks)
    assert float(loss) < first / 2
    assert torch.equal(model.classifier(z_T).argmax(dim=1), y)


def test_trains_the_catalog_model_through_zoo_train():
    torch.manual_seed(0)
    model = zoo.create("noprop-dt", variant="digits", task="digits", num_blocks=2, hidden=16)
    before = [p.detach().clone() for p in model.parameters()]
    result = zoo.train(model, "digits", methods=["noprop"], epochs=1, **{**TRAIN, "max_steps": 2})
    assert result.steps == 2
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_exact_resume_matches_an_uninterrupted_run(tmp_path):
    def run(out, epochs, resume=False):
        torch.manual_seed(1)
        model = zoo.create("noprop-dt", variant="digits", task="digits", num_blocks=2, hidden=8)
        zoo.train(model, "digits", methods=["noprop"], epochs=epochs, out_dir=out, resume=resume,
                  **{**TRAIN, "batch_size": 256, "seed": 3})
        return model

    straight = run(tmp_path / "a", 2)
    run(tmp_path / "b", 1)
    resumed = run(tmp_path / "b", 2, resume=True)
    for p, q in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(p, q)


def test_refuses_other_models_and_unknown_options():
    with pytest.raises(MethodMismatchError, match="noprop.*Sequential.*NoProp network"):
        zoo.train(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), "digits", methods=["noprop"], epochs=1, **TRAIN)
    with pytest.raises(ConfigError, match="eta"):
        zoo.method("noprop", etaa=0.2)
