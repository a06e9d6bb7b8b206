"""PaperZoo: a model zoo in which every paper is a plugin.

    import zoo
    zoo.list_models("*kan*")
    model = zoo.create("kan", width=[2, 5, 1])

``import zoo`` imports neither torch nor any plugin: names are resolved on first use, and the
module-level functions act on a default `Registry` discovered from installed entry points.
"""

from __future__ import annotations

import importlib

from .errors import CatalogError, ConfigError, PluginError, UnknownNameError, ZooError


# public name -> module that defines it; imported on first attribute access
_LAZY = {
    "Registry": "registry",
    "ModelIdentity": "registry",
    "default_registry": "registry",
    "set_default_registry": "registry",
    "hookimpl": "hookspecs",
    "hookspec": "hookspecs",
    "ModelSpec": "hookspecs",
    "TaskSpec": "hookspecs",
    "MethodSpec": "hookspecs",
    "train": "training",
    "evaluate": "training",
    "TrainResult": "training",
    "StepContext": "training",
    "Method": "training",
    "MethodConfig": "training",
    "Config": "config",
    "Field": "config",
    "save": "weights",
    "load": "weights",
    "load_weights": "repo_files",
    "push_to_hub": "weights",
    "export": "exporting",
    "WeightsError": "errors",
    "UnsafeCheckpointError": "errors",
    "IntegrityError": "errors",
    "HubError": "errors",
    "ResourceError": "errors",
    "BusyError": "errors",
}

# module-level API: each forwards to the default registry
_REGISTRY_METHODS = (
    "list_models", "info", "create", "list_tasks", "task_info", "get_task",
    "list_methods", "method_info", "method", "plugins", "doctor", "model_spec", "resolve_config",
)

__all__ = sorted(
    ["CatalogError", "ConfigError", "PluginError", "UnknownNameError", "ZooError", "__version__",
     *_LAZY, *_REGISTRY_METHODS]
)


def __getattr__(name: str):
    if name == "__version__":
        from .version import installed_version

        value = installed_version()
    elif name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    elif name == "create":
        value = _create
        value.__name__ = "create"
    elif name in _REGISTRY_METHODS:
        from .registry import default_registry

        def forward(*args, _method=name, **kwargs):
            return getattr(default_registry(), _method)(*args, **kwargs)

        forward.__name__ = name
        forward.__doc__ = getattr(importlib.import_module(".registry", __name__).Registry, name).__doc__
        value = forward
    else:
        raise AttributeError(f"module 'zoo' has no attribute {name!r}")
    globals()[name] = value
    return value


def _create(name, *args, features_only: bool = False, out_indices=None, **kwargs):
    """Build a model: a catalog name ('arch', 'arch.tag') through the default registry (see
    `Registry.create` for the options), or 'hf-hub:org/name[@revision]', a zoo repo on the Hub, as
    `zoo.weights.create_from_hub` builds it (the installed plugin, never code from the repo; its
    weights unless pretrained=False; config values as keyword arguments override the repo's).

    features_only: as in timm, return a feature extractor over the model's stages (a list of
    feature maps) instead of the model; out_indices picks the stages (see `zoo.features`)."""
    from .hub import HUB_PREFIX
    from .registry import default_registry

    if not isinstance(features_only, bool):
        raise ConfigError(f"features_only={features_only!r:.80}: expected True or False")
    if isinstance(name, str) and name.startswith(HUB_PREFIX):  # built as zoo.load builds it
        from .weights import create_from_hub

        model = create_from_hub(name, *args, registry=default_registry(), **kwargs)
    else:
        model = default_registry().create(name, *args, **kwargs)
    if not features_only:
        if out_indices is not None:
            raise ConfigError("out_indices chooses the stages of features_only=True; give both or neither")
        return model
    from .features import features_only as extractor

    return extractor(model, str(name), out_indices)


def __dir__() -> list[str]:
    return __all__
