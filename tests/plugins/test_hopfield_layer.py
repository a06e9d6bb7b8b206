"""hopfield-layer: conformance of the three layers, bad input, the update rule (retrieval beyond
the dimension), agreement with torch attention (Eq. 10), and a few training steps on bundled data."""

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


@pytest.mark.parametrize("variant", ["hopfield-layer", "hopfield-pooling", "hopfield"])
def test_conforms(variant):
    assert_conforms("hopfield-layer", **zoo.info("hopfield-layer").variants[variant], num_heads=2, update_steps=2)


def test_bad_config_rejected_at_create():
    with pytest.raises(ConfigError, match="beta"):
        zoo.create("hopfield-layer", beta=-1.0)
    with pytest.raises(ConfigError, match="layer"):
        zoo.create("hopfield-layer", layer="hopfield-lookup")


def test_bad_input_names_expected_shape():
    model = zoo.create("hopfield-layer", in_features=4)
    with pytest.raises(ValueError, match=r"\(batch, 4\)"):
        model(torch.rand(3, 5))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(3, 4, dtype=torch.long))
    from zoo_plugins.hopfield_layer.model import hopfield_update

    with pytest.raises(ValueError, match="same d"):
        hopfield_update(torch.rand(10, 4), torch.rand(1, 5), beta=1.0)


def test_one_update_retrieves_with_more_patterns_than_dimensions():
    from zoo_plugins.hopfield_layer.model import hopfield_update

    torch.manual_seed(0)
    d, n = 32, 1000  # ~31x more patterns than dimensions
    patterns = torch.sign(torch.randn(n, d))
    noisy = patterns[:100].clone()
    flip = torch.rand(100, d) < 0.1
    noisy[flip] *= -1
    retrieved = hopfield_update(patterns, noisy, beta=1.0)
    assert (torch.sign(retrieved) == patterns[:100]).all(1).float().mean() > 0.95
    # a small beta averages many patterns (a metastable state) instead of retrieving one
    blurred = hopfield_update(patterns, noisy, beta=0.01)
    assert (torch.sign(blurred) == patterns[:100]).all(1).float().mean() < 0.5


def test_hopfield_equals_multihead_attention_with_the_same_weights():
    from zoo_plugins.hopfield_layer.model import Hopfield

    torch.manual_seed(0)
    d, h, heads = 12, 4, 3
    hopfield = Hopfield(d, h, d, num_heads=heads)
    mha = torch.nn.MultiheadAttention(d, heads, bias=False, batch_first=True, kdim=d, vdim=d)
    w_v = torch.block_diag(*[hopfield.w_v.weight] * heads)  # per-head W_V on Y W_K
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([hopfield.w_q.weight, hopfield.w_k.weight, w_v @ hopfield.w_k.weight]))
        mha.out_proj.weight.copy_(hopfield.w_o.weight)
    stored, state = torch.randn(2, 7, d), torch.randn(2, 5, d)
    expected, _ = mha(state, stored, stored, need_weights=False)
    assert torch.allclose(hopfield(stored, state), expected, atol=1e-5)


@pytest.mark.parametrize("variant", ["hopfield-layer", "hopfield-pooling"])
def test_a_few_training_steps_on_breast_cancer_lower_the_loss(variant):
    task = zoo.get_task("breast-cancer")
    torch.manual_seed(0)
    model = zoo.create("hopfield-layer", variant=variant, task=task)
    x, y = task.splits()["train"][list(range(256))]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        loss = task.loss(model(x), (x, y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]
