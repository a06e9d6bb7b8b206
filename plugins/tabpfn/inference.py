"""Using a trained TabPFN on one real dataset: numpy in, class probabilities out, in one forward
pass per ensemble member (Sec. 4.4 and 5 of Hollmann et al., 2022, arXiv:2207.01848).

The paper averages the predictions of several forward passes over the same data, each with the
class ids permuted and the feature columns rotated (the transformer's feature embedding is not
permutation invariant, so each view is a different "member"); the authors' code also alternates a
power transform, which we leave out. `ensemble=1` is the single plain view; the members run as
one batch through one forward pass.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["classify"]


@torch.no_grad()
def classify(model, x_train, y_train, x_test, *, ensemble: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities (n_test, C), the classes they refer to) for one dataset; y_train may hold any
    C <= max_classes labels. Members beyond the first permute the classes and rotate the features."""
    x_train, x_test = np.asarray(x_train, dtype=np.float32), np.asarray(x_test, dtype=np.float32)
    classes, codes = np.unique(np.asarray(y_train), return_inverse=True)
    cfg = model.config
    if x_train.ndim != 2 or x_test.ndim != 2 or x_train.shape[1] != x_test.shape[1] or len(codes) != len(x_train):
        raise ValueError(f"classify expects x_train (n, F), y_train (n,), x_test (m, F); got {x_train.shape}, "
                         f"{np.shape(y_train)}, {x_test.shape}")
    if x_train.shape[1] > cfg.max_features:
        raise ValueError(f"this TabPFN reads at most {cfg.max_features} features, the data have {x_train.shape[1]}")
    if len(classes) > cfg.max_classes:
        raise ValueError(f"this TabPFN scores at most {cfg.max_classes} classes, the labels have {len(classes)}")
    if ensemble < 1:
        raise ValueError(f"ensemble must be >= 1, got {ensemble}")
    rng = np.random.default_rng(seed)
    width, k = x_train.shape[1], len(classes)
    perms = [np.arange(k)] + [rng.permutation(k) for _ in range(ensemble - 1)]  # member's id of class c: perm[c]
    cols = [np.roll(np.arange(width), member % width) for member in range(ensemble)]
    model.eval()
    probs = model.predict_proba(  # all members in one batched forward pass
        torch.from_numpy(np.stack([x_train[:, c] for c in cols])),
        torch.from_numpy(np.stack([p[codes] for p in perms])),
        torch.from_numpy(np.stack([x_test[:, c] for c in cols])), num_classes=k).double().numpy()
    return np.mean([probs[member][:, perm] for member, perm in enumerate(perms)], axis=0), classes
