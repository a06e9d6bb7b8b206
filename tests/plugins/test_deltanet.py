"""deltanet: conformance, the chunkwise WY/UT algorithm equal to the token-by-token delta rule (and
linear attention's chunked form to its recurrence) in float64 for several chunk sizes and lengths,
the delta rule's overwrite against linear attention's sum, the MQAR task, training, and bad input."""

import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.deltanet.model import (delta_rule_chunked, delta_rule_recurrent, linear_attention_chunked,
                                        linear_attention_recurrent)

SMALL = {"vocab_size": 13, "d_model": 16, "num_heads": 2, "num_layers": 2, "chunk_size": 4}


def test_conforms_default_and_variants():
    assert_conforms("deltanet", **SMALL)
    assert_conforms("deltanet", variant="linear-attention", **SMALL)
    assert_conforms("deltanet", **{**SMALL, "conv_size": 0})


def random_inputs(length, d_k=6, d_v=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = F.normalize(torch.randn(2, 3, length, d_k, generator=g, dtype=torch.float64), dim=-1)
    k = F.normalize(torch.randn(2, 3, length, d_k, generator=g, dtype=torch.float64), dim=-1)
    v = torch.randn(2, 3, length, d_v, generator=g, dtype=torch.float64)
    beta = torch.rand(2, 3, length, generator=g, dtype=torch.float64)
    state = torch.randn(2, 3, d_k, d_v, generator=g, dtype=torch.float64)
    return q, k, v, beta, state


@pytest.mark.parametrize("length, chunk", [(1, 4), (7, 4), (16, 4), (23, 8), (33, 64), (30, 1)])
def test_chunked_delta_rule_equals_the_recurrence(length, chunk):
    q, k, v, beta, state = random_inputs(length)
    for initial in (None, state):
        expected, expected_state = delta_rule_recurrent(q, k, v, beta, initial)
        out, final = delta_rule_chunked(q, k, v, beta, chunk, initial)
        torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(final, expected_state, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("length, chunk", [(9, 4), (32, 8)])
def test_chunked_linear_attention_equals_the_recurrence(length, chunk):
    q, k, v, _, state = random_inputs(length)
    expected, expected_state = linear_attention_recurrent(q, k, v, state)
    out, final = linear_attention_chunked(q, k, v, chunk, state)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(final, expected_state, rtol=1e-12, atol=1e-12)


def test_recurrence_is_the_product_of_householder_like_transitions():
    q, k, v, beta, state = random_inputs(5)
    _, final = delta_rule_recurrent(q, k, v, beta, state)
    eye = torch.eye(6, dtype=torch.float64)
    S = state
    for t in range(5):  # S_t = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T
        kt, b = k[:, :, t, :, None], beta[:, :, t, None, None]
        S = (eye - b * kt @ kt.transpose(-1, -2)) @ S + b * kt @ v[:, :, t, None, :]
    torch.testing.assert_close(final, S, rtol=1e-12, atol=1e-12)


def test_delta_rule_overwrites_where_linear_attention_adds():
    k = F.normalize(torch.randn(1, 1, 1, 4, dtype=torch.float64), dim=-1).expand(1, 1, 2, 4)
    v = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]], dtype=torch.float64)  # the same key bound to two values
    out, _ = delta_rule_chunked(k, k, v, torch.ones(1, 1, 2, dtype=torch.float64), 2)
    torch.testing.assert_close(out[0, 0, 1], v[0, 0, 1])  # beta = 1: the new value replaces the old
    out, _ = linear_attention_chunked(k, k, v, 2)
    torch.testing.assert_close(out[0, 0, 1], v[0, 0, 0] + v[0, 0, 1])


@pytest.mark.parametrize("variant", ["default", "linear-attention"])
def test_model_chunked_equals_model_recurrent(variant):
    torch.manual_seed(0)
    model = zoo.create("deltanet", variant=variant, **SMALL).double().eval()
    tokens = torch.randint(13, (2, 11))
    with torch.no_grad():
        torch.testing.assert_close(model(tokens), model(tokens, recurrent=True), rtol=1e-10, atol=1e-10)


def test_mqar_queries_ask_for_bound_values():
    task = zoo.get_task("deltanet/mqar", seq_len=24, num_pairs=6, vocab_size=32, n_train=50, n_val=5, n_test=5)
    x, y = task.splits()["train"].tensors
    for row_x, row_y in zip(x, y):
        pairs = dict(zip(row_x[0:12:2].tolist(), row_x[1:12:2].tolist()))
        assert len(pairs) == 6 and all(1 <= key < 16 <= value < 32 for key, value in pairs.items())
        asked = (row_y != -100).nonzero().flatten()
        assert len(asked) == 6 and bool((asked >= 12).all())
        assert sorted(row_x[asked].tolist()) == sorted(pairs)
        assert all(pairs[int(row_x[p])] == int(row_y[p]) for p in asked)
    with pytest.raises(ValueError, match="distinct keys"):
        zoo.get_task("deltanet/mqar", num_pairs=20, vocab_size=32)


def test_training_on_mqar_lowers_the_loss():
    task = zoo.get_task("deltanet/mqar", seq_len=16, num_pairs=2, vocab_size=16, n_train=512, n_val=32, n_test=64)
    torch.manual_seed(0)
    model = zoo.create("deltanet", task=task, d_model=32, num_layers=1, chunk_size=8)
    before = zoo.evaluate(model, task, split="test")["loss"]
    zoo.train(model, task, epochs=2, batch_size=32, lr=3e-3, eval_splits=[], final_splits=[], progress=False)
    assert zoo.evaluate(model, task, split="test")["loss"] < 0.8 * before


def test_bad_input_and_config():
    model = zoo.create("deltanet", **SMALL)
    with pytest.raises(TypeError, match="integer token ids"):
        model(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"\(batch, length\)"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 13\)"):
        model(torch.full((1, 3), 13))
    q, k, v, beta, _ = random_inputs(4)
    with pytest.raises(ValueError, match="beta of shape"):
        delta_rule_chunked(q, k, v, beta[..., :3])
    with pytest.raises(ValueError, match="chunk_size"):
        delta_rule_chunked(q, k, v, beta, 0)
    for bad in ({"num_heads": 3}, {"attention": "softmax"}, {"chunk_size": 0}, {"conv_size": -1}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("deltanet", **{**SMALL, **bad})
