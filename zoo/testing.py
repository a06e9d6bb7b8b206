"""Conformance checks every plugin model and training method must pass, for first- and third-party
authors alike.

    from zoo.testing import assert_conforms
    def test_my_model():
        assert_conforms("my-model")                 # default config
        assert_conforms("my-model", width=[3, 4])   # any config overrides

Checks: the catalog documents the config class exactly; every variant's config round-trips
through JSON; the size the zoo finds before building (`ModelSpec.count_params`, else a meta-device
build) is the built model's; building is deterministic under a seed; forward gives finite outputs
and is deterministic, under a seed and in eval mode without one (two forwards in a row agree); backward
reaches the parameters with finite gradients; every trainable parameter gets a gradient from the
training loss (the model's own `training_step` on a batch of its task, else the sum of the forward's
outputs), as DistributedDataParallel requires without find_unused_parameters; the state dict
survives a safetensors round trip (strict load, same outputs); the model moves to the best device
and back. Methods: `assert_method_conforms(name, make_model, task)` (see method_conformance_report).

A model states the exceptions it needs, each with its reason, as class attributes:
    zoo_stochastic_eval = "why"                      eval-mode forwards draw randomness by design
    zoo_gradient_exempt = {"glob": "why", ...}       parameters (names matched by fnmatch) that may
                                                     get no gradient on a batch, e.g. experts a router
                                                     did not pick; the kit prints the reason
"""

from __future__ import annotations

import contextlib
import fnmatch
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path


from .config import catalog_config_block, catalog_config_problem
from .registry import Registry, default_registry

__all__ = ["ConformanceError", "assert_conforms", "conformance_report", "catalog_config_block", "tensors_in",
           "assert_method_conforms", "method_conformance_report"]


class ConformanceError(AssertionError):
    """One or more conformance checks failed; the message lists each with its reason."""


def tensors_in(output) -> list:
    """Every tensor in a nested output (tensor, tuple/list, dict, or object with tensor fields)."""
    import torch

    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, dict):
        items = output.values()
    elif isinstance(output, (list, tuple)):
        items = output
    elif hasattr(output, "__dict__"):
        items = vars(output).values()
    else:
        return []
    return [t for item in items for t in tensors_in(item)]


def _best_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _outputs(model, inputs: tuple, seed: int | None = 0) -> list:
    """The output tensors of an eval-mode forward; seed None: the RNG goes on from where it is."""
    import torch

    model.eval()
    if seed is not None:
        torch.manual_seed(seed)
    with torch.no_grad():
        return [t.detach().cpu() for t in tensors_in(model(*inputs))]


def _same(a: list, b: list, atol: float = 0.0) -> bool:
    import torch

    return len(a) == len(b) and all(
        x.shape == y.shape and (torch.equal(x, y) if atol == 0 else torch.allclose(x, y, atol=atol, rtol=atol))
        for x, y in zip(a, b)
    )


def conformance_report(name: str, registry: Registry | None = None, *, batch_size: int = 4,
                       **config) -> dict[str, str]:
    """Run every check; returns {check: "ok" | reason it failed}."""
    import torch
    from safetensors.torch import load_model, save_model

    registry = registry or default_registry()
    entry = registry.info(name)
    spec = registry.model_spec(name)
    report: dict[str, str] = {}

    def check(label: str, fn: Callable[[], str | None]) -> None:
        _run_check(report, label, fn)

    def catalog_matches() -> str | None:
        return catalog_config_problem(entry, spec.config, f"config block for {name!r}")

    def variants_round_trip() -> str | None:
        for variant in entry.variants:
            _, _, cfg = registry.resolve_config(name, variant=variant)
            back = type(cfg).from_json(cfg.to_json())
            if back != cfg:
                return f"variant {variant!r}: {cfg!r} came back from JSON as {back!r}"
        return None

    check("catalog documents the config", catalog_matches)
    check("configs round-trip through JSON", variants_round_trip)

    def build(seed: int):
        torch.manual_seed(seed)
        return registry.create(name, **config)

    model = build(0)
    cfg = model.zoo_identity.config
    if spec.example_inputs is None:
        report["forward"] = "ModelSpec.example_inputs is missing; conformance needs example inputs"
        raise ConformanceError(_format(name, report))
    torch.manual_seed(1234)
    inputs = tuple(spec.example_inputs(cfg, batch_size))

    def size_known_before_building() -> str | None:
        from .limits import count_module, meta_build_size, model_size

        built = count_module(model)
        predicted = model_size(spec, cfg)
        if predicted is None:
            try:
                meta_build_size(spec, cfg)
                why = "its build fails on the meta device"
            except Exception as exc:  # the reason the zoo could not use
                why = f"its build fails on the meta device ({type(exc).__name__}: {exc})"
            return (f"the zoo cannot size this model before building it: {why} and its ModelSpec has no "
                    f"count_params, so zoo.create can only refuse an oversized config after allocating it; "
                    f"build on meta (no .item()/.tolist() on new tensors) or give count_params(config)")
        if predicted.elements != built.elements:
            return (f"{predicted.how} gives {predicted.elements:,} parameter and buffer elements, but the built "
                    f"model holds {built.elements:,}")
        return None

    def deterministic_build() -> str | None:
        a, b = model.state_dict(), build(0).state_dict()
        differing = [k for k in a if not torch.equal(a[k], b[k])]
        return f"two builds under seed 0 differ in {differing[:5]}" if differing else None

    def forward() -> str | None:
        outs = _outputs(model, inputs)
        if not outs:
            return "forward returned no tensors"
        bad = [i for i, t in enumerate(outs) if t.is_floating_point() and not torch.isfinite(t).all()]
        if bad:
            return f"output tensor(s) {bad} contain NaN or inf"
        if not _same(outs, _outputs(model, inputs)):
            return "two forwards of the same input under the same seed differ"
        return _eval_randomness_problem(name, model, inputs, outs)

    def backward_of_output_sum() -> str | None:
        """Backpropagate the sum of the training-mode forward's outputs into fresh gradients."""
        model.train()
        model.zero_grad(set_to_none=True)
        torch.manual_seed(0)
        loss = sum(t.float().sum() for t in tensors_in(model(*inputs)) if t.requires_grad)
        if not torch.is_tensor(loss):
            return "no output depends on a trainable parameter"
        loss.backward()
        return None

    def backward() -> str | None:
        problem = backward_of_output_sum()
        if problem:
            return problem
        grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
        if not any(g is not None for g in grads.values()):
            return "no parameter received a gradient"
        bad = [n for n, g in grads.items() if g is not None and not torch.isfinite(g).all()]
        return f"non-finite gradients in {bad[:5]}" if bad else None

    def safetensors_round_trip() -> str | None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.safetensors"
            save_model(model, str(path))
            other = build(1)
            missing, unexpected = load_model(other, str(path), strict=True)
            if missing or unexpected:
                return f"strict load reported missing={missing} unexpected={unexpected}"
            if not _same(_outputs(model, inputs), _outputs(other, inputs)):
                return "a model loaded from the saved state dict gives different outputs"
        return None

    def device_move() -> str | None:
        device = _best_device()
        before = _outputs(model, inputs)
        moved = model.to(device)
        after = _outputs(moved, tuple(t.to(device) if torch.is_tensor(t) else t for t in inputs))
        model.to("cpu")
        if not _same(before, after, atol=0 if device == "cpu" else 1e-4):
            return f"outputs change after moving to {device}"
        return None

    def every_parameter_gets_a_gradient() -> str | None:
        if callable(getattr(model, "training_step", None)):
            return _unused_by_training_step(name, registry, entry, config, cfg.to_dict(), batch_size)
        problem = backward_of_output_sum()
        if problem:
            return problem
        reached = {n for n, p in model.named_parameters() if p.grad is not None}
        model.zero_grad(set_to_none=True)
        return _unreached_problem(name, model, reached, "the backward of the sum of the forward's outputs")

    check("size known before building", size_known_before_building)
    check("deterministic build under a seed", deterministic_build)
    check("forward", forward)
    check("backward", backward)
    check("every parameter gets a gradient", every_parameter_gets_a_gradient)
    check("safetensors state-dict round trip", safetensors_round_trip)
    check("device move", device_move)
    return report


def _eval_randomness_problem(name: str, model, inputs: tuple, seeded: list) -> str | None:
    """Whether a second eval-mode forward, the RNG not re-seeded, differs from the first: eval must
    not draw noise (dropout with training=True, sampling) unless the model says it does by design."""
    if _declared_reason(model, "zoo_stochastic_eval") is not None:
        return None
    again = _outputs(model, inputs, seed=None)  # the RNG has moved on since `seeded`'s forward
    if _same(seeded, again):
        return None
    if len(seeded) != len(again) or any(a.shape != b.shape for a, b in zip(seeded, again)):
        return f"{name!r} in eval mode gives outputs of different shapes on two forwards of the same input"
    diff = max(float((a.double() - b.double()).abs().max()) if a.numel() else 0.0 for a, b in zip(seeded, again))
    return (f"{name!r} in eval mode gives different outputs on two forwards of the same input without re-seeding "
            f"(max difference {diff:.3g}): it draws randomness in eval (dropout with training=True, fresh noise); "
            f"use self.training, or if it is stochastic by design say why in zoo_stochastic_eval")


def _declared_reason(model, attribute: str):
    """A model's declared exception (see the module docstring), checked to carry its reason."""
    from .errors import ConfigTypeError

    value = getattr(model, attribute, None)
    if value is None:
        return None
    if attribute == "zoo_gradient_exempt":
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.strip()
                                                  for k, v in value.items()):
            raise ConfigTypeError(f"{type(model).__name__}.zoo_gradient_exempt = {value!r}: expected a dict of "
                                  f"parameter-name patterns to the reason each may get no gradient")
    elif not isinstance(value, str) or not value.strip():
        raise ConfigTypeError(f"{type(model).__name__}.{attribute} = {value!r}: expected the reason, as a string")
    return value


def _unreached_problem(name: str, model, reached: set[str], how: str) -> str | None:
    """Which trainable parameters `how` left without a gradient, less those the model exempts (their
    reasons are printed as a warning); exemptions that name no parameter are a problem too."""
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    exempt = _declared_reason(model, "zoo_gradient_exempt") or {}
    stale = [pattern for pattern in exempt if not any(fnmatch.fnmatchcase(n, pattern) for n in trainable)]
    if stale:
        return f"zoo_gradient_exempt names patterns {stale} that match no trainable parameter of {name!r}"
    unreached = [n for n in trainable if n not in reached]
    excused = {n: next((why for pattern, why in exempt.items() if fnmatch.fnmatchcase(n, pattern)), None)
               for n in unreached}
    dead = [n for n, why in excused.items() if why is None]
    if dead:
        shown_names = ", ".join(dead[:8]) + (f" and {len(dead) - 8} more" if len(dead) > 8 else "")
        return (f"{len(dead)} trainable parameter(s) of {name!r} got no gradient from {how}: {shown_names}. "
                f"DistributedDataParallel fails on them unless find_unused_parameters=True: remove a dead "
                f"parameter, or name one that may miss a batch by design in zoo_gradient_exempt with why")
    for why in dict.fromkeys(w for w in excused.values() if w is not None):
        names = [n for n, w in excused.items() if w == why]
        warnings.warn(f"{name!r}: {len(names)} parameter(s) got no gradient from {how} ({', '.join(names[:4])}"
                      f"{' ...' if len(names) > 4 else ''}), allowed: {why}", stacklevel=2)
    return None


def _gradient_watch(**fields):
    """A StepContext for a conformance run of `training_step`: real optimizers, no accelerator; it
    notes every parameter a backward reaches, before a step clears the gradients. (Built here, not at
    import, because zoo.testing imports torch only when a check runs.)"""
    from .training.step import StepContext

    class GradientWatch(StepContext):
        @property
        def device(self):
            import torch

            return torch.device("cpu")

        def autocast(self):
            return contextlib.nullcontext()

        def backward(self, loss, **kwargs) -> None:
            loss.backward(**kwargs)
            self.reached |= {n for n, p in self.model.named_parameters() if p.grad is not None}

        def step(self, name: str | None = None) -> None:
            _, optimizer = self._optimizer(name)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    watch = GradientWatch(**fields)
    watch.reached = set()
    return watch


def _unused_by_training_step(name: str, registry: Registry, entry, config: dict, values: dict,
                             batch_size: int) -> str | None:
    """Run the model's own training_step once on the first training batch of its task (the `task`
    in `config`, else the catalog's first) and report the parameters no backward reached. The model
    is the one configured, sized for that task: what the model's `from_task` derives replaces the
    explicit values of `config` (`values`: the configured model's full config)."""
    import torch

    from .training.config import TrainConfig
    from .training.data import make_loader
    from .training.loop import _optimizers

    task = config.get("task", entry.tasks[0] if entry.tasks else None)
    if task is None:
        return (f"{name!r} trains itself (training_step) but names no task to draw a batch from: list one in its "
                f"catalog entry's tasks, or pass task= to the conformance check")
    task = registry.get_task(task) if isinstance(task, str) else task
    torch.manual_seed(0)
    from_task = registry.model_spec(name).from_task
    if from_task is not None:
        derived = from_task(dict(values), task.info)
        config = {**{k: v for k, v in config.items() if k not in derived}, "task": task}
    model = registry.create(name, **config)
    settings = TrainConfig()
    watch = _gradient_watch(task=task, model=model, optimizers=_optimizers(model, settings), schedulers={},
                           accelerator=None, config=settings)
    loader, _ = make_loader(task.splits()["train"], batch_size, shuffle=False, seed=0)
    model.train()
    try:
        model.training_step(next(iter(loader)), watch)
    except Exception as exc:  # noqa: BLE001 - reported with where it came from
        return f"training_step on a batch of task {task.name!r} raised {type(exc).__name__}: {exc}"
    return _unreached_problem(name, model, watch.reached, f"training_step on a batch of task {task.name!r}")


class _KillAfterFirstCheckpoint:
    """A training callback that ends the run like a kill (not an Exception) once a checkpoint is written."""

    def zoo_train_checkpoint(self, path):
        raise KeyboardInterrupt


def _run_check(report: dict[str, str], label: str, fn: Callable[[], str | None]) -> None:
    """Record fn()'s problem (or "ok") under `label`; a check that crashes has failed, with its reason."""
    try:
        problem = fn()
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        problem = f"{type(exc).__name__}: {exc}"
    report[label] = problem or "ok"


def _format(name: str, report: dict[str, str]) -> str:
    failed = {k: v for k, v in report.items() if v != "ok"}
    return f"{name!r} fails {len(failed)} conformance check(s):\n" + "\n".join(
        f"- {k}: {v}" for k, v in failed.items())


def assert_conforms(name: str, registry: Registry | None = None, *, batch_size: int = 4, **config) -> None:
    """Raise ConformanceError naming every failed check (for use in a plugin's tests)."""
    report = conformance_report(name, registry, batch_size=batch_size, **config)
    if any(v != "ok" for v in report.values()):
        raise ConformanceError(_format(name, report))


# --- training methods ----------------------------------------------------------------------------------


def method_conformance_report(name: str, make_model: Callable[[], object], task, registry: Registry | None = None,
                              *, train_options: dict | None = None, **options) -> dict[str, str]:
    """Run every check of training method `name` acting on models from `make_model()` (a fresh,
    seeded model per call) trained on `task` (small: the checks train it four times).

    Checks: the catalog documents the method's Config exactly; its options round-trip through JSON
    (and `zoo.method(name, **config)` gives the same method); it accepts this model and task; a
    two-epoch run killed after its first checkpoint and resumed ends bitwise identical to an
    uninterrupted one (model parameters and the method's state); a structural method is recorded in config.json
    and a model saved with it loads back (zoo.load) with the same outputs. A method that runs on its
    own (`standalone`, or a `run` and no training event) is instead refused by zoo.train with how to
    run it.
    """
    import torch

    from .training.loop import train
    from .training.method import Method, is_standalone

    registry = registry or default_registry()
    entry = registry.method_info(name)
    cls = registry.method_spec(name).build
    if isinstance(task, str):  # a task of this registry (zoo.train would look names up in the default one)
        task = registry.get_task(task)
    report: dict[str, str] = {}
    settings = {"epochs": 2, "batch_size": 32, "progress": False, "seed": 0, **(train_options or {})}

    def check(label: str, fn: Callable[[], str | None]) -> None:
        _run_check(report, label, fn)

    def catalog_matches() -> str | None:
        if not (isinstance(cls, type) and issubclass(cls, Method)):
            return f"MethodSpec.build of {name!r} is {cls!r}, not a zoo.Method subclass"
        return catalog_config_problem(entry, cls.Config, f"config block for method {name!r}")

    def options_round_trip() -> str | None:
        method = registry.method(name, **options)
        back = type(method.config).from_json(method.config.to_json())
        if back != method.config:
            return f"{method.config!r} came back from JSON as {back!r}"
        again = registry.method(name, **method.config.to_dict(), **{k: v for k, v in options.items()
                                                                      if k in cls.objects})
        if again.describe() != method.describe():
            return f"zoo.method({name!r}, **config) describes itself as {again.describe()}, not {method.describe()}"
        return None

    def accepts_the_model() -> str | None:
        missing = registry.method(name, **options).check(make_model(), _as_task(task))
        return f"its check() refuses this model and task: it needs {missing}" if missing else None

    def exact_resume() -> str | None:
        with tempfile.TemporaryDirectory() as tmp:
            whole, whole_method = make_model(), registry.method(name, **options)
            train(whole, task, methods=[whole_method], **settings)
            first, first_method = make_model(), registry.method(name, **options)
            out = Path(tmp) / "run"
            try:  # killed right after its first checkpoint (the end of epoch 1)
                train(first, task, methods=[first_method], out_dir=out, callbacks=[_KillAfterFirstCheckpoint()],
                      **settings)
            except KeyboardInterrupt:
                pass
            else:
                return "the run meant to be killed after its first checkpoint never wrote one"
            resumed, resumed_method = make_model(), registry.method(name, **options)
            train(resumed, task, methods=[resumed_method], out_dir=out, resume=True, **settings)
            a, b = whole.state_dict(), resumed.state_dict()
            differing = [k for k in a if not torch.equal(a[k], b[k])]
            if differing:
                return f"a resumed run's model differs from an uninterrupted one's in {differing[:5]}"
            problem = _same_state(whole_method.state_dict(), resumed_method.state_dict(), "state")
            return f"the method's state after resume differs from an uninterrupted run's: {problem}" if problem else None

    def saved_with_the_model() -> str | None:
        if not cls.structural:
            return None
        from .weights import load, save

        model = make_model()
        if getattr(model, "zoo_identity", None) is None:
            return "make_model() must return a zoo model (zoo.create) for the structural checks"
        train(model, task, methods=[registry.method(name, **options)], **{**settings, "epochs": 1})
        with tempfile.TemporaryDirectory() as tmp:
            folder = save(model, Path(tmp) / "saved", registry=registry)
            import json

            recorded = json.loads((folder / "config.json").read_text())["methods"]
            if name not in [m["name"] for m in recorded]:
                return f"config.json records methods {recorded}, not {name!r}"
            back = load(folder, registry=registry)
            inputs = next(iter(_loader_batches(task)))
            if not _same(_outputs(model, inputs), _outputs(back, inputs)):
                return "the loaded model gives different outputs than the saved one"
        return None

    def refused_by_train() -> str | None:
        from .errors import ConfigError

        try:
            train(make_model(), task, methods=[registry.method(name, **options)], **{**settings, "epochs": 1})
        except ConfigError as exc:
            return None if ".run(" in str(exc) else f"zoo.train refused it without saying how to run it: {exc}"
        return "zoo.train trained with it, but it runs on its own (method.run)"

    with _default_registry(registry):  # zoo.train saves and looks names up in the default registry
        check("catalog documents the options", catalog_matches)
        check("options round-trip through JSON", options_round_trip)
        check("accepts the model and task", accepts_the_model)
        if is_standalone(cls):  # its own `run`: its tests cover what it does there
            check("refused by zoo.train, saying how to run it", refused_by_train)
        else:
            check("exact resume (model and method state)", exact_resume)
            check("saved and loaded with the model", saved_with_the_model)
    return report


@contextlib.contextmanager
def _default_registry(registry: Registry):
    """`registry` as the module-level API's registry for a while, then the previous one again."""
    from . import registry as registry_module

    previous = registry_module._default
    registry_module.set_default_registry(registry)
    try:
        yield
    finally:
        registry_module.set_default_registry(previous)


def assert_method_conforms(name: str, make_model: Callable[[], object], task, registry: Registry | None = None,
                           *, train_options: dict | None = None, **options) -> None:
    """Raise ConformanceError naming every failed check of method `name` (see method_conformance_report)."""
    report = method_conformance_report(name, make_model, task, registry, train_options=train_options, **options)
    if any(v != "ok" for v in report.values()):
        raise ConformanceError(_format(name, report))


def _as_task(task):
    from .training.data import as_task

    return as_task(task)


def _loader_batches(task):
    """Model inputs of the first four test (else train) samples of a task."""
    from .training.data import make_loader

    resolved = _as_task(task)
    splits = resolved.splits()
    loader, _ = make_loader(splits.get("test", splits["train"]), 4, shuffle=False, seed=0)
    for batch in loader:
        yield tuple(resolved.inputs(batch))


def _same_state(a, b, where: str) -> str | None:
    """Where two method states (nested dicts/lists of tensors and values) differ, or None."""
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        same = isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
        return None if same else where
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{where} keys {sorted(map(str, a))} vs {sorted(map(str, b))}"
        return next((p for k in a if (p := _same_state(a[k], b[k], f"{where}.{k}"))), None)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f"{where} lengths {len(a)} vs {len(b)}"
        return next((p for i, (x, y) in enumerate(zip(a, b)) if (p := _same_state(x, y, f"{where}.{i}"))), None)
    return None if a == b else f"{where}: {a!r} vs {b!r}"
