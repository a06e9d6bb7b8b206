"""Size limits and input checks of zoo.create: the review's cases, the size found before building
(for every catalog model), the max_params limit and its environment variable, allocation failures,
plugins that cannot build on the meta device, default config bounds, and task options."""

from __future__ import annotations

import random
import re
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import zoo
from zoo import Registry
from zoo.config import Config, Field, validate_config
from zoo.errors import ConfigError, PluginError, ResourceError, UnknownNameError
from zoo.limits import (
    DEFAULT_MAX_PARAMS,
    MAX_INT,
    MAX_LIST_LENGTH,
    MAX_PARAMS_ENV,
    count_module,
    max_params_limit,
    meta_build_size,
    model_size,
)

from conftest import run_zoo

# --- the review's cases ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name, config, elements", [
    ("tabm", {"d_in": 1_000_000, "d_block": 65_536}, "74,178,906,176"),  # asked the allocator for 262 GB
    ("kan", {"width": [2, 100_000, 100_000, 1]}, "110,005,700,024"),     # `zoo eval` of such a config.json
    ("tabm", {"d_in": 1_000_000}, "544,688,192"),                       # took 23 s to build
])
def test_oversized_models_are_refused_before_anything_is_allocated(name, config, elements):
    start = time.perf_counter()
    with pytest.raises(ResourceError) as err:
        zoo.create(name, **config)
    assert time.perf_counter() - start < 5
    message = str(err.value)
    assert f"model {name!r}" in message and elements in message and f"{DEFAULT_MAX_PARAMS:,}" in message
    assert all(f"{key}=" in message for key in config), "the message names the values that made it large"
    assert "max_params=N" in message and f"{MAX_PARAMS_ENV}=N" in message, "and says how to raise the limit"


def test_a_width_list_of_ten_million_entries_is_refused_at_once():
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=rf"width has 10,000,000 entries, more than the {MAX_LIST_LENGTH}"):
        zoo.create("kan", width=[1] * 10_000_000)
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("kwargs, error, fragment", [
    ({"variant": 5}, UnknownNameError, "variant=5: expected the name of a variant of 'tabm'"),
    ({"variant": ["default"]}, UnknownNameError, "variant=['default']: expected the name of a variant"),
    ({"task": 5}, ConfigError, "task=5: expected a task name (str), a zoo.tasks.Task"),
    ({"pretrained": "yes"}, ConfigError, "pretrained='yes': expected True or False"),
    ({"d_in": 2**63}, ConfigError, "d_in=9223372036854775808: Input should be less than or equal to"),
    ({"d_block": 2**63}, ConfigError, "d_block=9223372036854775808"),
])
def test_junk_arguments_are_zoo_errors_naming_the_value(kwargs, error, fragment):
    with pytest.raises(error) as err:
        zoo.create("tabm", **kwargs)
    assert fragment in str(err.value)


def test_a_width_of_2_to_the_63_never_reaches_torch():
    with pytest.raises(ConfigError, match=rf"width\[1\]=9223372036854775808 is outside the range \+-{MAX_INT}"):
        zoo.create("kan", width=[2, 2**63, 1])


@pytest.mark.parametrize("name, field", [("kan", "noise_scale"), ("matrixkan", "noise_scale"),
                                         ("s-kan", "noise_scale"), ("xnet", "init_lambda1"),
                                         ("xnet", "init_lambda2")])
def test_init_scales_that_make_the_output_infinite_are_refused(name, field):
    with pytest.raises(ConfigError, match=rf"{field}=1e\+308"):
        zoo.create(name, **{field: 1e308})


@pytest.mark.parametrize("name, field", [("kan", "noise_scale"), ("s-kan", "noise_scale"),
                                         ("xnet", "init_lambda1"), ("xnet", "init_lambda2")])
def test_at_the_largest_allowed_init_scale_outputs_stay_finite(name, field):
    spec = zoo.model_spec(name)
    high = next(m.le for m in spec.config.model_fields[field].metadata if hasattr(m, "le"))
    torch.manual_seed(0)
    model = zoo.create(name, **{field: high})
    with torch.no_grad():
        out = model(*spec.example_inputs(model.zoo_identity.config, 64))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("low_high", [(-1e308, 1e308), (1e10, 1e10 + 1e-3), (-1e39, 0.0)])
def test_grid_ranges_without_distinct_finite_float32_knots_are_refused(low_high):
    with pytest.raises(ConfigError, match="grid_range"):
        zoo.create("kan", grid_range=low_high)


def test_s_kan_relu_supports_are_held_to_what_float32_can_square():
    with pytest.raises(ConfigError, match=r"relu space supports 8e\+11 wide"):
        zoo.create("s-kan", grid_range=(0.0, 1e12))  # its basis was NaN: inf * 0
    spec = zoo.model_spec("s-kan")
    for grid_range in ((0.0, 1e9), (0.0, 2e-9)):  # close to the largest and the smallest support allowed
        model = zoo.create("s-kan", grid_range=grid_range)
        inputs = spec.example_inputs(model.zoo_identity.config, 64)
        with torch.no_grad():
            assert torch.isfinite(model(*inputs)).all(), grid_range


def test_unknown_task_option_is_a_config_error_with_a_suggestion():
    with pytest.raises(ConfigError) as err:
        zoo.get_task("toy/exp-sin", seeed=1)
    assert isinstance(err.value, TypeError), "still the TypeError callers caught before options were checked"
    assert "has no option 'seeed'. Did you mean 'seed'?" in str(err.value)
    assert "Valid options: n_train, n_test, seed" in str(err.value)


def test_cli_task_option_typo_is_reported_without_a_traceback():
    done = run_zoo("train", "kan", "--task", "toy/exp-sin", "--task-option", "seeed=1", "--epochs", "1")
    assert done.returncode != 0
    assert "Did you mean 'seed'?" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


# --- the size found before building ------------------------------------------------------------------------


@pytest.mark.parametrize("name", zoo.list_models())
def test_size_before_building_is_the_built_models_at_the_default_config(name):
    spec = zoo.model_spec(name)
    _, _, cfg = zoo.resolve_config(name)
    predicted = model_size(spec, cfg)
    assert predicted is not None, f"{name} cannot be sized before building"
    built = count_module(spec.build(cfg))
    assert (predicted.elements, predicted.how) == (built.elements, predicted.how)
    if predicted.how == "meta build":
        assert predicted.bytes == built.bytes


def test_every_catalog_variant_and_checkpoint_is_under_the_default_limit():
    for name in zoo.list_models():
        entry = zoo.info(name)
        configs = [zoo.resolve_config(name, variant=v)[2] for v in entry.variants]
        configs += [zoo.resolve_config(f"{name}.{tag}")[2] for tag in entry.weights]
        for cfg in configs:
            size = model_size(zoo.model_spec(name), cfg)
            assert size is not None and size.elements <= DEFAULT_MAX_PARAMS, (name, cfg, size)


SMALL = st.integers(min_value=1, max_value=12)


@pytest.mark.parametrize("name, draw_config", [
    ("kan", lambda d: {"width": d.draw(st.lists(SMALL, min_size=2, max_size=4)), "grid": d.draw(SMALL),
                       "k": d.draw(st.integers(0, 5))}),
    ("matrixkan", lambda d: {"width": d.draw(st.lists(SMALL, min_size=2, max_size=4)), "grid": d.draw(SMALL),
                             "k": d.draw(st.integers(0, 5)),
                             "basis_matrix": d.draw(st.sampled_from(["uniform", "per-interval"]))}),
    ("mlp-mixer", lambda d: {"img_size": 4 * d.draw(SMALL), "patch_size": d.draw(st.sampled_from([1, 2, 4])),
                             "hidden_dim": d.draw(SMALL), "num_blocks": d.draw(st.integers(1, 3)),
                             "num_classes": d.draw(SMALL), "in_chans": d.draw(st.integers(1, 3)),
                             "token_mlp_ratio": d.draw(st.sampled_from([0.5, 1.0, 2.5])),
                             "channel_mlp_ratio": d.draw(st.sampled_from([1.0, 4.0, 0.7]))}),
    ("tabm", lambda d: {**d.draw(st.sampled_from([{"arch_type": "tabm"}, {"arch_type": "tabm-mini"},
                                                  {"arch_type": "tabm-packed", "start_scaling_init": None}])),
                        "d_in": d.draw(SMALL), "d_out": d.draw(SMALL), "k": d.draw(SMALL),
                        "n_blocks": d.draw(st.integers(1, 3)), "d_block": d.draw(SMALL)}),
])
@settings(max_examples=15, deadline=None, database=None)
@given(data=st.data())
def test_declared_counts_match_the_meta_build(name, draw_config, data):
    spec = zoo.model_spec(name)
    try:
        _, _, cfg = zoo.resolve_config(name, **draw_config(data))
    except ConfigError:
        return  # a combination the config refuses: nothing to count
    assert spec.count_params(cfg) == meta_build_size(spec, cfg).elements


def test_matrixkan_per_interval_tables_need_memory_linear_in_the_grid():
    from test_create_fuzz import AllocationGuard

    guard = AllocationGuard(2**21)  # every point's whole basis at once was (1204, 8, 602): 5.8 million values
    with guard:
        model = zoo.create("matrixkan", width=[8, 1], grid=600, k=1, basis_matrix="per-interval")
    assert not guard.refused, guard.refused[:3]
    assert model.layers[0].interval_matrices.shape == (8, 602, 2, 2)


def test_the_meta_build_leaves_random_generators_alone():
    _, _, cfg = zoo.resolve_config("xnet", width=[2, 7, 1])  # sized by a meta build (no count_params)
    spec = zoo.model_spec("xnet")
    assert spec.count_params is None
    torch.manual_seed(0), random.seed(0), np.random.seed(0)
    meta_build_size(spec, cfg)
    after = torch.rand(3), random.random(), np.random.rand()
    torch.manual_seed(0), random.seed(0), np.random.seed(0)
    assert torch.equal(after[0], torch.rand(3)) and after[1:] == (random.random(), np.random.rand())
    torch.manual_seed(0)
    direct = spec.build(cfg).state_dict()
    torch.manual_seed(0)
    created = zoo.create("xnet", width=[2, 7, 1], max_params=10**6).state_dict()
    assert all(torch.equal(direct[k], created[k]) for k in direct), "a seeded create gives the same weights"


# --- max_params and its environment variable ---------------------------------------------------------------


def test_max_params_keyword_and_environment_variable(monkeypatch):
    elements = model_size(zoo.model_spec("kan"), zoo.resolve_config("kan")[2]).elements
    assert zoo.create("kan", max_params=elements)
    with pytest.raises(ResourceError, match=rf"over the limit of {elements - 1:,}"):
        zoo.create("kan", max_params=elements - 1)
    monkeypatch.setenv(MAX_PARAMS_ENV, str(elements - 1))
    assert max_params_limit() == elements - 1
    with pytest.raises(ResourceError):
        zoo.create("kan")
    assert zoo.create("kan", max_params=elements), "the keyword wins over the environment"
    monkeypatch.setenv(MAX_PARAMS_ENV, "lots")
    with pytest.raises(ConfigError, match=rf"{MAX_PARAMS_ENV}='lots' is not a whole number"):
        zoo.create("kan")
    monkeypatch.delenv(MAX_PARAMS_ENV)
    assert max_params_limit() == DEFAULT_MAX_PARAMS


@pytest.mark.parametrize("value", [0, -5, 1.5, "100", True])
def test_bad_max_params_is_a_config_error(value):
    with pytest.raises(ConfigError, match=rf"max_params={value!r}: expected a whole number >= 1"):
        zoo.create("kan", max_params=value)


# --- plugins: allocation failures, builds that need real values, import-time constants ------------------------

PLUGIN = '''
import torch

import zoo
from zoo.config import Config, Field

BUILDS = []


class NetConfig(Config):
    width: int = Field(4, ge=1, description="hidden width")
    failure: str = Field("", description="what the build raises")


def build(config):
    import torch
    BUILDS.append(config)
    if torch.empty(0).is_meta:  # the zoo's size check: shapes only, so it fails only for real
        return torch.nn.Linear(config.width, config.width)
    if config.failure == "memory":
        raise MemoryError()
    if config.failure == "allocator":
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 262144000000 bytes")
    if config.failure == "oom":
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 244.00 GiB")
    if config.failure == "value":
        raise ValueError("width must be even")
    if config.failure == "bug":
        raise KeyError("oops")
    return torch.nn.Linear(config.width, config.width)


def build_needing_values(config):
    import torch
    BUILDS.append(config)
    scale = torch.ones(1).item()  # reads a value: impossible on the meta device
    return torch.nn.Linear(config.width, int(scale) * config.width)


def build_with_constants(config):
    from constants_model import Net  # its module makes a tensor constant when first imported
    return Net(config.width)


@zoo.hookimpl
def zoo_models():
    return [zoo.ModelSpec("plain", NetConfig, build),
            zoo.ModelSpec("valued", NetConfig, build_needing_values,
                          example_inputs=lambda c, n: (torch.ones(n, c.width),)),
            zoo.ModelSpec("counted", NetConfig, build_needing_values,
                          count_params=lambda c: c.width * c.width + c.width),
            zoo.ModelSpec("constants", NetConfig, build_with_constants)]
'''

CONSTANTS_MODEL = '''
import torch

SCALE = torch.full((3,), 2.0)


class Net(torch.nn.Module):
    def __init__(self, width):
        super().__init__()
        self.linear = torch.nn.Linear(width, 3)

    def forward(self, x):
        return self.linear(x) * SCALE
'''


@pytest.fixture
def registry(tmp_path, monkeypatch):
    (tmp_path / "limits_plugin.py").write_text(PLUGIN)
    (tmp_path / "constants_model.py").write_text(CONSTANTS_MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in ("limits_plugin", "constants_model"):
        sys.modules.pop(module, None)
    entries = "".join(f"  {name}:\n    plugin: limits\n    paper: {{title: T}}\n"
                      for name in ("plain", "valued", "counted", "constants"))
    path = tmp_path / "catalog.yaml"
    path.write_text(f"schema: 1\nmodels:\n{entries}")
    yield Registry(catalogs=[path], plugins={"limits": "limits_plugin"})
    for module in ("limits_plugin", "constants_model"):
        sys.modules.pop(module, None)


@pytest.mark.parametrize("failure", ["memory", "allocator", "oom"])
def test_allocation_failures_while_building_are_resource_errors(registry, failure):
    with pytest.raises(ResourceError) as err:
        registry.create("plain", width=8, failure=failure)
    message = str(err.value)
    assert "allocating model 'plain'" in message and f"failure={failure!r}" in message
    assert "72 parameter and buffer elements" in message, "the size found before building is named"


def test_other_build_failures_name_the_model_and_config(registry):
    with pytest.raises(ConfigError, match=r"could not build model 'plain' with failure='value': ValueError: width"):
        registry.create("plain", failure="value")
    with pytest.raises(PluginError, match=r"could not build model 'plain' with failure='bug': KeyError"):
        registry.create("plain", failure="bug")


def test_a_plugin_that_cannot_build_on_meta_is_held_to_the_limit_after_building(registry):
    assert model_size(registry.model_spec("valued"), registry.resolve_config("valued")[2]) is None
    assert registry.create("valued", width=3, max_params=12).weight.shape == (3, 3)
    with pytest.raises(ResourceError, match=r"'valued' with width=30 would hold 930 .* \(refused after building it\)"):
        registry.create("valued", width=30, max_params=100)


def test_a_declared_count_refuses_before_building(registry):
    registry.model_spec("counted")  # imports the plugin
    plugin = sys.modules["limits_plugin"]
    plugin.BUILDS.clear()
    with pytest.raises(ResourceError, match=r"'counted' with width=1000 would hold 1,001,000 .*refused before"):
        registry.create("counted", width=1000, max_params=10_000)
    assert plugin.BUILDS == [], "the build never ran"


def test_module_constants_made_at_import_during_a_meta_build_stay_real(registry):
    model = registry.create("constants", width=2)  # the first build of its plugin is the meta one
    assert sys.modules["constants_model"].SCALE.device.type == "cpu"
    assert model(torch.ones(1, 2)).shape == (1, 3)


def test_conformance_reports_a_plugin_the_zoo_cannot_size(registry):
    from zoo.testing import conformance_report

    report = conformance_report("valued", registry)
    assert "cannot size this model before building it" in report["size known before building"]
    assert "Tensor.item() cannot be called on meta tensors" in report["size known before building"]


# --- default config bounds -----------------------------------------------------------------------------------


class Sizes(Config):
    width: list[int] = Field([2, 3], description="widths")
    nested: list[list[int]] = Field([[1]], description="nested")
    declared: list[int] = Field([1], max_length=1000, description="declares its own length")
    count: int = Field(3, ge=1, description="no upper bound declared")
    big: int = Field(3, ge=1, le=2**40, description="declares its own bound")


@pytest.mark.parametrize("values, fragment", [
    ({"width": [1] * (MAX_LIST_LENGTH + 1)}, f"width has {MAX_LIST_LENGTH + 1} entries, more than the {MAX_LIST_LENGTH}"),
    ({"nested": [[1] * (MAX_LIST_LENGTH + 1)]}, f"nested[0] has {MAX_LIST_LENGTH + 1} entries"),
    ({"count": MAX_INT + 1}, f"count={MAX_INT + 1} is outside the range +-{MAX_INT}"),
    ({"width": [1, -MAX_INT - 1]}, f"width[1]={-MAX_INT - 1} is outside"),
    ({"declared": [1] * 1001}, "List should have at most 1000 items"),
])
def test_default_bounds_name_the_field_the_value_and_the_bound(values, fragment):
    with pytest.raises(ConfigError) as err:
        validate_config(Sizes, values, "sizes")
    assert fragment in str(err.value)


def test_declared_bounds_replace_the_defaults():
    cfg = validate_config(Sizes, {"declared": [1] * 1000, "big": 2**40, "width": [MAX_INT]}, "sizes")
    assert len(cfg.declared) == 1000 and cfg.big == 2**40


# --- names and task options ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, fragment", [(5, "got 5"), ("", "got ''"), ("kan.", "'kan.' is not 'arch' or"),
                                            (".", "'.' is not 'arch'"), (["kan"], "got ['kan']")])
def test_model_names_are_checked_everywhere(name, fragment):
    for call in (zoo.create, zoo.info, zoo.resolve_config):
        with pytest.raises(UnknownNameError, match=re.escape(fragment)):
            call(name)


@pytest.mark.parametrize("name", [5, None, ["toy/exp-sin"], ""])
def test_task_names_are_checked(name):
    with pytest.raises(UnknownNameError, match="task name must be a non-empty string"):
        zoo.get_task(name)


def test_task_options_are_checked_against_an_explicit_signature(tmp_path, monkeypatch):
    (tmp_path / "task_plugin.py").write_text(textwrap.dedent('''
        import zoo

        def build(*, length=10, seed=0):
            raise AssertionError("never reached with a bad option")

        @zoo.hookimpl
        def zoo_tasks():
            return [zoo.TaskSpec("demo/task", build)]
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "catalog.yaml"
    path.write_text("schema: 1\ntasks:\n  demo/task:\n    plugin: tp\n    kind: regression\n")
    registry = Registry(catalogs=[path], plugins={"tp": "task_plugin"})
    with pytest.raises(ConfigError, match=r"no option 'lenght'\. Did you mean 'length'\? Valid options: length, seed"):
        registry.get_task("demo/task", lenght=3)


def test_bad_task_option_values_are_config_errors_naming_them():
    with pytest.raises(ConfigError, match=r"task 'toy/exp-sin' refused with options \{'n_train': -1\}"):
        zoo.get_task("toy/exp-sin", n_train=-1)
    with pytest.raises(ConfigError, match=r"does not take the option 'name'"):
        zoo.get_task("toy/exp-sin", name="other")
