"""`digits/reconstruction`: reconstruct scikit-learn's bundled 8x8 handwritten digits (offline).

Inputs are the 1797 images scaled to [0, 1], shaped (1, 8, 8); the target is the input itself.
The split is a fixed shuffle (seed 0): 60% train, 20% validation, 20% test. The loss and the
reported metric are the mean squared error per pixel.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArrayTask, mse

__all__ = ["digits_reconstruction_task"]


def _mse_metric() -> dict:
    from torchmetrics import MeanSquaredError

    return {"mse": MeanSquaredError()}


def digits_reconstruction_task(name: str = "digits/reconstruction") -> ArrayTask:
    from sklearn.datasets import load_digits

    images = (load_digits().images[:, None] / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(images))
    cut_val, cut_test = int(0.6 * len(images)), int(0.8 * len(images))
    parts = {"train": order[:cut_val], "val": order[cut_val:cut_test], "test": order[cut_test:]}
    return ArrayTask(name, "regression", {split: (images[idx], images[idx]) for split, idx in parts.items()},
                     output_dim=images[0].size, extra={"reconstruction": True}, loss=mse, metrics=_mse_metric)
