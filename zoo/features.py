"""Feature extraction as timm offers it: ``zoo.create(name, features_only=True, out_indices=...)`` wraps
a model whose stages timm can read (``forward_intermediates``) in timm's ``FeatureGetterNet``, which
returns the chosen stages' feature maps instead of the model's output."""

from __future__ import annotations

from .errors import ConfigError

__all__ = ["features_only"]

DEFAULT_OUT_INDICES = 4  # timm's default: the last four stages or blocks


def features_only(model, name: str, out_indices=None):
    """`model` as a feature extractor over the stages `out_indices` names: an int n takes the last
    n, a list takes those (negative counting from the end). timm prunes the model to those stages
    (its final norm and head go), so the extractor is for downstream use: zoo.save refuses it and
    its model; save a model built without features_only."""
    if not callable(getattr(model, "forward_intermediates", None)):
        raise ConfigError(f"features_only=True: model {name!r} has no stages to take features from (it does "
                          f"not define forward_intermediates, as timm's staged networks do)")
    if out_indices is None:
        out_indices = min(DEFAULT_OUT_INDICES, _stage_count(model))
    elif not (_is_index(out_indices) or (isinstance(out_indices, (list, tuple)) and out_indices
                                          and all(_is_index(i) for i in out_indices))):
        raise ConfigError(f"out_indices={out_indices!r:.80}: expected a number of last stages or a list of "
                          f"stage indices")
    from timm.models._features import FeatureGetterNet

    try:
        return FeatureGetterNet(model, out_indices=out_indices)
    except (AssertionError, IndexError, ValueError) as exc:
        raise ConfigError(f"out_indices={out_indices!r:.80} for model {name!r} with {_stage_count(model)} "
                          f"stage(s): {exc}") from None


def _is_index(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _stage_count(model) -> int:
    """How many stages forward_intermediates can return (timm lists them in feature_info)."""
    return len(getattr(model, "feature_info", None) or []) or DEFAULT_OUT_INDICES
