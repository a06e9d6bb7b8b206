"""Permuted digits: the digits task with one fixed random pixel permutation, the paper's permuted MNIST at 8x8."""

from __future__ import annotations

import torch

from zoo.tasks import ArrayTask

__all__ = ["pixel_permutation", "permuted_digits"]

PIXELS = 64


def pixel_permutation(permutation: int) -> torch.Tensor:
    """The pixel order of permutation number `permutation`: 0 is the identity (plain digits), any
    other number a random permutation of the 64 pixels fixed by that number."""
    if permutation == 0:
        return torch.arange(PIXELS)
    return torch.randperm(PIXELS, generator=torch.Generator().manual_seed(permutation))


def permuted_digits(permutation: int = 1, seed: int = 0) -> ArrayTask:
    """The `digits` task (same splits for a given `seed`) with its pixels shuffled by
    `pixel_permutation(permutation)`: as hard as digits for a fully connected net, but a new
    input-output mapping, like each task of the paper's permuted MNIST."""
    import zoo

    if not isinstance(permutation, int) or isinstance(permutation, bool) or permutation < 0:
        raise ValueError(f"permutation must be an int >= 0, got {permutation!r}")
    base = zoo.get_task("digits", seed=seed)
    order = pixel_permutation(permutation)
    splits = {}
    for name, split in base.splits().items():
        x, y = split.tensors[:2]
        splits[name] = (x.reshape(len(x), PIXELS)[:, order].reshape(x.shape), y)
    extra = {**base.info.extra, "permutation": permutation}
    return ArrayTask(f"digits/permuted-{permutation}", "classification", splits, num_classes=base.info.num_classes,
                     extra=extra)
