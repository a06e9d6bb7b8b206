"""Sequential digits with a delay: scikit-learn's 8x8 digits read pixel by pixel (64 steps, as the
paper's sequential MNIST reads 784), then `length - 64` blank steps, classified at the last step.

The blank tail is what makes the memory long: the label is only in the first 64 steps, so a model
read out at step `length` must carry the digit across `length - 64` steps of zeros. `length=64` is
plain sequential digits; `permute=True` applies one fixed, seeded permutation to the 64 pixels
(the paper's permuted variant). Splits are those of the `digits` task (1149 / 288 / 360, stratified,
seed 0); pixels are scaled to [0, 1].
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArrayTask

__all__ = ["delayed_digits_arrays", "delayed_digits_task"]

PIXELS = 64


def delayed_digits_arrays(length: int = 512, permute: bool = False, seed: int = 0) -> dict:
    """{"train", "val", "test"}: (x (n, length, 1) float32, y (n,) int64)."""
    from zoo_plugins.tasks.tabular import load_sklearn_task

    if not isinstance(length, int) or length < PIXELS:
        raise ValueError(f"length must be an int >= {PIXELS} (the digit's pixels), got {length!r}")
    digits = load_sklearn_task("digits", seed=0)
    order = np.random.default_rng(seed).permutation(PIXELS) if permute else np.arange(PIXELS)
    out = {}
    for split, data in digits.splits().items():
        images, labels = (t.numpy() for t in data.tensors)
        x = np.zeros((len(images), length, 1), dtype=np.float32)
        x[:, :PIXELS, 0] = images.reshape(len(images), PIXELS)[:, order]
        out[split] = (x, labels.astype(np.int64))
    return out


def delayed_digits_task(length: int = 512, permute: bool = False, seed: int = 0) -> ArrayTask:
    name = "lssl/delayed-digits" + ("-permuted" if permute else "")
    return ArrayTask(name, "classification", delayed_digits_arrays(length, permute, seed), num_classes=10,
                     extra={"length": length, "delay": length - PIXELS, "permute": permute, "seed": seed})
