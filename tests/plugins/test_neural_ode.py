"""neural-ode and latent-ode: conformance, bad input, NFE accounting, adjoint vs backprop gradients,
the spirals task, and a few training steps."""

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


def test_odenet_conforms():
    assert_conforms("neural-ode", channels=16)


def test_resnet_baseline_conforms():
    assert_conforms("neural-ode", block="resnet", channels=8)


def test_latent_ode_conforms():
    assert_conforms("latent-ode")


def test_bad_config_rejected_at_create():
    with pytest.raises(ConfigError, match="rtol"):
        zoo.create("neural-ode", rtol=0.0)
    with pytest.raises(ConfigError, match="solver"):
        zoo.create("neural-ode", solver="leapfrog")


def test_bad_input_names_expected_shape():
    model = zoo.create("neural-ode", channels=8)
    with pytest.raises(ValueError, match=r"\(batch, 1, height, width\)"):
        model(torch.rand(2, 8, 8))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(2, 1, 8, 8, dtype=torch.long))
    latent = zoo.create("latent-ode")
    with pytest.raises(ValueError, match=r"\(batch, steps, 2\)"):
        latent(torch.rand(2, 5), torch.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="T >= 5"):
        latent(torch.rand(2, 5, 2), torch.linspace(0, 1, 3))


def test_looser_tolerance_fewer_function_evaluations():
    torch.manual_seed(0)
    x = torch.rand(4, 1, 8, 8)
    nfe = {}
    for tol in (1e-2, 1e-6):
        torch.manual_seed(0)
        model = zoo.create("neural-ode", channels=8, rtol=tol, atol=tol, integration_time=5.0)
        model.reset_nfe()
        with torch.no_grad():
            model(x)
        nfe[tol] = model.nfe
    assert nfe[1e-2] < nfe[1e-6]


def test_adjoint_gradients_match_backprop_through_the_solver():
    torch.manual_seed(0)
    x = torch.rand(3, 1, 8, 8)
    grads = []
    for adjoint in (True, False):
        torch.manual_seed(1)
        model = zoo.create("neural-ode", channels=8, adjoint=adjoint, rtol=1e-7, atol=1e-7)
        model(x).square().sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert torch.allclose(grads[0], grads[1], rtol=1e-3, atol=1e-5)


def test_spirals_task_shapes_loss_and_metrics():
    task = zoo.get_task("neural-ode/spirals", num_spirals=100)
    obs, times, clean = task.splits()["train"][list(range(16))]
    assert obs.shape == (16, 40, 2) and times.shape == (16, 60) and clean.shape == (16, 60, 2)
    model = zoo.create("latent-ode", task=task).eval()
    with torch.no_grad():
        out = model(*task.inputs((obs, times, clean)))
    assert out["trajectory"].shape == (16, 60, 2)
    assert torch.isfinite(task.loss(out, (obs, times, clean)))
    metrics = task.metrics()
    for m in metrics.values():
        m.update(out, clean)
    assert all(torch.isfinite(m.compute()) for m in metrics.values())


@pytest.mark.slow
def test_latent_ode_training_lowers_the_elbo():
    task = zoo.get_task("neural-ode/spirals", num_spirals=100)
    batch = task.splits()["train"][list(range(32))]
    torch.manual_seed(0)
    model = zoo.create("latent-ode", task=task)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(25):
        loss = task.loss(model(*task.inputs(batch)), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_odenet_on_digits_a_few_steps_lower_the_loss():
    task = zoo.get_task("digits")
    torch.manual_seed(0)
    # 64 channels as in the paper: GroupNorm's 32 groups then hold 2 channels each
    model = zoo.create("neural-ode", task=task, adjoint=False)
    assert model.config.downsample_steps == 1  # 8x8 -> 6x6 stem -> 3x3 maps
    x, y = task.splits()["train"][list(range(32))]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(8):
        loss = task.loss(model(x), (x, y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]
