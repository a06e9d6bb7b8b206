"""Measure the activation memory of a training step: bytes of the tensors autograd holds for backward.

Every tensor an operation saves for its backward passes through torch.autograd.graph.
saved_tensors_hooks; `SavedTensorMeter` counts the distinct storages held at each moment (a tensor
saved by two operations, or a view of one, is counted once) and frees them from the count when
autograd drops them (after the backward that needs them, or when the graph is freed). Parameters
are not counted: they are held anyway. This is the memory that backprop must keep until its
backward and that a layer-local rule can free block by block; it is device-independent (CPU here).
"""

from __future__ import annotations

import torch

__all__ = ["SavedTensorMeter"]


class _Held:
    """What autograd keeps instead of a saved tensor while the meter is on; its end frees the count."""

    __slots__ = ("tensor", "key", "meter")

    def __init__(self, tensor: torch.Tensor, key: int, meter: "SavedTensorMeter"):
        self.tensor, self.key, self.meter = tensor, key, meter

    def __del__(self):
        self.meter._release(self.key)


class SavedTensorMeter:
    """Context manager: `live` (bytes held for backward now), `peak` (the most held at once) and
    `marks` (live bytes recorded by `mark(label)`) over what runs inside it."""

    def __init__(self, exclude: list[torch.Tensor] = ()):
        self._excluded = {t.untyped_storage().data_ptr() for t in exclude}
        self._held: dict[int, list[int]] = {}  # storage pointer -> [bytes, holders]
        self.live = self.peak = 0
        self.marks: list[tuple[str, int]] = []

    def _pack(self, tensor: torch.Tensor):
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key in self._excluded or storage.nbytes() == 0:
            return tensor
        entry = self._held.get(key)
        if entry is None:
            entry = self._held[key] = [storage.nbytes(), 0]
            self.live += entry[0]
            self.peak = max(self.peak, self.live)
        entry[1] += 1
        return _Held(tensor, key, self)

    @staticmethod
    def _unpack(packed):
        return packed.tensor if isinstance(packed, _Held) else packed

    def _release(self, key: int) -> None:
        entry = self._held.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.live -= entry[0]
            del self._held[key]

    def mark(self, label: str) -> None:
        self.marks.append((label, self.live))

    def __enter__(self) -> "SavedTensorMeter":
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)
