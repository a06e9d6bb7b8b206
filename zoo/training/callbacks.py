"""Training callbacks through pluggy: each callback object is registered in a run-private
PluginManager against the training hookspecs (zoo.hookspecs), and each implementation is called on
its own, so one that raises is reported and the others, and training, go on."""

from __future__ import annotations

import warnings

import pluggy

from .. import hookspecs
from ..errors import ConfigTypeError

__all__ = ["CallbackWarning", "Callbacks"]

_PLAIN_OPTS = dict(wrapper=False, hookwrapper=False, optionalhook=False, tryfirst=False, trylast=False, specname=None)


class CallbackWarning(UserWarning):
    """A training callback raised; training went on."""


class _Manager(pluggy.PluginManager):
    def parse_hookimpl_opts(self, plugin, name: str):
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name in hookspecs.TRAINING_HOOKS and callable(getattr(plugin, name, None)):
            return dict(_PLAIN_OPTS)  # a plain method named like a hook counts as its implementation
        return opts


class Callbacks:
    def __init__(self, callbacks=()):
        self.manager = _Manager(hookspecs.PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self.errors: list[str] = []
        if callbacks is not None and not isinstance(callbacks, (list, tuple)):
            raise ConfigTypeError(f"callbacks must be a list of callback objects, got {type(callbacks).__name__}")
        for i, callback in enumerate(callbacks or ()):
            name = f"{type(callback).__name__}#{i}"
            try:
                self.manager.register(callback, name=name)
            except (pluggy.PluginValidationError, ValueError) as exc:
                raise ConfigTypeError(f"callback {name} does not fit the training hooks "
                                      f"({', '.join(hookspecs.TRAINING_HOOKS)}): {exc}") from None
        self._active = {h for h in hookspecs.TRAINING_HOOKS if getattr(self.manager.hook, h).get_hookimpls()}

    def wants(self, hook: str) -> bool:
        return hook in self._active

    def call(self, hook: str, **kwargs) -> None:
        if hook not in self._active:
            return
        for impl in reversed(getattr(self.manager.hook, hook).get_hookimpls()):  # registration order
            try:
                impl.function(*(kwargs[arg] for arg in impl.argnames))
            except Exception as exc:  # noqa: BLE001 - a callback must never end training
                message = f"callback {impl.plugin_name} failed in {hook}: {type(exc).__name__}: {exc}"
                self.errors.append(message)
                warnings.warn(message, CallbackWarning, stacklevel=2)
