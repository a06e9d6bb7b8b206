"""PaperZoo plugin for PowerNorm: Rethinking Batch Normalization in Transformers (Shen, Yao, Gholami,
Mahoney & Keutzer, 2020, arXiv:2003.07845).

Provides `powernorm`: a transformer encoder classifier whose normalisation layer is PowerNorm
(Algorithm 1: no mean subtraction, running quadratic mean in the forward pass, approximate
backpropagation through it with a moving average of the gradient statistic, batch-statistic warmup),
LayerNorm or BatchNorm, selected by `norm` (variants `layernorm`, `batchnorm`).

Departures from the paper (see model.py and DOC.md): an encoder classifier on the zoo's sequence
tasks instead of machine translation and language models; no padding mask; no per-token "group
scaling" before the norm (in the authors' code, not in Algorithm 1). Importing this module is
cheap; torch is imported when the model is built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import EncoderClassifier

    return EncoderClassifier(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    length = min(7, config.max_len)
    if config.vocab_size:
        return (torch.randint(config.vocab_size, (batch_size, length)),)
    return (torch.randn(batch_size, length, config.in_features),)


def _from_task(values: dict, info) -> dict:
    """Input side (tokens or values), classes and length from a sequence or classification task whose
    inputs are (length,) tokens or (length, features) values. seq/modular-add labels whole sequences."""
    if info.kind not in ("sequence", "classification") or len(info.input_shape) not in (1, 2):
        raise ValueError(f"powernorm needs a sequence task with inputs (length,) or (length, features); got a "
                         f"{info.kind} task with inputs {info.input_shape}")
    out = {"num_classes": info.num_classes or info.output_dim, "max_len": info.input_shape[0],
           "per_position": info.kind == "sequence" and "modulus" not in info.extra}
    if len(info.input_shape) == 1:
        out["vocab_size"] = int(info.extra.get("vocab_size") or info.extra.get("modulus") or info.output_dim)
    else:
        out.update(vocab_size=0, in_features=info.input_shape[1])
    return out


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import PowerNormTransformerConfig

    return [ModelSpec("powernorm", PowerNormTransformerConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task)]
