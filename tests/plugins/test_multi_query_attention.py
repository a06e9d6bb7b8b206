"""multi-query-attention: conformance, MQA as MHA with tied key/value heads, cached incremental
decoding equal to full recomputation, the h-times smaller cache, equal parameters with the widened
feed-forward layer, training on the sort task, and bad input."""

import pytest
import torch

import zoo
from zoo.registry import default_registry
from zoo.testing import assert_conforms
from zoo_plugins.multi_query_attention.config import parameter_matched_d_ff

SMALL = {"vocab_size": 11, "d_model": 32, "num_heads": 8, "num_layers": 2, "d_ff": 48, "dropout": 0.0}


def small(**overrides):
    return zoo.create("multi-query-attention", **{**SMALL, **overrides})


def test_conforms_default_and_variants():
    assert_conforms("multi-query-attention", **SMALL)
    assert_conforms("multi-query-attention", variant="mha", **SMALL)
    assert_conforms("multi-query-attention", variant="mqa", **{k: v for k, v in SMALL.items() if k != "d_ff"})
    assert_conforms("multi-query-attention", **{**SMALL, "kv_heads": 2})


def test_mqa_equals_mha_with_every_key_value_head_tied():
    torch.manual_seed(0)
    mqa = small(kv_heads=1).eval()
    mha = small(kv_heads=8).eval()
    state = mqa.state_dict()
    for name, tensor in list(state.items()):
        if name.endswith(("attention.key.weight", "attention.value.weight")):
            state[name] = tensor.repeat(8, 1)  # the one shared head copied into each of the 8 heads
    mha.load_state_dict(state)
    tokens = torch.randint(11, (3, 9))
    torch.testing.assert_close(mha(tokens), mqa(tokens), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(small(kv_heads=8).eval()(tokens), mqa(tokens), atol=1e-3)  # untied heads differ


@pytest.mark.parametrize("kv_heads", [8, 2, 1])
def test_cached_decoding_equals_full_recomputation(kv_heads):
    torch.manual_seed(1)
    model = small(kv_heads=kv_heads).eval()
    tokens = torch.randint(11, (2, 10))
    with torch.no_grad():
        full = model(tokens)
        cache = model.new_cache(2, 12)
        pieces = [model.decode(tokens[:, :4], cache), model.decode(tokens[:, 4:6], cache)]
        pieces += [model.decode(tokens[:, i:i + 1], cache) for i in range(6, 10)]
    assert cache.length == 10
    torch.testing.assert_close(torch.cat(pieces, 1), full, rtol=1e-5, atol=1e-5)


def test_generate_is_greedy_decoding_without_cache():
    torch.manual_seed(2)
    model = small(kv_heads=1).eval()
    prompt = torch.randint(11, (3, 5))
    sequence = prompt
    with torch.no_grad():
        for _ in range(6):
            sequence = torch.cat([sequence, model(sequence)[:, -1:].argmax(-1)], 1)
    assert torch.equal(model.generate(prompt, 6), sequence[:, 5:])


def test_cache_is_h_times_smaller_for_multi_query():
    heads = 8
    mha = small(num_heads=heads, kv_heads=heads).new_cache(4, 16)
    mqa = small(num_heads=heads, kv_heads=1).new_cache(4, 16)
    assert mha.keys[0].shape == (4, heads, 16, 4) and mqa.keys[0].shape == (4, 1, 16, 4)
    assert mha.numel() == heads * mqa.numel() == 2 * 2 * 4 * 16 * 32  # keys and values, 2 layers, d_model 32


def test_widened_feed_forward_equalises_parameters():
    count = lambda m: sum(p.numel() for p in m.parameters() if p.dim() == 2)  # noqa: E731 (weights; biases neglected)
    d_ff = parameter_matched_d_ff(48, 32, 8, 1)
    assert d_ff == 48 + 7 * 4
    assert count(small(num_heads=8, kv_heads=8)) == count(small(num_heads=8, kv_heads=1, d_ff=d_ff))
    defaults = default_registry().resolve_config("multi-query-attention", variant="mqa")[2]
    assert defaults.d_ff == parameter_matched_d_ff(4096, 1024, 8, 1) == 4992 and defaults.kv_heads == 1


def test_training_on_sort_lowers_the_loss():
    task = zoo.get_task("multi-query-attention/sort", length=6, symbols=6, n_train=1024, n_val=64, n_test=128)
    torch.manual_seed(0)
    model = zoo.create("multi-query-attention", task=task, variant="mqa", d_model=32, num_layers=1, d_ff=64,
                       dropout=0.0)
    before = zoo.evaluate(model, task, split="test")["loss"]
    zoo.train(model, task, epochs=2, batch_size=32, lr=3e-3, eval_splits=[], final_splits=[], progress=False)
    assert zoo.evaluate(model, task, split="test")["loss"] < 0.7 * before


def test_sort_task_scores_only_the_answer():
    task = zoo.get_task("multi-query-attention/sort", length=5, symbols=4, n_train=8, n_val=2, n_test=2)
    x, y = task.splits()["train"].tensors
    assert x.shape == y.shape == (8, 10) and bool((x[:, 5] == 4).all())
    assert bool((y[:, :5] == -100).all())
    assert torch.equal(y[:, 5:], x[:, :5].sort(1).values)


def test_bad_input_and_config():
    model = small()
    with pytest.raises(TypeError, match="integer token ids"):
        model(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"\(batch, length\)"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 11\)"):
        model(torch.full((2, 3), 11))
    cache = model.new_cache(2, 4)
    with pytest.raises(ValueError, match="cache holds 4 positions"):
        model.decode(torch.zeros(2, 5, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="sequences"):
        model.decode(torch.zeros(3, 1, dtype=torch.long), cache)
    for bad in ({"kv_heads": 3}, {"kv_heads": 0}, {"num_heads": 5}, {"kv_heads": 16}, {"dropout": 1.0}):
        with pytest.raises(zoo.ConfigError):
            small(**bad)
