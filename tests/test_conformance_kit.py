"""The conformance kit's own checks on deliberately broken models: randomness in eval mode, and
trainable parameters that the training loss never reaches (through forward, or a training_step)."""

import sys

import pytest

from zoo.registry import Registry
from zoo.testing import ConformanceError, assert_conforms, conformance_report

PLUGIN = '''
import torch
import torch.nn.functional as F
from pydantic import Field

import zoo
from zoo.config import Config
from zoo.tasks import ArrayTask


class NetConfig(Config):
    width: int = Field(3, ge=1, description="features in and out")


class Clean(torch.nn.Module):
    """Dropout that follows the mode: deterministic in eval."""

    def __init__(self, config):
        super().__init__()
        self.linear = torch.nn.Linear(config.width, config.width)
        self.dropout = torch.nn.Dropout(0.5)

    def forward(self, x):
        return self.dropout(self.linear(x))


class FreshNoise(Clean):
    def forward(self, x):
        return self.linear(x) + torch.randn_like(x)


class AlwaysDropout(Clean):
    def forward(self, x):
        return F.dropout(self.linear(x), 0.5, training=True)


class NoisyByDesign(FreshNoise):
    zoo_stochastic_eval = "a sampler: every forward draws a new sample"


class DeadParameter(Clean):
    def __init__(self, config):
        super().__init__(config)
        self.forgotten = torch.nn.Parameter(torch.zeros(config.width))


class Routed(DeadParameter):
    zoo_gradient_exempt = {"forgott*": "a router may send no input to it"}


class StaleExemption(Clean):
    zoo_gradient_exempt = {"expert.*": "no such parameter"}


class SelfTrained(torch.nn.Module):
    """A GAN-like pair: forward is the generator; the critic is used only by training_step."""

    def __init__(self, config, use_critic=True):
        super().__init__()
        self.generator = torch.nn.Linear(config.width, config.width)
        self.critic = torch.nn.Linear(config.width, 1)
        self.use_critic = use_critic

    def forward(self, z):
        return self.generator(z)

    def configure_optimizers(self, lr):
        return {"critic": torch.optim.SGD(self.critic.parameters(), lr=lr),
                "generator": torch.optim.SGD(self.generator.parameters(), lr=lr)}

    def training_step(self, batch, step):
        real = batch[0]
        if self.use_critic:
            critic_loss = self.critic(real).mean() - self.critic(self(real).detach()).mean()
            step.backward(critic_loss)
            step.step("critic")
        generator_loss = self(real).pow(2).mean()
        step.backward(generator_loss)
        step.step("generator")
        return {"loss": generator_loss.detach()}


def pairs(**options):
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
    return ArrayTask("kit/pairs", "regression", {"train": (x, x.clone())})


def spec(name, build, **extra):
    return zoo.ModelSpec(name, NetConfig, build, example_inputs=lambda c, n: (torch.randn(n, c.width),), **extra)


@zoo.hookimpl
def zoo_models():
    sized = {"from_task": lambda values, info: {"width": info.input_dim}}
    return [spec("clean", Clean), spec("fresh-noise", FreshNoise), spec("always-dropout", AlwaysDropout),
            spec("noisy-by-design", NoisyByDesign), spec("dead-parameter", DeadParameter), spec("routed", Routed),
            spec("stale-exemption", StaleExemption), spec("self-trained", SelfTrained, **sized),
            spec("critic-never-trained", lambda c: SelfTrained(c, use_critic=False), **sized)]


@zoo.hookimpl
def zoo_tasks():
    return [zoo.TaskSpec("kit/pairs", pairs)]
'''

MODELS = ("clean", "fresh-noise", "always-dropout", "noisy-by-design", "dead-parameter", "routed", "stale-exemption",
          "self-trained", "critic-never-trained")


@pytest.fixture
def registry(tmp_path, monkeypatch):
    (tmp_path / "kit_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("kit_plugin", None)
    trained_on = {"self-trained": "    tasks: [kit/pairs]\n", "critic-never-trained": "    tasks: [kit/pairs]\n"}
    entries = "".join(f"  {name}:\n    plugin: kit\n    paper: {{title: T}}\n{trained_on.get(name, '')}"
                      for name in MODELS)
    path = tmp_path / "catalog.yaml"
    path.write_text(f"schema: 1\nmodels:\n{entries}tasks:\n  kit/pairs:\n    plugin: kit\n    kind: regression\n")
    yield Registry(catalogs=[path], plugins={"kit": "kit_plugin"})
    sys.modules.pop("kit_plugin", None)


def checks_failed(report: dict) -> dict:
    # the test catalog does not document the config: that check is about something else
    return {k: v for k, v in report.items() if v != "ok" and k != "catalog documents the config"}


def test_a_clean_model_passes_every_check(registry):
    assert checks_failed(conformance_report("clean", registry)) == {}


@pytest.mark.parametrize("name", ["fresh-noise", "always-dropout"])
def test_randomness_in_eval_fails_naming_the_model_and_the_difference(registry, name):
    problem = conformance_report(name, registry)["forward"]
    assert f"{name!r} in eval mode gives different outputs" in problem
    difference = float(problem.split("max difference ")[1].split(")")[0])
    assert difference > 0


def test_the_failure_reaches_assert_conforms(registry):
    with pytest.raises(ConformanceError, match=r"- forward: 'always-dropout' in eval mode"):
        assert_conforms("always-dropout", registry)


def test_a_model_stochastic_in_eval_by_design_passes_when_it_says_so(registry):
    assert checks_failed(conformance_report("noisy-by-design", registry)) == {}


def test_a_parameter_without_a_gradient_fails_naming_it(registry):
    report = conformance_report("dead-parameter", registry)
    assert checks_failed(report).keys() == {"every parameter gets a gradient"}
    problem = report["every parameter gets a gradient"]
    assert "got no gradient" in problem and "forgotten" in problem and "linear" not in problem
    assert "find_unused_parameters" in problem


def test_an_exempt_parameter_passes_and_its_reason_is_printed(registry):
    with pytest.warns(UserWarning, match=r"'routed': 1 parameter\(s\) got no gradient .*forgotten.*a router may send"):
        report = conformance_report("routed", registry)
    assert checks_failed(report) == {}


def test_an_exemption_that_names_no_parameter_fails(registry):
    problem = conformance_report("stale-exemption", registry)["every parameter gets a gradient"]
    assert "['expert.*'] that match no trainable parameter" in problem


def test_training_step_is_what_must_reach_every_parameter(registry):
    # forward alone never reaches the critic; the model's own training_step does
    assert checks_failed(conformance_report("self-trained", registry)) == {}
    problem = conformance_report("critic-never-trained", registry)["every parameter gets a gradient"]
    assert "training_step on a batch of task 'kit/pairs'" in problem
    assert "critic.weight" in problem and "critic.bias" in problem and "generator" not in problem
