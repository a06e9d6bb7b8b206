"""film: conformance, the FiLM layer and generator, the sort-of-clevr task, bad input, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zoo
from zoo.errors import ConfigError
from zoo.testing import assert_conforms
from zoo_plugins.film.model import FiLM, coordinate_maps
from zoo_plugins.film.task import ANSWERS, QUESTION_TYPES, QUESTIONS, RELATIONAL, VOCAB, _answers, generate


@pytest.fixture(autouse=True)
def _one_thread():
    """The cores are shared: one intra-op thread avoids oversubscription stalls."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _small(**overrides):
    torch.manual_seed(0)
    return zoo.create("film", variant="sort-of-clevr", **overrides)


def test_sort_of_clevr_variant_conforms():
    assert_conforms("film", **zoo.resolve_config("film", variant="sort-of-clevr")[2].to_dict())


@pytest.mark.slow
def test_default_variant_conforms():
    assert_conforms("film")


def test_film_layer_is_a_per_channel_affine_map():
    x = torch.randn(2, 3, 4, 5)
    gamma, beta = torch.randn(2, 3), torch.randn(2, 3)
    out = FiLM()(x, gamma, beta)
    torch.testing.assert_close(out[1, 2], gamma[1, 2] * x[1, 2] + beta[1, 2])


def test_a_zero_generator_leaves_the_network_unmodulated():
    model = _small()
    with torch.no_grad():
        model.film_generator.weight.zero_()
        model.film_generator.bias.zero_()
    gamma, beta = model.film_parameters(torch.tensor([[1, 3, 9], [2, 6, 10]]))
    assert torch.all(gamma == 1) and torch.all(beta == 0)  # gamma = 1 + delta-gamma
    model.eval()
    image = torch.rand(1, 3, 16, 16).expand(2, -1, -1, -1)
    out = model(image, torch.tensor([[1, 3, 9], [2, 6, 10]]))
    torch.testing.assert_close(out[0], out[1])  # the question no longer matters


def test_the_question_changes_the_answer_through_film_only():
    model = _small().eval()
    image = torch.rand(1, 3, 16, 16).expand(2, -1, -1, -1)
    out = model(image, torch.tensor([[1, 3, 9], [2, 6, 10]]))
    assert not torch.allclose(out[0], out[1])


def test_question_embedding_reads_up_to_the_last_real_token():
    model = _small().eval()
    encoder = model.question_encoder
    short = encoder(torch.tensor([[2, 6, 9]]))
    padded = encoder(torch.tensor([[2, 6, 9, 0, 0]]))
    torch.testing.assert_close(short, padded)


def test_coordinate_maps_span_minus_one_to_one():
    maps = coordinate_maps(torch.zeros(2, 5, 3, 4))
    assert maps.shape == (2, 2, 3, 4)
    torch.testing.assert_close(maps[0, 0, 0], torch.linspace(-1, 1, 4))  # x along the width
    torch.testing.assert_close(maps[0, 1, :, 0], torch.linspace(-1, 1, 3))  # y along the height


def test_answers_of_a_hand_made_scene():
    # red at the top left, green just right of it, the other four far down-right
    centres = np.array([[2, 2], [2, 6], [12, 12], [12, 8], [8, 12], [13, 3]])
    shapes = np.array([1, 0, 0, 1, 1, 0])  # red square, green circle, ...
    d2 = ((centres[:, None] - centres[None]) ** 2).sum(-1).astype(float)
    np.fill_diagonal(d2, np.nan)
    answers = _answers(centres, d2, shapes, size=16).reshape(len(QUESTION_TYPES), 6)
    words = [[ANSWERS[a] for a in row] for row in answers]
    assert words[0][0] == "square" and words[1][0] == "left" and words[2][0] == "top"
    assert words[3][0] == "circle"  # closest to red: green, a circle
    assert words[4][0] == "circle"  # furthest from red: blue at (12, 12), a circle
    assert words[5][0] == "3" and words[5][1] == "3"  # three squares, three circles


def test_task_is_deterministic_and_split_by_question_kind():
    first = generate(20, 16, seed=3)
    second = generate(20, 16, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    task = zoo.get_task("sort-of-clevr", n_train=4, n_val=2, n_test=2, questions="relational")
    train = task.splits()["train"]
    assert len(train) == 4 * 18
    images, questions, answers = train[torch.arange(len(train))]
    assert all(VOCAB[q] == "relational" for q in questions[:, 0].tolist())
    assert task.info.extra["vocab_size"] == len(VOCAB) and task.info.num_classes == len(ANSWERS)
    assert int(RELATIONAL.sum()) == 18 and QUESTIONS.shape == (36, 3)


def test_bad_task_options_are_refused():
    with pytest.raises(ValueError, match="questions"):
        zoo.get_task("sort-of-clevr", questions="spatial")
    with pytest.raises(ValueError, match="image_size"):
        zoo.get_task("sort-of-clevr", image_size=8)


def test_wrong_inputs_name_the_expected_shape():
    model = _small()
    q = torch.tensor([[1, 3, 9]])
    with pytest.raises(ValueError, match=r"\(batch, 3, H, W\)"):
        model(torch.rand(1, 1, 16, 16), q)
    with pytest.raises(TypeError, match=r"\(batch, 3, H, W\).*uint8"):
        model(torch.zeros(1, 3, 16, 16, dtype=torch.uint8), q)
    with pytest.raises(TypeError, match=r"int64 token ids of shape \(batch, T\)"):
        model(torch.rand(1, 3, 16, 16), q.float())
    with pytest.raises(ValueError, match=r"\(2, T\) for 2 images"):
        model(torch.rand(2, 3, 16, 16), q)
    with pytest.raises(ValueError, match=r"\[0, 15\)"):
        model(torch.rand(1, 3, 16, 16), torch.tensor([[1, 3, 99]]))


@pytest.mark.parametrize("bad", [{"rnn_dim": 0}, {"num_blocks": 0}, {"vocab_size": 1}, {"stem_stride": 0},
                                 {"gru_dim": 64}])
def test_out_of_range_configs_are_refused_at_create(bad):
    with pytest.raises(ConfigError):
        zoo.create("film", variant="sort-of-clevr", **bad)


def test_sized_from_the_task_and_a_few_steps_lower_the_loss():
    task = zoo.get_task("sort-of-clevr", n_train=60, n_val=10, n_test=10)
    model = _small(**zoo.model_spec("film").from_task({}, task.info))
    assert (model.config.vocab_size, model.config.num_answers) == (len(VOCAB), len(ANSWERS))
    before = zoo.evaluate(model, task, split="train")["loss"]
    zoo.train(model, task, epochs=3, batch_size=64, lr=2e-3, progress=False)
    after = zoo.evaluate(model, task, split="train")["loss"]
    assert after < 0.85 * before
