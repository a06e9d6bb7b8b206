"""Tests of the ot-model-fusion method: OT alignment recovers permutations, fusion and its refusals."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.training.method import MethodMismatchError
from zoo_plugins.ot_model_fusion.method import align, average, chain_layers, fuse, training_inputs


def mlp(seed: int = 0, bias: bool = True, norm: bool = False) -> nn.Module:
    torch.manual_seed(seed)
    layers = [nn.Flatten(), nn.Linear(64, 24, bias=bias)]
    layers += [nn.BatchNorm1d(24)] if norm else []
    layers += [nn.ReLU(), nn.Linear(24, 16, bias=bias), nn.ReLU(), nn.Linear(16, 10, bias=bias)]
    model = nn.Sequential(*layers)
    if norm:  # statistics away from their defaults, so that moving them matters
        with torch.no_grad():
            model[2].running_mean.normal_()
            model[2].running_var.uniform_(0.5, 2)
            model[2].weight.normal_()
    return model.eval()


def small_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 5, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(5 * 4 * 4, 12), nn.ReLU(), nn.Linear(12, 10)).eval()


@torch.no_grad()
def permuted_copy(model: nn.Module, seed: int = 1) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    """The same function with every hidden layer's neurons shuffled (and the next layer's inputs with
    them): the case where OT alignment must find the permutation exactly."""
    import copy

    other = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    modules = dict(other.named_modules())
    layers = list(chain_layers(other))
    perms, previous = {}, None
    for index, name in enumerate(layers):
        layer = modules[name]
        if previous is not None:
            reads = layer.weight.shape[1] // previous.numel()
            columns = (previous[:, None] * reads + torch.arange(reads)).flatten()
            layer.weight.copy_(layer.weight[:, columns])
        if index == len(layers) - 1:
            break
        perm = torch.randperm(layer.weight.shape[0], generator=generator)
        layer.weight.copy_(layer.weight[perm])
        if layer.bias is not None:
            layer.bias.copy_(layer.bias[perm])
        position = list(modules).index(name)
        follower = modules[list(modules)[position + 1]] if position + 1 < len(modules) else None
        if isinstance(follower, nn.BatchNorm1d):
            for key in ("weight", "bias", "running_mean", "running_var"):
                getattr(follower, key).copy_(getattr(follower, key)[perm])
        perms[name], previous = perm, perm
    return other, perms


def digits_inputs(count: int = 32) -> tuple:
    return training_inputs("digits", count, seed=0)


# --- the functional core --------------------------------------------------------------------------------


@pytest.mark.parametrize("alignment", ["weights", "activations"])
@pytest.mark.parametrize("make", [mlp, small_cnn, lambda: mlp(norm=True)], ids=["mlp", "cnn-flatten-linear", "mlp-bn"])
def test_alignment_undoes_a_permutation_of_the_neurons(make, alignment):
    model = make()
    other, perms = permuted_copy(model)
    inputs = digits_inputs()
    state, plans = align(model, other, alignment=alignment, inputs=inputs)
    for name, perm in perms.items():
        plan = plans[name]
        n = plan.shape[0]
        # other's neuron i is the model's neuron perm[i]: T[i, perm[i]] = 1/n, zero elsewhere
        assert torch.equal((plan * n).round(), torch.zeros(n, n, dtype=plan.dtype).index_put_(
            (torch.arange(n), perm), torch.tensor(1.0, dtype=plan.dtype))), name
    for key, value in model.state_dict().items():
        assert torch.allclose(state[key].float(), value.float(), atol=1e-6), key
    fused, _ = fuse([model, other], alignment=alignment, inputs=inputs)
    for key, value in model.state_dict().items():
        assert torch.allclose(fused.state_dict()[key].float(), value.float(), atol=1e-6), key
    # vanilla averaging of the same two models is not the model: the permutation is what it misses
    assert not torch.allclose(average([model, other])(inputs[0]), model(inputs[0]), atol=1e-3)


def test_aligned_model_computes_its_own_function_and_fusion_averages_with_the_given_share():
    a, b = mlp(0), mlp(1)
    inputs = digits_inputs()
    state, plans = align(a, b, alignment="weights")
    moved = mlp(2)
    moved.load_state_dict(state)
    assert torch.allclose(moved(inputs[0]), b(inputs[0]), atol=1e-5)
    assert set(plans) == {"1", "3"}  # the hidden layers; the output layer is not transported
    for plan in plans.values():  # uniform marginals
        assert torch.allclose(plan.sum(1), torch.full((plan.shape[0],), 1 / plan.shape[0], dtype=plan.dtype))
        assert torch.allclose(plan.sum(0), torch.full((plan.shape[1],), 1 / plan.shape[1], dtype=plan.dtype))
    fused, _ = fuse([a, b], weight=0.25, inputs=inputs)
    expected = 0.75 * a.state_dict()["3.weight"].double() + 0.25 * state["3.weight"].double()
    assert torch.allclose(fused.state_dict()["3.weight"].double(), expected, atol=1e-6)


def test_fusing_a_model_with_itself_returns_it():
    a = small_cnn(3)
    fused, plans = fuse([a, a], inputs=digits_inputs())
    for key, value in a.state_dict().items():
        assert torch.allclose(fused.state_dict()[key], value, atol=1e-6)


# --- through the zoo ------------------------------------------------------------------------------------


def nin(seed: int):
    torch.manual_seed(seed)
    return zoo.create("network-in-network", variant="digits", task="digits").eval()


def test_run_fuses_a_catalog_conv_net_and_the_result_saves_and_loads(tmp_path):
    a, b = nin(0), nin(1)
    before = {k: v.clone() for k, v in a.state_dict().items()}
    method = zoo.method("ot-model-fusion", other=b, samples=16)
    result = method.run(a, "digits")
    assert set(result.final) >= {"accuracy"}
    assert all(torch.equal(before[k], v) for k, v in a.state_dict().items())  # the anchor is left as it was
    assert len(result.plans) == len(chain_layers(a)) - 1
    x = digits_inputs(8)[0]
    zoo.save(result.model, tmp_path / "fused")
    loaded = zoo.load(tmp_path / "fused").eval()
    assert torch.allclose(loaded(x), result.model.eval()(x), atol=1e-6)
    # the permuted copy of the catalog model fuses back into it
    other, _ = permuted_copy(a)
    fused = zoo.method("ot-model-fusion", other=other, samples=16).run(a, "digits").model
    assert torch.allclose(fused(x), a(x), atol=1e-4)


def test_run_fuses_a_plain_module_and_fine_tunes_it_resumably(tmp_path):
    a, b = mlp(0), mlp(1)
    options = dict(batch_size=64, progress=False, device="cpu", seed=0, eval_splits=[], final_splits=[])
    method = zoo.method("ot-model-fusion", other=b, finetune_epochs=1, samples=16)
    first = method.run(a, "digits", out_dir=tmp_path / "run", **options)
    assert first.finetune.steps > 0
    assert not torch.equal(first.model.state_dict()["1.weight"], fuse([a, b], inputs=digits_inputs(16))[0]
                           .state_dict()["1.weight"])  # it trained
    again = method.run(a, "digits", out_dir=tmp_path / "run", resume=True, **options)  # finished: not retrained
    for key, value in first.model.state_dict().items():
        assert torch.equal(again.model.state_dict()[key], value), key


# --- refusals -------------------------------------------------------------------------------------------


class Residual(nn.Module):
    def __init__(self, seed: int):
        super().__init__()
        torch.manual_seed(seed)
        self.inp, self.hidden, self.out = nn.Linear(64, 16), nn.Linear(16, 16), nn.Linear(16, 10)

    def forward(self, x):
        h = torch.relu(self.inp(x.flatten(1)))
        return self.out(h + torch.relu(self.hidden(h)))  # a skip connection: not a plain chain


def test_refuses_a_model_with_a_skip_connection():
    with pytest.raises(MethodMismatchError, match="plain chain"):
        zoo.method("ot-model-fusion", other=Residual(1)).run(Residual(0), "digits")


def test_refuses_other_widths_other_layers_and_missing_pieces():
    with pytest.raises(MethodMismatchError, match=r"ot-model-fusion.*same architecture and widths"):
        zoo.method("ot-model-fusion", other=small_cnn()).run(mlp(), "digits")
    with pytest.raises(MethodMismatchError, match="other="):
        zoo.method("ot-model-fusion").run(mlp(), "digits")
    normed = nn.Sequential(nn.Flatten(), nn.Linear(64, 8), nn.LayerNorm(8), nn.Linear(8, 10))
    with pytest.raises(MethodMismatchError, match="LayerNorm"):
        zoo.method("ot-model-fusion", other=normed).run(normed, "digits")


def test_unknown_option_and_use_inside_zoo_train_are_refused():
    with pytest.raises(ConfigError, match="alignment"):
        zoo.method("ot-model-fusion", alignmnt="weights")
    with pytest.raises(ConfigError, match=r"\.run\("):
        zoo.train(mlp(), "digits", methods=[zoo.method("ot-model-fusion", other=mlp(1))], epochs=1, progress=False)
