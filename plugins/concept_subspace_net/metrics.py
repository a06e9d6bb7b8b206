"""What the CSN reproduction measures: fairness of binary predictions with respect to a binary
protected attribute, and the consistency of predictions across a two-level label hierarchy."""

from __future__ import annotations

import numpy as np

__all__ = ["fairness_report", "hierarchy_report"]


def fairness_report(predicted: np.ndarray, label: np.ndarray, protected: np.ndarray) -> dict[str, float]:
    """accuracy; demographic-parity gap |P(y_hat=1 | s=1) - P(y_hat=1 | s=0)|; equalised-odds gap
    max over y of |P(y_hat=1 | s=1, y) - P(y_hat=1 | s=0, y)|."""
    predicted, label, protected = (np.asarray(a) for a in (predicted, label, protected))
    if not (predicted.shape == label.shape == protected.shape) or predicted.ndim != 1:
        raise ValueError(f"fairness_report expects three 1D arrays of one length, got {predicted.shape}, "
                         f"{label.shape}, {protected.shape}")
    rate = lambda mask: float(predicted[mask].mean()) if mask.any() else float("nan")  # noqa: E731
    parity = abs(rate(protected == 1) - rate(protected == 0))
    odds = max(abs(rate((protected == 1) & (label == y)) - rate((protected == 0) & (label == y))) for y in (0, 1))
    return {"accuracy": float((predicted == label).mean()), "parity_gap": parity, "odds_gap": odds}


def hierarchy_report(fine_pred, coarse_pred, fine, coarse, parent) -> dict[str, float]:
    """fine and coarse accuracy; consistency, the share of inputs whose predicted fine class lies
    under the predicted coarse class; severe-mistake share, the share of fine mistakes that also
    leave the true coarse class (lower: better mistakes)."""
    fine_pred, coarse_pred, fine, coarse, parent = (np.asarray(a) for a in (fine_pred, coarse_pred, fine, coarse,
                                                                             parent))
    wrong = fine_pred != fine
    return {"fine_accuracy": float((~wrong).mean()), "coarse_accuracy": float((coarse_pred == coarse).mean()),
            "consistency": float((parent[fine_pred] == coarse_pred).mean()),
            "severe_mistakes": float((parent[fine_pred[wrong]] != coarse[wrong]).mean()) if wrong.any() else 0.0}
