"""`sort-of-clevr`: a generated visual question-answering task in the style of Sort-of-CLEVR
(Santoro et al., 2017, "A simple neural network module for relational reasoning", arXiv:1706.01427).

Each scene is a small RGB image with six objects, one of each colour, each a square or a circle,
on a black background. Every scene comes with 6 questions per colour X, encoded as three tokens
(kind, subtype, colour) like the original 11-bit encoding:

    non-relational: shape of X? (circle/square)  X on the left or right?  X at the top or bottom?
    relational:     shape of the object closest to X?  ... furthest from X?
                    how many objects have the shape of X? (1-6, X included)

Answers are one of 12 words. Scenes are drawn with numpy from a fixed seed per split, so the data
is identical on every machine; scenes where the closest or furthest object is tied are redrawn so
every answer is unique. `questions=` restricts a task to one kind (same scenes, same order), which
is how relational and non-relational accuracy are measured apart.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from zoo.tasks import Task, TaskInfo

__all__ = ["SortOfCLEVR", "COLORS", "ANSWERS", "VOCAB", "QUESTION_TYPES"]

COLORS = ("red", "green", "blue", "orange", "gray", "yellow")
_RGB = np.array([(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 0.5, 0), (0.5, 0.5, 0.5), (1, 1, 0)], dtype=np.float32)
SHAPES = ("circle", "square")
ANSWERS = ("circle", "square", "left", "right", "top", "bottom", "1", "2", "3", "4", "5", "6")
QUESTION_TYPES = (("non-relational", "shape"), ("non-relational", "horizontal"), ("non-relational", "vertical"),
                  ("relational", "closest"), ("relational", "furthest"), ("relational", "count"))
VOCAB = ("<pad>", "non-relational", "relational", "shape", "horizontal", "vertical", "closest", "furthest",
         "count", *COLORS)
_TOKEN = {word: i for i, word in enumerate(VOCAB)}
# question index q = type * 6 + colour; tokens (kind, subtype, colour)
QUESTIONS = torch.tensor([[_TOKEN[kind], _TOKEN[sub], _TOKEN[color]]
                          for kind, sub in QUESTION_TYPES for color in COLORS], dtype=torch.long)
RELATIONAL = torch.tensor([kind == "relational" for kind, _ in QUESTION_TYPES for _ in COLORS])


def _draw_scene(rng: np.random.Generator, cells: np.ndarray, half: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres (6, 2) as (row, col), squared distances (6, 6) (NaN on the diagonal) and shapes (6,)
    of a scene whose objects neither touch nor tie for closest or furthest."""
    while True:
        free = np.ones(len(cells), dtype=bool)
        centres = []
        for _ in COLORS:  # place objects one at a time on cells that keep a 1-pixel gap
            if not free.any():
                break
            centre = cells[rng.choice(np.flatnonzero(free))]
            centres.append(centre)
            free &= ((cells - centre) ** 2).sum(-1) > (2 * half + 1) ** 2
        if len(centres) < len(COLORS):
            continue
        centres = np.array(centres)
        d2 = ((centres[:, None] - centres[None]) ** 2).sum(-1).astype(float)
        np.fill_diagonal(d2, np.nan)
        nearest, farthest = np.nanmin(d2, axis=1, keepdims=True), np.nanmax(d2, axis=1, keepdims=True)
        if ((d2 == nearest).sum(1) > 1).any() or ((d2 == farthest).sum(1) > 1).any():
            continue
        return centres, d2, rng.integers(0, len(SHAPES), size=len(COLORS))


def _answers(centres: np.ndarray, d2: np.ndarray, shapes: np.ndarray, size: int) -> np.ndarray:
    """Answer index of each of the 36 questions about one scene, in QUESTIONS order."""
    middle = (size - 1) / 2
    return np.concatenate([
        shapes,                                                   # circle 0, square 1
        np.where(centres[:, 1] < middle, 2, 3),                   # left, right
        np.where(centres[:, 0] < middle, 4, 5),                   # top, bottom
        shapes[np.nanargmin(d2, axis=1)],                         # shape of the closest
        shapes[np.nanargmax(d2, axis=1)],                         # shape of the furthest
        5 + (shapes[:, None] == shapes[None]).sum(1),             # count: "1" is answer 6
    ])


def _paint(centres: np.ndarray, shapes: np.ndarray, size: int, half: int) -> np.ndarray:
    image = np.zeros((3, size, size), dtype=np.float32)
    offsets = np.arange(-half, half + 1)
    disk = offsets[:, None] ** 2 + offsets[None] ** 2 <= (half + 0.3) ** 2
    for (row, col), shape, rgb in zip(centres, shapes, _RGB):
        mask = disk if SHAPES[shape] == "circle" else np.ones_like(disk)
        patch = image[:, row - half: row + half + 1, col - half: col + half + 1]
        patch[:, mask] = rgb[:, None]
    return image


def generate(n_scenes: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (n, 3, size, size) in [0, 1], answers (n, 36)) drawn from `seed`."""
    rng = np.random.default_rng(seed)
    half = max(1, size // 12)
    axis = np.arange(half, size - half)
    cells = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    images, answers = np.empty((n_scenes, 3, size, size), np.float32), np.empty((n_scenes, 36), np.int64)
    for i in range(n_scenes):
        centres, d2, shapes = _draw_scene(rng, cells, half)
        images[i] = _paint(centres, shapes, size, half)
        answers[i] = _answers(centres, d2, shapes, size)
    return torch.from_numpy(images), torch.from_numpy(answers)


class SceneQuestions(Dataset):
    """Every (scene, question) pair of a split as (image, question tokens, answer). Indexing with a
    list, tensor or slice of indices returns a whole batch at once (`zoo.train` uses this)."""

    batched_indexing = True

    def __init__(self, images: torch.Tensor, answers: torch.Tensor, question_ids: torch.Tensor):
        self.images, self.answers, self.question_ids = images, answers, question_ids

    def __len__(self) -> int:
        return len(self.images) * len(self.question_ids)

    def __getitem__(self, index):
        index = torch.arange(len(self))[index] if isinstance(index, slice) else torch.as_tensor(index)
        scene, j = index // len(self.question_ids), index % len(self.question_ids)
        q = self.question_ids[j]
        return self.images[scene], QUESTIONS[q], self.answers[scene, q]


class SortOfCLEVR(Task):
    """Generated relational / non-relational visual questions; batches are (image, question, answer)."""

    name = "sort-of-clevr"
    kind = "classification"

    def __init__(self, image_size: int = 16, n_train: int = 4000, n_val: int = 500, n_test: int = 1000,
                 questions: Literal["all", "relational", "non-relational"] = "all", seed: int = 0):
        if not isinstance(image_size, int) or image_size < 12:
            raise ValueError(f"image_size must be an int >= 12 (six objects must fit), got {image_size!r}")
        for label, n in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)):
            if not isinstance(n, int) or n < 1:
                raise ValueError(f"{label} must be a positive int number of scenes, got {n!r}")
        if questions not in ("all", "relational", "non-relational"):
            raise ValueError(f"questions must be 'all', 'relational' or 'non-relational', got {questions!r}")
        self.image_size, self.questions, self.seed = image_size, questions, seed
        self.sizes = {"train": n_train, "val": n_val, "test": n_test}
        self.info = TaskInfo("classification", (3, image_size, image_size), len(ANSWERS), len(ANSWERS),
                             extra={"vocab_size": len(VOCAB), "question_length": QUESTIONS.shape[1],
                                    "answers": ANSWERS, "vocab": VOCAB})
        self._splits: dict | None = None

    def splits(self) -> dict:
        if self._splits is None:
            keep = {"all": torch.ones_like(RELATIONAL), "relational": RELATIONAL,
                    "non-relational": ~RELATIONAL}[self.questions]
            question_ids = torch.nonzero(keep).flatten()
            self._splits = {}
            for offset, (split, n) in enumerate(self.sizes.items()):
                images, answers = generate(n, self.image_size, seed=self.seed * 1000 + offset)
                self._splits[split] = SceneQuestions(images, answers, question_ids)
        return self._splits

    def inputs(self, batch) -> tuple:
        return (batch[0], batch[1])

    def targets(self, batch):
        return batch[2]

    def loss(self, output, batch):
        return F.cross_entropy(output, batch[2])

    def metrics(self) -> dict:
        from torchmetrics.classification import MulticlassAccuracy

        return {"accuracy": MulticlassAccuracy(num_classes=len(ANSWERS), average="micro")}
