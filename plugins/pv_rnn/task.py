"""`pv-rnn/pfsm`: 2-D sequences from a probabilistic finite-state machine, the kind of target of
PV-RNN's first experiment (Ahmadi & Tani 2019: a PFSM whose states emit movement
primitives, with probabilistic transitions, so the sequences mix deterministic segments with
random branching).

The machine (`PFSM`) has three states, each emitting one primitive of `period` steps (a circle, a
figure eight, a diagonal back-and-forth, amplitude 0.8); from state A the next state is B with
probability 0.7 or C with 0.3, and from B and C it is always A. A sequence starts in a random state
and chains `primitives` primitives, with Gaussian noise of std `noise`. This generator lives here
(it is not one of the shared dynamics generators).

Splits: train (index, sequence) pairs, one adaptive posterior per training sequence (the model's
`sequences`); val and test are fresh sequences for error regression, with the same index 0
(posteriors of test sequences are inferred, not stored).
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArraySplit, Task, TaskInfo

__all__ = ["PFSM", "TRANSITIONS", "primitive", "pfsm_sequences", "PFSMTask"]

PFSM = ("A", "B", "C")
TRANSITIONS = np.array([[0.0, 0.7, 0.3],   # from A: to B 0.7, to C 0.3
                        [1.0, 0.0, 0.0],   # from B: to A
                        [1.0, 0.0, 0.0]])  # from C: to A
AMPLITUDE = 0.8


def primitive(state: int, period: int) -> np.ndarray:
    """The (period, 2) movement state `state` emits: 0 circle, 1 figure eight, 2 diagonal back-and-forth."""
    phase = 2 * np.pi * np.arange(period) / period
    if state == 0:
        return AMPLITUDE * np.stack([np.sin(phase), 1 - np.cos(phase)], -1) - [0, AMPLITUDE]
    if state == 1:
        return AMPLITUDE * np.stack([np.sin(phase), np.sin(2 * phase)], -1)
    if state == 2:
        return AMPLITUDE * np.stack([np.sin(phase), -np.sin(phase)], -1)
    raise ValueError(f"state must be 0, 1 or 2, got {state!r}")


def pfsm_sequences(count: int, primitives: int, period: int, rng: np.random.Generator,
                   noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """`count` sequences (count, primitives * period, 2) and their state paths (count, primitives)."""
    states = np.empty((count, primitives), dtype=np.int64)
    states[:, 0] = rng.integers(0, 3, count)
    for k in range(1, primitives):
        for i in range(count):
            states[i, k] = rng.choice(3, p=TRANSITIONS[states[i, k - 1]])
    shapes = np.stack([primitive(s, period) for s in range(3)])  # (3, period, 2)
    sequences = shapes[states].reshape(count, primitives * period, 2)
    if noise:
        sequences = sequences + rng.normal(0.0, noise, sequences.shape)
    return sequences, states


class PFSMTask(Task):
    """Options: n_train, n_val, n_test, primitives, period, noise, seed."""

    kind = "forecasting"

    def __init__(self, n_train: int = 16, n_val: int = 8, n_test: int = 32, primitives: int = 8, period: int = 12,
                 noise: float = 0.05, seed: int = 0, name: str = "pv-rnn/pfsm"):
        for label, value, low in (("n_train", n_train, 1), ("n_val", n_val, 1), ("n_test", n_test, 1),
                                  ("primitives", primitives, 2), ("period", period, 2)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 100_000:
                raise ValueError(f"{label} must be an int in [{low}, 100000], got {value!r}")
        if not (isinstance(noise, (int, float)) and 0 <= noise < 10):
            raise ValueError(f"noise must be a number in [0, 10), got {noise!r}")
        self.name, self.seed, self.period, self.primitives = name, seed, period, primitives
        rng = np.random.default_rng(seed)
        self.data, self.states = {}, {}
        for split, count in (("train", n_train), ("val", n_val), ("test", n_test)):
            self.data[split], self.states[split] = pfsm_sequences(count, primitives, period, rng, noise)
        self._splits = {"train": ArraySplit(np.arange(n_train), self.data["train"])}
        for split in ("val", "test"):
            self._splits[split] = ArraySplit(np.zeros(len(self.data[split]), dtype=np.int64), self.data[split])
        self.info = TaskInfo(kind="forecasting", input_shape=(), output_dim=2,
                             extra={"sequences": n_train, "length": primitives * period, "period": period})

    def splits(self) -> dict:
        return dict(self._splits)

    def loss(self, output, batch):
        from zoo.tasks import mse

        return mse(output["output"], batch[1])
