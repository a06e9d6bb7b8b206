"""Method: the base class of a training method from a paper, and the rules that combine several.

A method acts on `zoo.train` runs at named places (its *events*), which a subclass overrides:

    prepare(model)                       change the model before training (swap layers, attach heads);
                                         only for `structural` methods, which are saved with the model
    setup(run)                           start of a run, before the optimizer exists: build what the
                                         method owns (regressors, loss weights), snapshot what it needs
    parameters()                         the trainable tensors the method owns (the optimizer sees them)
    transform_batch(batch, run)          replace the batch (adversarial examples)
    loss(terms, output, batch, run)      add, reweight or drop named loss terms
    combine(terms, run)                  turn the terms into the loss (slot "loss-combiner")
    after_backward(run)                  act on gradients before the optimizer step
    after_step(run)                      act on parameters after it (masks held at zero)
    training_step(batch, run)            the whole update (slot "update-rule": no end-to-end backprop)
    build_optimizer(params, config)      the optimizer (slot "optimizer")
    epoch_end(run, metrics), end(run)    after each epoch, after the run
    state_dict() / load_state_dict(s)    what a checkpoint keeps of the method (tensors and JSON)

Order, for several methods: they act in the order given (`methods=[a, b]`: a's batch transform
first, a's loss terms first, a's structural change first) and at the `after_*` events and
`end` in reverse order, so each can undo its own change; a loss combiner always combines last,
over every other method's terms. A slot is exclusive: two methods that both want it are refused.

A method states what it needs (`task_kinds`, `layer_types`, `objects`, `check`); a model or task
that lacks it is a MethodMismatchError before anything trains. Procedures made of several runs
(lottery ticket rounds, a sequence of continual-learning tasks, teacher then student) implement
`run(model, task, ...)` on top of `zoo.training.procedure.Stages`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ..config import Config, validate_config
from ..errors import ConfigError, ConfigTypeError, ZooError

__all__ = ["Method", "MethodConfig", "MethodMismatchError", "MethodConflictError", "SLOTS", "resolve_methods",
           "check_methods", "apply_structural", "optimizer_method", "overrides", "task_terms"]

SLOTS = ("update-rule", "loss-combiner", "optimizer")
# the event a slot stands for, to find which slots a method takes from what it overrides
_SLOT_EVENTS = {"update-rule": "training_step", "loss-combiner": "combine", "optimizer": "build_optimizer"}
# events that act inside the standard step (they cannot act on a model that trains itself)
STEP_EVENTS = ("transform_batch", "loss", "combine", "after_backward")


class MethodMismatchError(ZooError, ValueError):
    """A method cannot act on this model or task: the model, task or inputs lack what it needs."""


class MethodConflictError(ZooError, ValueError):
    """Two methods cannot act in the same run."""


class MethodConfig(Config):
    """Base class of a method's options: typed, validated, JSON round trip (see zoo.Config)."""


def overrides(method: Method, event: str) -> bool:
    """Whether `method` implements `event` (the base class's version does nothing)."""
    return getattr(type(method), event) is not getattr(Method, event)


class Method:
    """One training method from a paper. Subclass it; set `name` to its catalog name and `Config`
    to its options class (defaults from the paper), and override the events it acts at.

    Class attributes a subclass may set:
      structural: prepare() changes the model; zoo.save records the method (name and config) in
          config.json and zoo.load re-applies it before loading the weights.
      task_kinds: task kinds it works on (e.g. ("classification",)); empty: any.
      layer_types: the model must hold at least one module of these types.
      objects: {argument: what it must be} of inputs that are not options (e.g. a teacher model);
          they are passed to the constructor beside the options and are not part of `config`.
      conflicts: {other method name: why} of methods it cannot run with.
      standalone: the method is not a part of a zoo.train run: it is run on its own with
          ``method.run(model, ...)`` (post-training compression, model fusion, a procedure of several
          runs); zoo.train refuses it, saying so.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type[MethodConfig]] = MethodConfig
    structural: ClassVar[bool] = False
    task_kinds: ClassVar[tuple[str, ...]] = ()
    layer_types: ClassVar[tuple[type, ...]] = ()
    objects: ClassVar[dict[str, str]] = {}
    conflicts: ClassVar[dict[str, str]] = {}
    standalone: ClassVar[bool] = False

    def __init__(self, **options: Any):
        label = f"method {self.name or type(self).__name__!r}"
        given = {k: options.pop(k) for k in list(options) if k in self.objects}
        self.config = validate_config(self.Config, options, label)
        for key, what in self.objects.items():
            setattr(self, key, given.get(key))

    # --- what it needs ------------------------------------------------------------------------------

    def check(self, model, task) -> str | None:
        """The piece that `model` or `task` lacks for this method, or None. The base checks
        `task_kinds`, `layer_types` and that every object was given; extend it with super()."""
        kind = getattr(task, "kind", None)
        if self.task_kinds and kind not in self.task_kinds:
            return f"a {' or '.join(self.task_kinds)} task (task {getattr(task, 'name', task)!r} is {kind})"
        if self.layer_types and not any(isinstance(m, self.layer_types) for m in model.modules()):
            kinds = ", ".join(t.__name__ for t in self.layer_types)
            return f"at least one layer of type {kinds}"
        for key, what in self.objects.items():
            if getattr(self, key, None) is None:
                return f"{key}= ({what})"
        return None

    def require(self, model, task) -> None:
        """Raise MethodMismatchError naming this method, the model, the task and what `check` finds
        missing; zoo.train calls it for every method, and a procedure or a post-training method calls
        it before it starts."""
        missing = self.check(model, task)
        if missing:
            raise MethodMismatchError(f"method {_label(self)!r} cannot act on model {_model_label(model)!r} with "
                                      f"task {getattr(task, 'name', task)!r}: it needs {missing}")

    # --- events (each does nothing unless overridden) -----------------------------------------------

    def prepare(self, model) -> None:
        """Change the model's structure before training (structural methods only)."""

    def setup(self, run) -> None:
        """Start of a run (`run` is the StepContext; its optimizers do not exist yet)."""

    def parameters(self) -> list:
        """Trainable tensors the method owns, optimized with the model's parameters (by the run's
        optimizer, in a parameter group of their own without weight decay: a decay would pull learned
        loss weights or regressors toward zero, which no paper asks for)."""
        return []

    def transform_batch(self, batch, run):
        return batch

    def loss(self, terms: dict, output, batch, run) -> dict:
        """The named loss terms after this method: `terms` holds the task's ("task", or the
        task's own `loss_terms`) and earlier methods' terms. Return a (new) dict."""
        return terms

    def combine(self, terms: dict, run):
        """The loss from the named terms (slot "loss-combiner"; without one the terms are summed)."""
        raise NotImplementedError

    def after_backward(self, run) -> None:
        """Gradients are computed (and, with accumulation, summed); the optimizer has not stepped."""

    def after_step(self, run) -> None:
        """The optimizer stepped and the gradients were cleared."""

    def training_step(self, batch, run) -> dict:
        """The whole update for one batch (slot "update-rule"); return {"loss": ..., ...}."""
        raise NotImplementedError

    def build_optimizer(self, params: list, config):
        """The optimizer over `params` for a TrainConfig (slot "optimizer")."""
        raise NotImplementedError

    def epoch_end(self, run, metrics: dict) -> None:
        """An epoch ended; `metrics` is its history entry."""

    def end(self, run) -> None:
        """The run ended (also when it stopped early); remove hooks set up in setup()."""

    def state_dict(self) -> dict:
        """What a checkpoint keeps of the method: a dict of tensors, numbers, strings, lists and dicts."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what state_dict() returned (called before the run continues from a checkpoint)."""

    # --- identity -----------------------------------------------------------------------------------

    @property
    def slots(self) -> tuple[str, ...]:
        return tuple(slot for slot in SLOTS if overrides(self, _SLOT_EVENTS[slot]))

    @property
    def acts_in_step(self) -> bool:
        return any(overrides(self, event) for event in STEP_EVENTS)

    def describe(self) -> dict:
        """{"name", "config"}: how config.json, checkpoints and reports name this method."""
        return {"name": self.name, "config": self.config.to_dict()}

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.config.to_dict().items())
        return f"{type(self).__name__}({options})"


def task_terms(task, output, batch) -> dict:
    """The task's named loss terms of an output: its `loss_terms` when it has several targets, else
    {"task": task.loss(output, batch)}. The terms methods start from; their sum is the task's loss."""
    own = getattr(task, "loss_terms", None)
    return dict(own(output, batch)) if callable(own) else {"task": task.loss(output, batch)}


def _label(method: Method) -> str:
    return method.name or type(method).__name__


def resolve_methods(methods, registry=None) -> list[Method]:
    """The Method objects of `methods` (names, ``(name, options)`` pairs or Method objects), with
    conflicts refused: a method given twice, two methods that want one slot, a declared conflict."""
    if methods is None:
        return []
    if isinstance(methods, (str, Method)) or not isinstance(methods, (list, tuple)):
        raise ConfigTypeError(f"methods must be a list of method names or zoo.method(...) objects, got "
                              f"{type(methods).__name__} {methods!r:.80}")
    resolved = []
    for item in methods:
        if isinstance(item, Method):
            resolved.append(item)
            continue
        if isinstance(item, str):
            name, options = item, {}
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], Mapping) \
                and all(isinstance(k, str) for k in item[1]):
            name, options = item[0], dict(item[1])
        else:
            raise ConfigTypeError(f"a method must be a name, a (name, {{option: value}}) pair or a zoo.method(...) "
                                  f"object, got {type(item).__name__} {item!r:.80}")
        if registry is None:
            from ..registry import default_registry

            registry = default_registry()
        resolved.append(registry.method(name, **options))
    seen: dict[str, Method] = {}
    for method in resolved:
        label = _label(method)
        if label in seen:
            raise MethodConflictError(f"method {label!r} is given twice; give it once, with all its options")
        seen[label] = method
    for slot in SLOTS:
        holders = [_label(m) for m in resolved if slot in m.slots]
        if len(holders) > 1:
            raise MethodConflictError(f"methods {holders[0]!r} and {holders[1]!r} conflict: both take the {slot} "
                                      f"slot, which one method holds at a time")
    for method in resolved:
        for other, why in method.conflicts.items():
            if other in seen:
                raise MethodConflictError(f"methods {_label(method)!r} and {other!r} conflict: {why}")
    return resolved


def _model_label(model) -> str:
    identity = getattr(model, "zoo_identity", None)
    return identity.architecture if identity is not None else type(model).__name__


def is_standalone(method) -> bool:
    """Whether a method (or method class) runs with ``.run(...)`` instead of inside zoo.train: it says
    so (`standalone`), or it has a `run` and acts at no event of a training run."""
    cls = method if isinstance(method, type) else type(method)
    if cls.standalone:
        return True
    acts = any(getattr(cls, event) is not getattr(Method, event) for event in (*STEP_EVENTS, "prepare", "after_step"))
    return hasattr(cls, "run") and not acts


def check_methods(methods: list[Method], model, task, config) -> None:
    """Refuse, before training, a method that cannot act on this model, task or training config."""
    trains_itself = callable(getattr(model, "training_step", None))
    if config.optimizer == "lbfgs" and any(m.acts_in_step or m.slots for m in methods):
        acting = [_label(m) for m in methods if m.acts_in_step or m.slots]
        raise MethodConflictError(f"optimizer='lbfgs' re-evaluates the loss inside its own step, where methods "
                                  f"{acting} cannot act; use another optimizer")

    rule = next((m for m in methods if "update-rule" in m.slots), None)
    skipped = [_label(m) for m in methods if m is not rule and m.acts_in_step]
    if rule is not None and skipped:
        raise MethodConflictError(f"method {_label(rule)!r} replaces the training step with its own update, where "
                                  f"methods {skipped} (acting on the batch, the loss or the gradients) would never "
                                  f"act; train with one or the other")
    for method in methods:
        if is_standalone(method):
            raise ConfigError(f"method {_label(method)!r} runs on its own, not inside a training run: call "
                              f"zoo.method({_label(method)!r}, ...).run(model, ...) instead of passing it "
                              f"to zoo.train")
        method.require(model, task)
        if trains_itself and method.acts_in_step:
            raise MethodMismatchError(
                f"method {_label(method)!r} acts inside the standard training step (batch, loss or gradients), but "
                f"model {_model_label(model)!r} trains itself with its own training_step")
        if trains_itself and "update-rule" in method.slots:
            raise MethodConflictError(f"method {_label(method)!r} replaces the update rule, and model "
                                      f"{_model_label(model)!r} has its own training_step: one of them must go")


def apply_structural(model, methods: list[Method]) -> None:
    """Apply the structural methods' changes to `model`, each once: a model keeps, in
    ``model.zoo_methods``, the methods (name and config) that changed it, which zoo.save records and
    zoo.load re-applies. The same method again is a no-op; with other options it is refused."""
    applied = list(getattr(model, "zoo_methods", ()))
    for method in methods:
        if not method.structural:
            continue
        described = method.describe()
        earlier = next((a for a in applied if a["name"] == described["name"]), None)
        if earlier is not None:
            if earlier["config"] != described["config"]:
                raise MethodConflictError(
                    f"the model already carries method {described['name']!r} with {earlier['config']}; it cannot "
                    f"take it again with {described['config']}")
            continue
        method.prepare(model)
        applied.append(described)
    if applied:
        model.zoo_methods = applied


def optimizer_method(name: str, registry=None) -> Method:
    """The method that `TrainConfig.optimizer` names when it is not a built-in optimizer."""
    from ..errors import UnknownNameError, did_you_mean
    from .config import BUILTIN_OPTIMIZERS

    if registry is None:
        from ..registry import default_registry

        registry = default_registry()
    methods = registry.list_methods()
    if name not in methods:
        raise UnknownNameError(f"unknown optimizer {name!r}: it is neither one of {', '.join(BUILTIN_OPTIMIZERS)} nor "
                               f"an installed training method (zoo list --methods)."
                               + did_you_mean(name, [*BUILTIN_OPTIMIZERS, *methods]))
    method = registry.method(name)
    if "optimizer" not in method.slots:
        raise ConfigError(f"optimizer={name!r} names training method {name!r}, which provides no optimizer; "
                          f"pass it as methods=[{name!r}] instead")
    return method
