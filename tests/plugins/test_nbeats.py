"""nbeats: conformance of both configurations, bad input, the bases, doubly residual stacking,
the generated task, and a few training steps."""

import pytest
import torch

import zoo
from zoo.errors import ConfigError
from zoo.testing import assert_conforms

SMALL_INTERPRETABLE = dict(stack_types=["trend", "seasonality"], blocks_per_stack=3, layer_widths=[32, 64],
                           share_weights_in_stack=True)


@pytest.fixture(autouse=True)
def _one_thread():
    """The CPUs are shared: one intra-op thread is several times faster than two fighting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_generic_default_conforms():
    assert_conforms("nbeats")


def test_interpretable_conforms():
    assert_conforms("nbeats", **SMALL_INTERPRETABLE)


def test_bad_config_rejected_at_create():
    with pytest.raises(ConfigError, match="one positive width per stack"):
        zoo.create("nbeats", stack_types=["trend", "seasonality"], layer_widths=[8])
    with pytest.raises(ConfigError, match="horizon"):
        zoo.create("nbeats", horizon=0)
    with pytest.raises(ConfigError, match="stack_types"):
        zoo.create("nbeats", stack_types=["fourier"], layer_widths=[8])


def test_bad_input_names_expected_shape():
    model = zoo.create("nbeats", stack_types=["generic"], layer_widths=[8], input_size=10, horizon=4)
    with pytest.raises(ValueError, match=r"\(batch, 10\)"):
        model(torch.rand(3, 12))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(3, 10, dtype=torch.long))


def test_interpretable_stacks_are_a_polynomial_trend_and_a_fourier_season():
    torch.manual_seed(0)
    model = zoo.create("nbeats", input_size=24, horizon=12, **SMALL_INTERPRETABLE)
    assert [len(stack) for stack in model.stacks] == [1, 1]  # one block module per stack: shared weights
    x = torch.randn(5, 24).cumsum(1)
    trend, season = model.decompose(x)
    assert torch.allclose(trend + season, model(x), atol=1e-5)
    # a cubic sampled on a uniform grid has zero 4th differences
    assert trend.double().diff(n=4, dim=1).abs().max() < 1e-3 * trend.abs().max()
    basis = model.stacks[1][0].basis_f
    assert basis.shape == (1 + 2 * 5, 12)  # [1, cos i t, sin i t] for i = 1..floor(H/2 - 1)


def test_doubly_residual_stacking():
    torch.manual_seed(0)
    model = zoo.create("nbeats", stack_types=["generic", "generic"], layer_widths=[8, 8], input_size=6, horizon=3)
    x = torch.randn(4, 6)
    b1, f1 = model.stacks[0][0](x)
    b2, f2 = model.stacks[1][0](x - b1)
    assert torch.allclose(model(x), f1 + f2, atol=1e-6)


def test_task_windows_and_a_few_training_steps_lower_the_loss():
    task = zoo.get_task("nbeats/m4-like", num_series=20)
    splits = task.splits()
    assert len(splits["test"]) == 20 and len(task.history) == 20
    x, y = splits["test"].tensors
    # the test window continues the series right after its history
    assert all(torch.allclose(x[i], torch.tensor(h[-36:], dtype=torch.float32)) for i, h in enumerate(task.history))
    torch.manual_seed(0)
    model = zoo.create("nbeats", task=task, stack_types=["generic"] * 3, layer_widths=[64] * 3)
    xb, yb = splits["train"].tensors
    batch = (xb[:512], yb[:512])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        loss = task.loss(model(*task.inputs(batch)), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
