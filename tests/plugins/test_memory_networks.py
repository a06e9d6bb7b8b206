"""memory-networks: conformance, the scoring functions against their equations, O's retrieval
loop, the supporting facts of the generated tasks, bad input, and a short training run."""

import random

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


SMALL = {"vocab_size": 12, "memory_size": 6, "embedding_dim": 8}


@pytest.mark.parametrize("overrides", [{}, {"hops": 1}, {"hops": 3}, {"time_features": False}])
def test_conforms(overrides):
    assert_conforms("memory-networks", **SMALL, **overrides)


def test_bad_config_rejected_at_create():
    with pytest.raises(ConfigError, match="hops"):
        zoo.create("memory-networks", hops=0)
    with pytest.raises(ConfigError, match="margin"):
        zoo.create("memory-networks", margin=-1.0)


def test_bad_input_names_expected_shape():
    model = zoo.create("memory-networks", **SMALL)
    with pytest.raises(ValueError, match=r"\(batch, sentences, words\)"):
        model(torch.ones(2, 5, dtype=torch.long), torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="int64"):
        model(torch.ones(2, 3, 5), torch.ones(2, 3))
    with pytest.raises(ValueError, match="memory_size is 6"):
        model(torch.ones(2, 7, 5, dtype=torch.long), torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 12\)"):
        model(torch.full((2, 3, 5), 12), torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="facts"):
        model.ranking_loss(torch.ones(2, 3, 5, dtype=torch.long), torch.ones(2, 3, dtype=torch.long),
                           torch.ones(2, dtype=torch.long), torch.ones(2, dtype=torch.long))


def test_s_o_is_the_bilinear_form_of_eq_4_and_o_is_its_argmax():
    """Without time features s_O(x, m) = Phi_x(x)^T U_O^T U_O Phi_y(m) and o_1 = argmax_i s_O (Eq. 2)."""
    model = zoo.create("memory-networks", **SMALL, hops=1, time_features=False)
    story = torch.tensor([[[3, 4, 0], [5, 6, 7], [3, 3, 8], [0, 0, 0]]])
    query = torch.tensor([[9, 4]])
    x = model.o_query.weight[9] + model.o_query.weight[4]
    y = model.o_memory.weight
    s_o = torch.stack([x @ (y[3] + y[4]), x @ (y[5] + y[6] + y[7]), x @ (2 * y[3] + y[8])])
    assert model.retrieve(story, query).item() == int(s_o.argmax())
    # R (Eq. 5): s_R([x, m_o1], w) with U_R's question, supporting-memory and answer columns
    o1 = int(s_o.argmax())
    support = model.r_support(story[0, o1]) * (story[0, o1] != 0).unsqueeze(-1)
    context = model.r_query.weight[9] + model.r_query.weight[4] + support.sum(0)
    assert torch.allclose(model(story, query)[0], context @ model.r_answer.weight.T, atol=1e-5)


def test_time_features_pick_the_newest_of_identical_sentences():
    """s_Ot with a negative 'y older than y_prime' weight prefers the newer of two same-word memories, and
    the running-winner loop then returns the newest."""
    model = zoo.create("memory-networks", **SMALL, hops=1)
    with torch.no_grad():
        model.o_time.zero_()
        model.o_time[2] = -5.0 * model.o_query.weight[9] / model.o_query.weight[9].norm() ** 2
    story = torch.tensor([[[3, 4], [3, 4], [3, 4], [0, 0]]])
    scores = model.pair_scores(model.o_query.weight[9].unsqueeze(0), model._memories(story)[0],
                               torch.tensor([4.0]))
    assert torch.allclose(scores[0, 2, 0], torch.tensor(5.0), atol=1e-4)   # y newer than y': +5
    assert torch.allclose(scores[0, 0, 2], torch.tensor(-5.0), atol=1e-4)  # y older than y': -5
    assert model.retrieve(story, torch.tensor([[9]])).item() == 2


def test_ranking_loss_is_zero_exactly_when_every_margin_holds():
    """Eq. 6-8: hinge terms vanish once the true fact and answer beat every negative by gamma."""
    model = zoo.create("memory-networks", **SMALL, hops=1, time_features=False, margin=0.1)
    story = torch.tensor([[[3, 0], [5, 0]]])
    query, answer, facts = torch.tensor([[9]]), torch.tensor([7]), torch.tensor([[1]])
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.o_query.weight[9, 0] = 1.0
        model.o_memory.weight[5, 0] = 1.0            # s_O(x, m_1) = 1, s_O(x, m_0) = 0
        model.r_query.weight[9, 1] = 1.0
        model.r_answer.weight[7, 1] = 1.0            # s_R(answer) = 1, every other word 0
    assert model.ranking_loss(story, query, answer, facts).item() == 0.0
    with torch.no_grad():
        model.o_memory.weight[5, 0] = 0.05           # margin violated by 0.05 on one negative
    assert model.ranking_loss(story, query, answer, facts).item() == pytest.approx(0.05, abs=1e-6)


def test_supporting_facts_lead_to_the_answer_and_data_matches_memn2n():
    from zoo_plugins.memn2n.task import generate_story
    from zoo_plugins.memory_networks.task import supporting_facts

    for qa in (1, 2, 3):
        rng = random.Random(qa)
        for _ in range(300):
            story, question, answer = generate_story(qa, rng)
            facts = supporting_facts(qa, story, question)
            assert len(facts) == qa
            assert story[facts[-1]][-1] == answer  # the last fact names the answer's place
    ours = zoo.get_task("memory-networks/babi-qa2", train_size=50, test_size=20).splits()["test"]
    theirs = zoo.get_task("memn2n/babi-qa2", train_size=50, test_size=20).splits()["test"]
    a, b = ours[list(range(20))], theirs[list(range(20))]
    assert all(torch.equal(x, y) for x, y in zip(a[:3], b))
    assert a[3].shape == (20, 2) and int(a[3].min()) >= -1


def test_trains_through_zoo_train_and_retrieves_the_fact():
    task = zoo.get_task("memory-networks/babi-qa1", train_size=300, test_size=100)
    torch.manual_seed(0)
    model = zoo.create("memory-networks", task=task)
    before = zoo.evaluate(model, task, split="test")["accuracy"]
    result = zoo.train(model, task, epochs=2, batch_size=32, lr=0.005, seed=0, progress=False,
                       eval_every=2, final_splits=["test"])
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.final["test_accuracy"] > before + 0.3
