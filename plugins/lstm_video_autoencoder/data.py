"""Moving digits: the paper's Moving MNIST (Sec. 3.1) built from scikit-learn's 8x8 digits.

A sequence is `frames` frames of `frame_size` x `frame_size` pixels in [0, 1] in which one digit
moves in a straight line and bounces off the walls: its start is uniform over the frame, its
velocity a seeded choice of 1 or 2 pixels per frame along each axis (either sign), reflected at the
edges as in the paper's generator (which bounces two 28x28 MNIST digits in 64x64 frames). Digit
images come from the `digits` task's splits (1149 / 288 / 360, seed 0), so sequences built from
training digits never show a test digit.

- `moving-digits/video`: unsupervised; input the first `input_frames` frames, target the next
  `future_frames` (the composite model reconstructs the input and predicts the target).
  `n_train` sequences from training digits (each digit reused with fresh trajectories), val and
  test from the val and test digits.
- `moving-digits/classify`: which digit moves (10 classes), from all `frames` frames; only
  `per_class` labelled training sequences per class (the few-label setting of the paper's Table 3),
  val and test from the val and test digits.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from zoo.tasks import ArraySplit, ArrayTask, Task, TaskInfo

__all__ = ["digit_images", "trajectories", "moving_sequences", "MovingDigitsVideo", "moving_digits_classify"]

DIGIT = 8


@lru_cache(maxsize=1)
def digit_images() -> dict:
    """{"train", "val", "test"}: (images (n, 8, 8) float32 in [0, 1], labels (n,) int64), the `digits` splits
    (cached: every task built in one process shares them; callers index, never write, them)."""
    from zoo_plugins.tasks.tabular import load_sklearn_task

    task = load_sklearn_task("digits", seed=0)
    return {split: (data.tensors[0].numpy()[:, 0], data.tensors[1].numpy()) for split, data in task.splits().items()}


def trajectories(rng: np.random.Generator, count: int, frames: int, room: int) -> np.ndarray:
    """(count, frames, 2) integer top-left corners of digits moving in straight lines inside [0, room]
    and bouncing off the walls: the unfolded path p0 + v t reflected back into [0, room]."""
    start = rng.integers(0, room + 1, size=(count, 1, 2))
    velocity = rng.choice([-2, -1, 1, 2], size=(count, 1, 2))
    unfolded = start + velocity * np.arange(frames)[None, :, None]
    if room == 0:
        return np.zeros_like(unfolded)
    folded = np.mod(unfolded, 2 * room)
    return np.where(folded > room, 2 * room - folded, folded)


def moving_sequences(images: np.ndarray, frames: int, frame_size: int, rng: np.random.Generator) -> np.ndarray:
    """(n, frames, frame_size, frame_size) float32: each image moving along its own random trajectory."""
    if frame_size < DIGIT:
        raise ValueError(f"frame_size must be at least {DIGIT} (the digit), got {frame_size!r}")
    n = len(images)
    path = trajectories(rng, n, frames, frame_size - DIGIT)
    out = np.zeros((n, frames, frame_size, frame_size), dtype=np.float32)
    offset = np.arange(DIGIT)
    rows = path[:, :, 0, None, None] + offset[:, None]  # (n, frames, 8, 1)
    cols = path[:, :, 1, None, None] + offset[None, :]  # (n, frames, 1, 8)
    out[np.arange(n)[:, None, None, None], np.arange(frames)[None, :, None, None], rows, cols] = images[:, None]
    return out


def _check_sizes(**values) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


class MovingDigitsVideo(Task):
    """Unsupervised moving digits: batches (input frames, future frames); loss: the composite model's
    cross entropy of reconstruction (of the input) plus future prediction, summed over pixels and
    averaged over frames and sequences; metric `future_mse` of the predicted future frames."""

    kind = "forecasting"

    def __init__(self, input_frames: int = 10, future_frames: int = 10, frame_size: int = 16, n_train: int = 4000,
                 seed: int = 0, name: str = "moving-digits/video"):
        _check_sizes(input_frames=input_frames, future_frames=future_frames, frame_size=frame_size, n_train=n_train)
        self.name, self.input_frames, self.future_frames = name, input_frames, future_frames
        rng = np.random.default_rng(seed)
        images = digit_images()
        frames = input_frames + future_frames
        self._splits = {}
        for split, (pictures, _) in images.items():
            chosen = pictures[rng.integers(0, len(pictures), n_train)] if split == "train" else pictures
            video = moving_sequences(chosen, frames, frame_size, rng)
            self._splits[split] = ArraySplit(video[:, :input_frames], video[:, input_frames:])
        self.info = TaskInfo(kind=self.kind, input_shape=(input_frames, frame_size, frame_size),
                             output_dim=frame_size * frame_size,
                             extra={"input_frames": input_frames, "future_frames": future_frames,
                                    "frame_size": frame_size, "seed": seed})

    def splits(self) -> dict:
        return dict(self._splits)

    def inputs(self, batch) -> tuple:
        # the future frames go in too: a conditional predictor reads them while training (teacher forcing)
        return (batch[0], batch[1])

    def loss(self, output, batch):
        from .model import composite_loss

        return composite_loss(output, batch[0], batch[1])

    def metrics(self) -> dict:
        import torch
        from torchmetrics.wrappers import LambdaInputTransformer

        from zoo.tasks import error_metric

        return {"future_mse": LambdaInputTransformer(error_metric("mse"), transform_pred=lambda out: torch.sigmoid(out[1]))}


def moving_digits_classify(per_class: int = 10, frames: int = 10, frame_size: int = 16, seed: int = 0,
                           eval_repeats: int = 2) -> ArrayTask:
    """Which digit moves: `per_class` labelled training sequences per class; val / test: every val / test
    digit on `eval_repeats` trajectories each."""
    _check_sizes(per_class=per_class, frames=frames, frame_size=frame_size, eval_repeats=eval_repeats)
    rng = np.random.default_rng(seed + 1000)  # trajectories apart from the video task's of the same seed
    images = digit_images()
    splits = {}
    for split, (pictures, labels) in images.items():
        if split == "train":
            chosen = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in range(10)])
        else:
            chosen = np.tile(np.arange(len(pictures)), eval_repeats)
        splits[split] = (moving_sequences(pictures[chosen], frames, frame_size, rng), labels[chosen].astype(np.int64))
    return ArrayTask("moving-digits/classify", "classification", splits, num_classes=10,
                     extra={"frames": frames, "frame_size": frame_size, "per_class": per_class, "seed": seed})
