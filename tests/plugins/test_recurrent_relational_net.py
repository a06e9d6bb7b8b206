"""recurrent-relational-net: conformance, the constraint graph, one step against Eq. 1-4 written
densely, the per-step loss, the generated puzzles, bad input, and a short training run."""

import numpy as np
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


SMALL = {"box_size": 2, "hidden_dim": 8, "embedding_dim": 4, "steps": 3}


@pytest.mark.parametrize("overrides", [{}, {"steps": 1, "mlp_layers": 1}])
def test_conforms(overrides):
    assert_conforms("recurrent-relational-net", **{**SMALL, **overrides})


def test_variants_build():
    model = zoo.create("recurrent-relational-net", variant="4x4")
    assert model.cells == 16 and model.config.hidden_dim == 96 and model.config.steps == 8
    assert zoo.create("recurrent-relational-net").cells == 81  # the paper's 9x9 by default


def test_bad_config_and_input():
    with pytest.raises(ConfigError, match="steps"):
        zoo.create("recurrent-relational-net", steps=0)
    with pytest.raises(ConfigError, match="box_size"):
        zoo.create("recurrent-relational-net", box_size=1)
    model = zoo.create("recurrent-relational-net", **SMALL)
    with pytest.raises(ValueError, match=r"\(batch, 16\)"):
        model(torch.zeros(2, 81, dtype=torch.long))
    with pytest.raises(TypeError, match="int64"):
        model(torch.zeros(2, 16))
    with pytest.raises(ValueError, match=r"\[0, 4\]"):
        model(torch.full((2, 16), 5))
    with pytest.raises(ValueError, match="steps"):
        model(torch.zeros(2, 16, dtype=torch.long), steps=0)


def test_constraint_graph_has_the_sudoku_neighbours():
    from zoo_plugins.recurrent_relational_net.model import sudoku_edges

    for box, neighbours in ((2, 7), (3, 20)):
        edges = sudoku_edges(box)
        n = box ** 4
        assert edges.shape[1] == n * neighbours
        assert torch.equal(torch.bincount(edges[1], minlength=n), torch.full((n,), neighbours))
        pairs = set(map(tuple, edges.T.tolist()))
        assert all((j, i) in pairs for i, j in pairs) and not any(i == j for i, j in pairs)
    pairs = set(map(tuple, sudoku_edges(2).T.tolist()))
    assert (0, 5) in pairs and (0, 6) not in pairs  # cell (0,0) and (1,1) share a box; (1,2) does not


def test_one_step_equals_eq_1_to_4_written_densely():
    """m_j = sum over all i with adjacency A_ij of f(h_i, h_j); h_j = LSTM(h_j, [x_j, m_j]); o_j = r(h_j)."""
    torch.manual_seed(0)
    model = zoo.create("recurrent-relational-net", **SMALL)
    puzzle = torch.randint(0, 5, (2, 16))
    x = model.node_inputs(puzzle)
    adjacency = torch.zeros(16, 16)
    adjacency[model.senders, model.receivers] = 1.0
    pairs = torch.cat([x.unsqueeze(2).expand(-1, -1, 16, -1), x.unsqueeze(1).expand(-1, 16, -1, -1)], -1)  # [i, j]
    m = (model.message(pairs) * adjacency[None, :, :, None]).sum(1)
    h, _ = model.update(torch.cat([x, m], -1).reshape(-1, 16), (x.reshape(-1, 8), torch.zeros(32, 8)))
    expected = model.readout(h).view(2, 16, 4)
    assert torch.allclose(model.step_logits(puzzle, 1)[0], expected, atol=1e-5)
    # more steps only extend the sequence of outputs: step t is the same however many steps run
    assert torch.allclose(model.step_logits(puzzle, 3)[:2], model.step_logits(puzzle, 2), atol=1e-6)


def test_loss_is_the_mean_of_every_steps_cross_entropy():
    torch.manual_seed(0)
    model = zoo.create("recurrent-relational-net", **SMALL)
    puzzle, solution = torch.randint(0, 5, (3, 16)), torch.randint(0, 4, (3, 16))
    logits = model.step_logits(puzzle, 3)
    each = [torch.nn.functional.cross_entropy(logits[t].reshape(-1, 4), solution.reshape(-1)) for t in range(3)]
    assert torch.allclose(model.step_loss(puzzle, solution, 3), torch.stack(each).mean(), atol=1e-6)


def test_generated_puzzles_have_unique_solutions():
    from zoo_plugins.recurrent_relational_net.task import all_grids, generate_puzzles, is_valid_grid

    grids = all_grids()
    assert grids.shape == (288, 16) and all(is_valid_grid(g, 2) for g in grids[:20])
    puzzles, solutions = generate_puzzles(100, seed=3)
    again, _ = generate_puzzles(100, seed=3)
    assert np.array_equal(puzzles, again)
    givens = (puzzles > 0).sum(1)
    assert givens.min() >= 4 and givens.max() <= 10 and (givens == 4).any()
    for p, s in zip(puzzles, solutions):
        fits = ((grids == p) | (p == 0)).all(1)
        assert fits.sum() == 1 and np.array_equal(grids[fits][0], s)


def test_trains_through_zoo_train():
    task = zoo.get_task("recurrent-relational-net/sudoku-4x4", train_size=256, val_size=32, test_size=64)
    torch.manual_seed(0)
    model = zoo.create("recurrent-relational-net", task=task, hidden_dim=32, steps=4)
    before = zoo.evaluate(model, task, split="test")["accuracy"]
    result = zoo.train(model, task, epochs=3, batch_size=32, lr=3e-3, optimizer="adam", seed=0,
                       progress=False, eval_every=3, final_splits=["test"])
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.final["test_accuracy"] > before + 0.1
