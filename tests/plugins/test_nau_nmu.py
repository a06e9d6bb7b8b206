"""nau-nmu: conformance of the three stacks, the NAU, NMU and NALU against their formulas, clamping and
R_sparse, the regulariser's warm-up, the exact solution of the arithmetic task, bad input, and training."""

import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.nau_nmu.model import NALU, NAU, NMU, sparsity_weight


def test_conforms_every_stack():
    assert_conforms("nau-nmu", in_features=10)
    assert_conforms("nau-nmu", variant="addition", in_features=10)
    assert_conforms("nau-nmu", variant="nalu", in_features=10, hidden_features=3)


def test_nau_is_a_linear_map_and_clamps_to_minus_one_one():
    torch.manual_seed(0)
    nau = NAU(6, 3)
    x = torch.randn(4, 6)
    torch.testing.assert_close(nau(x), x @ nau.weight.T)
    with torch.no_grad():
        nau.weight.mul_(10)
    nau.clamp_()
    assert nau.weight.min() >= -1 and nau.weight.max() <= 1
    with torch.no_grad():
        nau.weight.copy_(torch.tensor([[-1.0, 0.0, 1.0, 0.5, -0.25, 1.0]] * 3))
    # min(|w|, 1 - |w|): 0 at -1, 0, 1; 0.5 at 0.5; 0.25 at -0.25 -> mean 0.75 / 6
    assert nau.sparsity().item() == pytest.approx(0.75 / 6)


def test_nmu_multiplies_the_gated_inputs():
    torch.manual_seed(0)
    nmu = NMU(4, 2)
    with torch.no_grad():
        nmu.weight.copy_(torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 1.0, 1.0]]))
    x = torch.tensor([[2.0, 3.0, 5.0, 7.0]])
    torch.testing.assert_close(nmu(x), torch.tensor([[6.0, 105.0]]))
    nmu.reset_parameters()
    w, x = nmu.weight, torch.rand(3, 4) + 1
    expected = torch.stack([torch.stack([torch.prod(w[j] * x[b] + 1 - w[j]) for j in range(2)]) for b in range(3)])
    torch.testing.assert_close(nmu(x), expected)
    with torch.no_grad():
        nmu.weight.sub_(2.0)
    nmu.clamp_()
    assert nmu.weight.min() >= 0 and nmu.weight.max() <= 1


def test_initialisations_follow_the_paper():
    torch.manual_seed(0)
    nau = NAU(100, 2)
    r = min(0.5, (3 * 2 / 102) ** 0.5)
    assert nau.weight.abs().max() <= r and abs(nau.weight.mean()) < 0.05
    assert nau.weight.var().item() == pytest.approx(2 / 102, rel=0.25)
    nmu = NMU(100, 2)
    assert nmu.weight.min() >= 0.25 and nmu.weight.max() <= 0.75 and abs(nmu.weight.mean() - 0.5) < 0.05


def test_nalu_matches_trask_et_al():
    torch.manual_seed(0)
    nalu = NALU(3, 2)
    x = torch.rand(5, 3) + 0.5
    w = torch.tanh(nalu.w_hat) * torch.sigmoid(nalu.m_hat)
    g = torch.sigmoid(x @ nalu.gate.T)
    expected = g * (x @ w.T) + (1 - g) * torch.exp(torch.log(x.abs() + 1e-7) @ w.T)
    torch.testing.assert_close(nalu(x), expected)


def test_sparsity_weight_warms_up_linearly():
    assert sparsity_weight(0, 10.0, 100, 200) == 0.0
    assert sparsity_weight(100, 10.0, 100, 200) == 0.0
    assert sparsity_weight(150, 10.0, 100, 200) == pytest.approx(5.0)
    assert sparsity_weight(10_000, 10.0, 100, 200) == 10.0


@pytest.mark.parametrize("operation, variant", [("add", "addition"), ("sub", "addition"), ("mul", "default")])
def test_exact_weights_extrapolate_below_the_threshold(operation, variant):
    task = zoo.get_task(f"nau-nmu/arithmetic-{operation}", seed=3, test_size=500)
    model = zoo.create("nau-nmu", variant=variant, task=task)
    first, second = task.exact_weights()
    with torch.no_grad():
        model.first.weight.copy_(first)
        model.second.weight.copy_(second)
    x, y = task.splits()["test"].tensors
    assert x.min() >= 2 and x.max() <= 6
    mse = torch.mean((model(x).double() - y.double()) ** 2).item()
    threshold = task.success_threshold(x)
    assert mse < threshold
    # and a weight off by 0.01 is far above it
    with torch.no_grad():
        model.first.weight[0, 0] += 0.01 if first[0, 0] == 0 else -0.01
    assert torch.mean((model(x).double() - y.double()) ** 2).item() > 10 * threshold


def test_task_subsets_overlap_by_half():
    task = zoo.get_task("nau-nmu/arithmetic-sub", seed=1)
    a, b = task.a_slice, task.b_slice
    assert a.stop - a.start == 25 and b.stop - b.start == 25
    assert len(set(range(a.start, a.stop)) & set(range(b.start, b.stop))) == round(0.5 * 25)  # 12
    x, y = task.splits()["train"][:5]
    torch.testing.assert_close(y[:, 0], x[:, a].sum(1) - x[:, b].sum(1))


def test_bad_input_and_config():
    model = zoo.create("nau-nmu", in_features=10)
    with pytest.raises(ValueError, match=r"\(batch, 10\)"):
        model(torch.rand(4, 11))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(4, 10, dtype=torch.long))
    for bad in ({"first": "nmu"}, {"sparsity_start": 10, "sparsity_end": 5}, {"hidden_features": 0},
                {"sparsity_scale": -1.0}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("nau-nmu", **bad)
    with pytest.raises(ValueError, match="operation"):
        from zoo_plugins.nau_nmu.task import ArithmeticTask

        ArithmeticTask("div")


def test_training_lowers_the_extrapolation_error_and_keeps_weights_clamped():
    task = zoo.get_task("nau-nmu/arithmetic-add", input_size=10, train_size=2048, test_size=512)
    torch.manual_seed(0)
    model = zoo.create("nau-nmu", variant="addition", task=task, sparsity_start=100, sparsity_end=200)
    before = zoo.evaluate(model, task, split="test")["mse"]
    zoo.train(model, task, epochs=2, batch_size=32, lr=1e-2, eval_splits=[], final_splits=[])
    assert zoo.evaluate(model, task, split="test")["mse"] < 0.5 * before
    assert model.first.weight.abs().max() <= 1 and model.second.weight.abs().max() <= 1
