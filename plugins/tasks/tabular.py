"""Real bundled data from scikit-learn: digits (8x8 images), iris, wine, breast cancer
(classification) and diabetes (regression). Nothing downloads: these sets ship inside sklearn.

Splits are stratified (classification) and fixed by `seed`: `test_fraction` of the data is the
test set, `val_fraction` of the data the validation set, the rest trains. Tabular features are
standardised with the training split's mean and std (no statistics from val/test leak in);
digits keep their image shape (1, 8, 8) with pixels scaled from 0..16 to [0, 1].
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArrayTask

__all__ = ["load_sklearn_task", "SKLEARN_SETS"]

# task name -> (sklearn loader, kind)
SKLEARN_SETS = {
    "digits": ("load_digits", "classification"),
    "iris": ("load_iris", "classification"),
    "wine": ("load_wine", "classification"),
    "breast-cancer": ("load_breast_cancer", "classification"),
    "diabetes": ("load_diabetes", "regression"),
}


def _split_indices(n: int, labels, val_fraction: float, test_fraction: float, seed: int):
    from sklearn.model_selection import train_test_split

    for label, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{label} must be in [0, 1), got {value!r}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(f"val_fraction + test_fraction must leave training data, got "
                         f"{val_fraction} + {test_fraction}")
    index = np.arange(n)
    rest, test = train_test_split(index, test_size=test_fraction, random_state=seed, stratify=labels)
    if val_fraction == 0:
        return {"train": rest, "test": test}
    train, val = train_test_split(rest, test_size=val_fraction / (1.0 - test_fraction), random_state=seed,
                                  stratify=None if labels is None else labels[rest])
    return {"train": train, "val": val, "test": test}


def load_sklearn_task(name: str, *, val_fraction: float = 0.16, test_fraction: float = 0.2, seed: int = 0,
                      standardize_target: bool = True) -> ArrayTask:
    """Build one of SKLEARN_SETS as an `ArrayTask`.

    standardize_target: (diabetes) scale the target by the training split's mean and std, so MSE is
        in units of target std; the scale is kept in ``task.info.extra["target_mean"/"target_std"]``.
    """
    import sklearn.datasets

    loader, kind = SKLEARN_SETS[name]
    bunch = getattr(sklearn.datasets, loader)()
    x, y = bunch.data.astype(np.float64), bunch.target
    classes = kind == "classification"
    parts = _split_indices(len(x), y if classes else None, val_fraction, test_fraction, seed)
    extra = {"source": f"sklearn.datasets.{loader}", "seed": seed}
    if name == "digits":
        x = (x / 16.0).reshape(-1, 1, 8, 8)
    else:
        mean, std = x[parts["train"]].mean(0), x[parts["train"]].std(0)
        x = (x - mean) / np.where(std > 0, std, 1.0)
        extra["feature_names"] = [str(f) for f in bunch.feature_names]
    if classes:
        extra["class_names"] = [str(c) for c in bunch.target_names]
        y = y.astype(np.int64)
    else:
        y = y.astype(np.float64).reshape(-1, 1)
        if standardize_target:
            mean, std = float(y[parts["train"]].mean()), float(y[parts["train"]].std())
            y = (y - mean) / std
            extra.update(target_mean=mean, target_std=std)
    splits = {split: (x[idx], y[idx]) for split, idx in parts.items()}
    return ArrayTask(name, kind, splits, num_classes=len(bunch.target_names) if classes else None, extra=extra)
