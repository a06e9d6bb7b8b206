"""PaperZoo plugin for NoProp: Training Neural Networks without Back-propagation or
Forward-propagation (Li, Teh & Pascanu, 2025, arXiv:2503.24322), discrete-time version (NoProp-DT):
the model `noprop-dt` (T denoising blocks, class embeddings, a classifier; its forward pass is the
inference chain from noise) and the training method `noprop`, which trains every block on its own to
predict the clean label embedding from the image and a noisy embedding drawn from the fixed noising
process, with the paper's loss (classifier term, KL term, SNR-weighted denoising terms).

Where the code departs from the paper, and why:
- The expectation over the block index t in the loss is taken exactly (every block, every batch,
  in one optimizer step) instead of sampling t or looping over blocks: each block's parameters still
  get only their own term's gradient, and the shared embeddings and classifier the paper's sum.
- The class embeddings are learned, of dimension num_classes by default and initialised one-hot
  (the paper compares one-hot, learned and prototype embeddings).
- The image path's convolutions are sized for the input: three 3x3 convolutions (conv_width x 1, 2,
  4 channels; 32, 64, 128 by default) each followed by 2x2 max pooling, which takes an 8x8 digit to
  1x1. The reproduction scales the widths down 4x and raises the learning rate to 1e-2 (it has ~135
  optimizer steps against the paper's ~47k; see DOC.md).
- Several defaults (eta, the optimizer settings, the block widths, dropout) were set from memory of
  the paper and could not be checked against it; DOC.md lists them.
- Inference draws z_0 and the chain's noise from a generator seeded by `inference_seed`, so that
  evaluating a model twice gives the same prediction and leaves torch's global generator alone;
  one draw is shared by the rows of a batch, so a row's prediction does not depend on its batch.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, ModelSpec, hookimpl


def _build(config):
    from .model import NoPropNet

    return NoPropNet(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.in_chans, config.image_size, config.image_size),)


def _from_task(values: dict, info) -> dict:
    """Channels, image size and classes from an image-classification task with square images."""
    shape = info.input_shape
    if info.kind != "classification" or len(shape) != 3 or shape[1] != shape[2]:
        raise ValueError(f"noprop-dt needs a classification task with square images (C, H, H); got a {info.kind} "
                         f"task with inputs {shape}")
    return {"in_chans": shape[0], "image_size": shape[1], "num_classes": info.num_classes,
            "embedding_dim": values.get("embedding_dim", info.num_classes)}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .model import NoPropConfig

    return [ModelSpec("noprop-dt", NoPropConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import NoProp

    return [MethodSpec(name="noprop", build=NoProp)]
