"""Conformance checks every plugin model must pass, for first- and third-party authors alike.

    from zoo.testing import assert_conforms
    def test_my_model():
        assert_conforms("my-model")                 # default config
        assert_conforms("my-model", width=[3, 4])   # any config overrides

Checks: the catalog documents the config class exactly; every variant's config round-trips
through JSON; the size the zoo finds before building (`ModelSpec.count_params`, else a meta-device
build) is the built model's; building is deterministic under a seed; forward gives finite outputs
and is deterministic; backward reaches the parameters with finite gradients; the state dict
survives a safetensors round trip (strict load, same outputs); the model moves to the best device
and back.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml

from .config import describe_fields
from .registry import Registry, default_registry

__all__ = ["ConformanceError", "assert_conforms", "conformance_report", "catalog_config_block", "tensors_in"]


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


def catalog_config_block(config_cls) -> str:
    """The `config:` YAML block a catalog entry needs for this config class."""
    fields = [{"name": f.name, "type": f.type, "default": f.default, "doc": f.doc} for f in describe_fields(config_cls)]
    return yaml.safe_dump({"config": fields}, sort_keys=False, width=120)


def _best_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _outputs(model, inputs: tuple, seed: int = 0) -> list:
    import torch

    model.eval()
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
        try:
            problem = fn()
        except Exception as exc:  # a check that crashes has failed, with its reason
            problem = f"{type(exc).__name__}: {exc}"
        report[label] = problem or "ok"

    def catalog_matches() -> str | None:
        documented = [(f.name, f.type, f.default, f.doc) for f in entry.config]
        actual = [(f.name, f.type, f.default, f.doc) for f in describe_fields(spec.config)]
        if documented != actual:
            return (f"the catalog's config block for {name!r} ({entry.source}) differs from "
                    f"{spec.config.__name__}; replace it with:\n{catalog_config_block(spec.config)}")
        return None

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
        return None

    def backward() -> str | None:
        model.train()
        model.zero_grad(set_to_none=True)
        torch.manual_seed(0)
        loss = sum(t.float().sum() for t in tensors_in(model(*inputs)) if t.requires_grad)
        if not torch.is_tensor(loss):
            return "no output depends on a trainable parameter"
        loss.backward()
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

    check("size known before building", size_known_before_building)
    check("deterministic build under a seed", deterministic_build)
    check("forward", forward)
    check("backward", backward)
    check("safetensors state-dict round trip", safetensors_round_trip)
    check("device move", device_move)
    return report


def _format(name: str, report: dict[str, str]) -> str:
    failed = {k: v for k, v in report.items() if v != "ok"}
    return f"{name!r} fails {len(failed)} conformance check(s):\n" + "\n".join(
        f"- {k}: {v}" for k, v in failed.items())


def assert_conforms(name: str, registry: Registry | None = None, *, batch_size: int = 4, **config) -> None:
    """Raise ConformanceError naming every failed check (for use in a plugin's tests)."""
    report = conformance_report(name, registry, batch_size=batch_size, **config)
    if any(v != "ok" for v in report.values()):
        raise ConformanceError(_format(name, report))
