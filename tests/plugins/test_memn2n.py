"""memn2n: conformance of each tying/encoding option, bad input, the equations, generated tasks,
and a few training steps."""

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


@pytest.mark.parametrize("overrides", [{}, {"weight_tying": "layer-wise", "temporal_encoding": False},
                                       {"hops": 1, "position_encoding": False}])
def test_conforms(overrides):
    assert_conforms("memn2n", **overrides)


def test_bad_config_rejected_at_create():
    with pytest.raises(ConfigError, match="hops"):
        zoo.create("memn2n", hops=0)
    with pytest.raises(ConfigError, match="weight_tying"):
        zoo.create("memn2n", weight_tying="none")


def test_bad_input_names_expected_shape():
    model = zoo.create("memn2n", vocab_size=10, memory_size=4)
    with pytest.raises(ValueError, match=r"\(batch, sentences, words\)"):
        model(torch.ones(2, 5, dtype=torch.long), torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="int64"):
        model(torch.ones(2, 3, 5), torch.ones(2, 3))
    with pytest.raises(ValueError, match="memory_size is 4"):
        model(torch.ones(2, 6, 5, dtype=torch.long), torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        model(torch.full((2, 3, 5), 12), torch.ones(2, 3, dtype=torch.long))


def test_position_encoding_formula():
    from zoo_plugins.memn2n.model import position_encoding

    pe = position_encoding(4, 3)
    j, k, J, d = 2, 3, 4, 3  # 1-based word j, dimension k
    assert pe[j - 1, k - 1].item() == pytest.approx((1 - j / J) - (k / d) * (1 - 2 * j / J))


def test_adjacent_tying_uses_k_plus_one_matrices_and_single_hop_is_eq_1_to_3():
    model = zoo.create("memn2n", vocab_size=12, hops=1, embedding_dim=5, position_encoding=False,
                       temporal_encoding=False)
    assert len(model.embeddings) == 2
    story = torch.tensor([[[3, 4, 0], [5, 6, 7]]])
    query = torch.tensor([[8, 9]])
    a, c = model.embeddings[0].weight, model.embeddings[1].weight
    u = a[8] + a[9]                      # B = A^1
    m = torch.stack([a[3] + a[4], a[5] + a[6] + a[7]])
    out = torch.stack([c[3] + c[4], c[5] + c[6] + c[7]])
    p = torch.softmax(m @ u, 0)
    expected = (u + p @ out) @ c.T        # W^T = C^K
    assert torch.allclose(model(story, query)[0], expected, atol=1e-6)


def test_padding_slots_get_no_attention():
    model = zoo.create("memn2n", vocab_size=12, memory_size=6)
    story = torch.randint(1, 12, (2, 6, 4))
    story[:, 3:] = 0
    _, probs = model.attention(story, torch.randint(1, 12, (2, 3)))
    assert all(torch.equal(p[:, 3:], torch.zeros(2, 3)) for p in probs)
    assert torch.allclose(model(story, story[:, 0, :3]), model(story[:, :3], story[:, 0, :3]), atol=1e-6)


def test_generated_tasks_are_answerable_and_deterministic():
    from zoo_plugins.memn2n.task import PLACES, VOCABULARY

    for qa in (1, 2, 3):
        task = zoo.get_task(f"memn2n/babi-qa{qa}", train_size=50, test_size=20)
        again = zoo.get_task(f"memn2n/babi-qa{qa}", train_size=50, test_size=20)
        story, query, answer = task.splits()["test"].tensors
        assert torch.equal(story, again.splits()["test"].tensors[0])
        assert {VOCABULARY[int(a)] for a in answer} <= set(PLACES)
        # the answer word appears in the story (its supporting facts are there)
        assert all((s == a).any() for s, a in zip(story, answer))


def test_a_few_training_steps_lower_the_loss():
    torch.manual_seed(0)
    task = zoo.get_task("memn2n/babi-qa1", train_size=200, test_size=10, memory_size=10)
    model = zoo.create("memn2n", task=task)
    batch = task.splits()["train"].tensors
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        loss = task.loss(model(*task.inputs(batch)), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_linear_start_removes_the_memory_softmax_then_the_callback_restores_it():
    from types import SimpleNamespace

    from zoo_plugins.memn2n.model import LinearStart

    model = zoo.create("memn2n", vocab_size=12, memory_size=4, hops=1, temporal_encoding=False)
    story, query = torch.randint(1, 12, (2, 4, 3)), torch.randint(1, 12, (2, 3))
    story[:, 3] = 0
    callback = LinearStart(2)
    run = SimpleNamespace(model=model, epoch=0)
    callback.zoo_train_start(run)
    _, (p,) = model.attention(story, query)
    assert not torch.allclose(p.sum(-1), torch.ones(2)) and (p[:, 3] == 0).all()  # raw scores, padding off
    for epoch in (0, 1):
        run.epoch = epoch
        callback.zoo_train_epoch_end(run, {})
        assert model.linear_start == (epoch == 0)
    _, (p,) = model.attention(story, query)
    assert torch.allclose(p.sum(-1), torch.ones(2))
