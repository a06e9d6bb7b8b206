"""The multi-task problem of this paper's reproduction: `multitask/rotated-digits`, classify a
rotated 8x8 digit and regress the angle it was rotated by, from one image.

Each image of the zoo's `digits` task (same train / val / test split) is rotated once by an angle
drawn uniformly from [-max_angle, max_angle] degrees (seeded), with bilinear interpolation about the
image centre. The two targets have different units and scales, as depth and semantics do in the
paper: the angle in degrees (a squared error in the hundreds at first) and the digit's class (a
cross entropy of about 2.3 at first).

A model gives one vector per image, [angle, 10 digit logits] (output_dim 11): a shared trunk with
two heads, or any model sized to 11 outputs. The task's `loss_terms` gives the two losses by name
({"angle": MSE, "digit": cross entropy}) and `loss_term_kinds` says which is which, for loss
combiners; `loss` (evaluation, and training without a combiner) is their unweighted sum.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArraySplit, Task, TaskInfo, accuracy_metric, cross_entropy, error_metric, mse

__all__ = ["RotatedDigitsTask", "rotated_digits_task", "rotate_images"]

NAME = "multitask/rotated-digits"
CLASSES = 10


def rotate_images(images: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """images (n, 1, 8, 8) rotated by `angles` degrees (counter-clockwise) about their centres,
    bilinear, zero outside (the digits' background)."""
    from scipy.ndimage import rotate

    return np.stack([rotate(image[0], angle, reshape=False, order=1, mode="constant", cval=0.0)[None]
                     for image, angle in zip(images, angles)]).astype(np.float32)


def _angle(output):
    return output[..., :1]


def _logits(output):
    return output[..., 1:]


def _first(targets):
    return targets[0]


def _second(targets):
    return targets[1]


class RotatedDigitsTask(Task):
    """Digit class and rotation angle of rotated 8x8 digits (see the module docstring).

    Batches are (image (n, 1, 8, 8), angle in degrees (n, 1), class id (n,)); targets are
    (angle, class id). Metrics: `angle_rmse` (degrees) and `digit_accuracy`.
    """

    name = NAME
    kind = "regression"  # one output vector with a custom loss; the zoo has no multi-task kind
    loss_term_kinds = {"angle": "regression", "digit": "classification"}

    def __init__(self, *, max_angle: float = 45.0, seed: int = 0):
        import zoo

        if not 0 < max_angle <= 180:
            raise ValueError(f"max_angle must lie in (0, 180] degrees, got {max_angle}")
        digits = zoo.get_task("digits").splits()
        rng = np.random.default_rng(seed)
        self._splits = {}
        for split in ("train", "val", "test"):
            images, labels = (t.numpy() for t in digits[split].tensors[:2])
            angles = rng.uniform(-max_angle, max_angle, len(images)).astype(np.float32)
            self._splits[split] = ArraySplit(rotate_images(images, angles), angles[:, None], labels)
        self.info = TaskInfo(kind=self.kind, input_shape=(1, 8, 8), output_dim=1 + CLASSES,
                             extra={"heads": {"angle": 1, "digit": CLASSES}, "max_angle": max_angle,
                                    "angle_std": max_angle / np.sqrt(3.0)})

    def splits(self) -> dict[str, ArraySplit]:
        return dict(self._splits)

    def targets(self, batch):
        return batch[1], batch[2]

    def loss_terms(self, output, batch) -> dict:
        angle, label = self.targets(batch)
        return {"angle": mse(_angle(output), angle), "digit": cross_entropy(_logits(output), label)}

    def loss(self, output, batch):
        terms = self.loss_terms(output, batch)
        return terms["angle"] + terms["digit"]

    def metrics(self) -> dict:
        from torchmetrics.wrappers import LambdaInputTransformer

        return {"angle_rmse": LambdaInputTransformer(error_metric("rmse"), transform_pred=_angle,
                                                     transform_target=_first),
                "digit_accuracy": LambdaInputTransformer(accuracy_metric(), transform_pred=_logits,
                                                         transform_target=_second)}


def rotated_digits_task(**options) -> RotatedDigitsTask:
    return RotatedDigitsTask(**options)

