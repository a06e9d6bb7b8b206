"""samplernn: conformance, causality of every tier, truncated BPTT equal to one pass, generation
that follows the model's own conditionals, quantisation, the waveform task, training that lowers
the NLL, and bad input."""

import math

import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.samplernn.model import dequantize, quantize

SMALL = {"dim": 16, "embedding_dim": 4, "seq_len": 16, "q_levels": 16}


def test_conforms_default_and_variants():
    assert_conforms("samplernn", **{k: v for k, v in SMALL.items() if k != "q_levels"})
    for variant in ("two-tier", "sample-rnn", "small"):
        assert_conforms("samplernn", variant=variant, dim=16, embedding_dim=4, seq_len=16)


@pytest.mark.parametrize("frame_sizes", [[8, 2], [16], [1], [4, 2, 1]])
def test_every_prediction_sees_only_the_past(frame_sizes):
    torch.manual_seed(0)
    model = zoo.create("samplernn", frame_sizes=frame_sizes, **SMALL).eval()
    c = model.context
    x = torch.randint(0, 16, (2, c + 32))
    logits = model(x)
    for i in (c, c + 5, c + 17, c + 31):  # change sample i: predictions of samples <= i must not move
        changed = x.clone()
        changed[:, i] = (changed[:, i] + 5) % 16
        moved = (model(changed) - logits).abs().amax(dim=(0, 2))
        assert moved[: i - c + 1].max() == 0
        if i < c + 31:
            assert moved[i - c + 1] > 0  # the very next prediction reads sample i


def test_truncated_bptt_state_carry_equals_one_pass():
    torch.manual_seed(0)
    model = zoo.create("samplernn", **{**SMALL, "seq_len": 16}).eval()
    x = torch.randint(0, 16, (3, 8 + 64))
    whole = torch.nn.functional.cross_entropy(model(x).transpose(1, 2), x[:, 8:], reduction="none").mean(1)
    torch.testing.assert_close(model.nll_bits(x), whole / math.log(2))


def test_generation_follows_the_models_conditionals():
    torch.manual_seed(0)
    model = zoo.create("samplernn", **SMALL).eval()
    prefix = torch.randint(0, 16, (2, 8))
    greedy = model.generate(2, 32, temperature=1e-6, prefix=prefix)
    assert greedy.shape == (2, 32)
    torch.testing.assert_close(model(torch.cat([prefix, greedy], 1)).argmax(-1), greedy)
    sampled = model.generate(3, 16, generator=torch.Generator().manual_seed(1))
    assert sampled.min() >= 0 and sampled.max() < 16


def test_quantization_round_trip():
    x = torch.linspace(-1, 1, 1001)
    for kind in ("linear", "mu-law"):
        q = quantize(x, 256, kind)
        assert q.min() == 0 and q.max() == 255
        assert (dequantize(q, 256, kind) - x).abs().max() < (2 / 255 if kind == "linear" else 0.05)
    assert quantize(torch.tensor([0.001]), 256, "mu-law") != quantize(torch.tensor([0.02]), 256, "mu-law")


def test_waveform_task_shapes_and_levels():
    task = zoo.get_task("samplernn/waves", train=4, val=2, test=2, length=64)
    x = task.splits()["train"].tensors[0]
    assert x.shape == (4, 16 + 64) and x.dtype == torch.int64 and 0 <= x.min() and x.max() < 256
    assert len(set(x[0].tolist())) > 20  # a waveform, not a constant


def test_training_lowers_the_nll():
    torch.manual_seed(0)
    task = zoo.get_task("samplernn/waves", train=16, val=4, test=4, length=64)
    model = zoo.create("samplernn", task=task, frame_sizes=[8, 2], dim=32, embedding_dim=8, seq_len=32)
    before = zoo.evaluate(model, task, split="val")["bits_per_sample"]
    zoo.train(model, task, optimizer="adam", lr=1e-2, batch_size=8, epochs=4, eval_splits=[], final_splits=[])
    after = zoo.evaluate(model, task, split="val")["bits_per_sample"]
    assert before > 7.5 and after < before - 0.3


def test_bad_input_and_config():
    model = zoo.create("samplernn", **SMALL)
    with pytest.raises(TypeError, match="integer sample levels"):
        model(torch.randn(2, 24))
    with pytest.raises(ValueError, match="batch, samples"):
        model(torch.zeros(2, 3, 24, dtype=torch.long))
    with pytest.raises(ValueError, match="multiple of 8"):
        model(torch.zeros(2, 8 + 5, dtype=torch.long))
    with pytest.raises(ValueError, match="0..15"):
        model(torch.full((2, 24), 16, dtype=torch.long))
    with pytest.raises(ValueError, match="multiple of the one below"):
        zoo.create("samplernn", frame_sizes=[8, 3], **SMALL)
    for bad in ({"dim": 0}, {"q_levels": 1}, {"quantization": "log"}, {"frame_sizes": []}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("samplernn", **bad)
