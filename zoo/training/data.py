"""What `zoo.train` accepts as data, turned into a `Task`, and the DataLoaders it iterates.

Data may be a task name, a `Task`, arrays ``(inputs, targets)`` or ``{"train": (x, y), "test": ...}``,
a torch ``Dataset`` of ``(input, target)`` samples or of dict samples (Hugging Face datasets' layout,
read through an input key and a target key), or a ``DataLoader`` of such batches. The training order is a
pure function of (seed, epoch), so a resumed run sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, Subset, TensorDataset

from ..errors import ConfigError, ConfigTypeError, ZooError
from ..tasks import ArraySplit, ArrayTask, Task, TaskInfo, cross_entropy, mse

__all__ = ["as_task", "EpochBatchSampler", "make_loader", "DataTask", "InMemoryBatches", "batches", "DICT_KEYS"]

# (input key, target key) pairs tried in order for dict samples when the caller names no keys
DICT_KEYS = (("input", "target"), ("inputs", "targets"), ("x", "y"), ("pixel_values", "labels"),
             ("input_ids", "labels"))


def _is_arrays(data: Any) -> bool:
    return (isinstance(data, (tuple, list)) and len(data) == 2
            and all(isinstance(a, (np.ndarray, torch.Tensor)) for a in data))


def _infer_kind(targets) -> str:
    return "regression" if torch.as_tensor(targets).is_floating_point() else "classification"


def _arrays_split(x, y) -> tuple:
    y = torch.as_tensor(y)
    if y.is_floating_point() and y.dim() == 1:
        y = y.unsqueeze(1)  # regression targets as (n, 1), the shape a model with one output gives
    return x, y


def _dict_keys(sample: Mapping, input_key: str | None, target_key: str | None) -> tuple[str, str]:
    """The (input, target) keys of dict samples: the keys named, or the first pair of DICT_KEYS present
    (a named key replaces its side of every pair)."""
    candidates = [(input_key or i, target_key or t) for i, t in DICT_KEYS]
    for pair in dict.fromkeys(candidates):
        if all(key in sample for key in pair):
            return pair
    have = f"the training data's dict samples have keys {', '.join(repr(k) for k in sample) or '(none)'}"
    for option, key in (("input_key", input_key), ("target_key", target_key)):
        if key is not None and key not in sample:
            raise ConfigError(f"{have}; {option}={key!r} is not one of them")
    if input_key is not None or target_key is not None:
        unnamed, defaults = ("target_key", [t for _, t in DICT_KEYS]) if target_key is None else \
            ("input_key", [i for i, _ in DICT_KEYS])
        raise ConfigError(f"{have}; none of the default keys {list(dict.fromkeys(defaults))} is there for "
                          f"{unnamed}: name it")
    raise ConfigError(f"{have}, none of the default (input, target) pairs {', '.join(map(str, DICT_KEYS))}; name "
                      f"them with input_key= and target_key=")


def _check_key(value, name: str) -> None:
    if value is not None and not isinstance(value, str):
        raise ConfigTypeError(f"{name} must be the name of a key of the data's dict samples (a str), got "
                              f"{type(value).__name__} {value!r:.80}")


class DataTask(Task):
    """A task around user datasets or loaders: a ``(input, target)`` per sample (or a dict read through
    an input key and a target key), a loss chosen from the targets (class ids: cross entropy, floats:
    MSE) unless given, metrics only when given."""

    def __init__(self, name: str, splits: dict[str, Any], *, loss=None, metrics=None, kind: str | None = None,
                 input_key: str | None = None, target_key: str | None = None):
        self.name = name
        self._splits, self._loss, self._metrics = splits, loss, metrics
        sample = _first_sample(splits["train"])
        self.keys = None
        if isinstance(sample, Mapping):
            self.keys = _dict_keys(sample, input_key, target_key)
        elif input_key is not None or target_key is not None:
            raise ConfigError(f"input_key / target_key name the keys of dict samples, but the training data gives "
                              f"samples of type {type(sample).__name__}")
        try:
            x, y = self.inputs(sample)[0], self.targets(sample)
            x, y = torch.as_tensor(x), torch.as_tensor(y)
        except (TypeError, IndexError, KeyError, ValueError, RuntimeError):
            if self.keys is not None:
                raise ConfigTypeError(f"the training data's dict samples must hold arrays or tensors under "
                                      f"{self.keys[0]!r} and {self.keys[1]!r}, got "
                                      f"{type(sample[self.keys[0]]).__name__} and {type(sample[self.keys[1]]).__name__}"
                                      f"; convert them in the Dataset (or pass a Task for other layouts)") from None
            raise ConfigTypeError(f"training data must give (input, target) pairs of arrays or tensors, got a sample "
                                  f"of type {type(sample).__name__}; pass a Task to describe other layouts") from None
        self.kind = kind or _infer_kind(y)
        self._classes = not y.is_floating_point()
        shape = tuple(x.shape[1:]) if isinstance(splits["train"], DataLoader) else tuple(x.shape)
        y_shape = tuple(y.shape[1:]) if isinstance(splits["train"], DataLoader) else tuple(y.shape)
        self.info = TaskInfo(kind=self.kind, input_shape=shape, output_dim=int(np.prod(y_shape)) if y_shape else 1)

    def splits(self) -> dict[str, Any]:
        return dict(self._splits)

    def inputs(self, batch) -> tuple:
        return (batch[self.keys[0]],) if self.keys is not None else (batch[0],)

    def targets(self, batch):
        return batch[self.keys[1]] if self.keys is not None else batch[1]

    def loss(self, output, batch):
        target = self.targets(batch)
        if self._loss is not None:
            return self._loss(output, target)
        if self._classes:
            return cross_entropy(output, target)
        if target.dim() == 1 and output.dim() == 2 and output.shape[1] == 1:
            target = target.unsqueeze(1)
        return mse(output, target.to(output.dtype))

    def metrics(self) -> dict[str, Any]:
        return self._metrics() if self._metrics is not None else {}


def _first_sample(data):
    if isinstance(data, DataLoader):
        return next(iter(data))
    if len(data) == 0:
        raise ConfigError("the training data is empty")
    return data[0]


def _as_split(value, what: str):
    if isinstance(value, (Dataset, DataLoader, ArraySplit)):
        return value
    if _is_arrays(value):
        return ArraySplit(*_arrays_split(*value))
    raise ConfigTypeError(f"{what} must be arrays (inputs, targets), a torch Dataset or a DataLoader, "
                          f"got {type(value).__name__}")


def as_task(data: Any, *, task_options: dict | None = None, loss=None, metrics=None, val=None,
            registry=None, input_key: str | None = None, target_key: str | None = None) -> Task:
    """The `Task` behind what the caller passed to train/evaluate (see the module docstring).
    input_key / target_key: the keys of dict samples (see `DICT_KEYS` for the defaults)."""
    _check_key(input_key, "input_key")
    _check_key(target_key, "target_key")
    keys = {"input_key": input_key, "target_key": target_key}
    if (input_key is not None or target_key is not None) and not _may_hold_dicts(data):
        raise ConfigError(f"input_key / target_key name the keys of the dict samples of a Dataset or DataLoader; "
                          f"they do not apply to {type(data).__name__} data (a task or arrays)")
    if task_options is not None and not isinstance(task_options, dict):
        raise ConfigTypeError(f"task_options must be a dict of a task's options, got {type(task_options).__name__}")
    for name, value in (("loss", loss), ("metrics", metrics)):
        if value is not None and not callable(value):
            raise ConfigTypeError(f"{name} must be a function, got {type(value).__name__} {value!r:.80}")
    if isinstance(data, Task):
        if task_options:
            raise ConfigError("task_options apply to a task name; this task is already built")
        return data
    if isinstance(data, str):
        from ..registry import default_registry

        return (registry or default_registry()).get_task(data, **(task_options or {}))
    try:
        return _data_task(data, loss, metrics, val, keys)
    except (ValueError, TypeError, RuntimeError, IndexError) as exc:
        if isinstance(exc, ZooError):
            raise
        # arrays that cannot be tensors, or splits that do not line up (e.g. rows of inputs and targets)
        kind = ConfigTypeError if isinstance(exc, TypeError) else ConfigError
        raise kind(f"cannot use this data for training: {type(exc).__name__}: {exc}") from exc


def _may_hold_dicts(data) -> bool:
    """Whether data could give dict samples: a Dataset or DataLoader, or splits that include one."""
    if isinstance(data, dict):
        return any(isinstance(v, (Dataset, DataLoader)) for v in data.values())
    return isinstance(data, (Dataset, DataLoader))


def _data_task(data: Any, loss, metrics, val, keys: dict) -> Task:
    if isinstance(data, dict):
        unknown = set(data) - {"train", "val", "test"}
        if unknown or "train" not in data:
            raise ConfigError(f"a dict of splits needs 'train' (and optionally 'val', 'test'), got "
                              f"{sorted(map(str, data))}")
        if all(_is_arrays(v) for v in data.values()):
            y = data["train"][1]
            return ArrayTask("arrays", _infer_kind(y), {k: _arrays_split(*v) for k, v in data.items()},
                             loss=loss, metrics=metrics)
        splits = {k: _as_split(v, f"split {k!r}") for k, v in data.items()}
        return DataTask("data", splits, loss=loss, metrics=metrics, **keys)
    if _is_arrays(data):
        splits = {"train": _arrays_split(*data)}
        if val is not None:
            splits["val"] = _arrays_split(*val) if _is_arrays(val) else val
        if all(isinstance(v, tuple) for v in splits.values()):
            return ArrayTask("arrays", _infer_kind(data[1]), splits, loss=loss, metrics=metrics)
        return DataTask("data", {k: _as_split(v, k) for k, v in splits.items()}, loss=loss, metrics=metrics, **keys)
    if isinstance(data, (Dataset, DataLoader)):
        splits = {"train": data}
        if val is not None:
            splits["val"] = _as_split(val, "val")
        return DataTask("data", splits, loss=loss, metrics=metrics, **keys)
    raise ZooError(f"cannot train on {type(data).__name__}: pass a task name (see `zoo tasks`), a zoo Task, "
                   f"arrays (inputs, targets), a dict of such splits, a torch Dataset or a DataLoader")


class EpochBatchSampler(BatchSampler):
    """Batches of indices in an order fixed by (seed, epoch); `skip` drops the first batches of the
    next pass (to resume inside an epoch). A BatchSampler, so Accelerate shards it across processes.
    Batches are lists, or with `as_tensors` index tensors, and slices when not shuffled (cheaper to
    index with: a slice of a tensor is a view, not a copy; Accelerate's sharding needs lists)."""

    def __init__(self, length: int, batch_size: int, *, shuffle: bool, seed: int, drop_last: bool,
                 as_tensors: bool = False):
        self.length, self.batch_size, self.shuffle, self.seed, self.drop_last = length, batch_size, shuffle, seed, drop_last
        self.as_tensors = as_tensors
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def order(self) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.length)
        seed = int(np.random.SeedSequence([self.seed, self.epoch]).generate_state(1)[0])
        return torch.randperm(self.length, generator=torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        full, rest = divmod(self.length, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self):
        skip, self.skip = self.skip, 0
        ranges = not self.shuffle and self.as_tensors
        order = None if ranges else self.order() if self.as_tensors else self.order().tolist()
        for start in range(skip * self.batch_size, self.length, self.batch_size):
            stop = min(start + self.batch_size, self.length)
            if stop - start < self.batch_size and self.drop_last:
                return
            yield slice(start, stop) if ranges else order[start:stop]


def _batched_indexing(dataset) -> bool:
    """True when dataset[list_of_indices] returns a collated batch (one indexing call per batch)."""
    if isinstance(dataset, Subset):
        return _batched_indexing(dataset.dataset)
    return isinstance(dataset, TensorDataset) or getattr(dataset, "batched_indexing", False)


class _WholeBatches(Dataset):
    """Fetches a batch with one fancy-indexing call (DataLoader's ``__getitems__`` protocol) instead
    of one call per sample and a collate: the difference that matters for small models. Subsets are
    indexed through to their base dataset."""

    def __init__(self, dataset):
        self.dataset, self.base, self.mapping = dataset, dataset, None
        while isinstance(self.base, Subset):
            indices = torch.as_tensor(self.base.indices)
            self.mapping = indices if self.mapping is None else indices[self.mapping]
            self.base = self.base.dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index):
        return self.dataset[index]

    def __getitems__(self, indices):
        index = indices if isinstance(indices, slice) else torch.as_tensor(indices)
        return self.base[index if self.mapping is None else self.mapping[index]]


def _as_is(batch):
    return batch


def make_loader(data, batch_size: int, *, shuffle: bool, seed: int, drop_last: bool = False,
                num_workers: int = 0, sharded: bool = False) -> tuple[DataLoader, EpochBatchSampler | None]:
    """A DataLoader over a split with an `EpochBatchSampler`; a DataLoader passed in is used as is.
    sharded: Accelerate will split its batches across processes."""
    if isinstance(data, DataLoader):
        return data, None
    if len(data) == 0:
        raise ConfigError("cannot iterate an empty split")
    batched = _batched_indexing(data)
    sampler = EpochBatchSampler(len(data), batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last,
                                as_tensors=batched and not sharded)
    # a private generator: creating an iterator must not draw from the global RNG (exact resume)
    common = dict(batch_sampler=sampler, num_workers=num_workers, generator=torch.Generator().manual_seed(seed))
    if batched:
        return DataLoader(_WholeBatches(data), collate_fn=_as_is, **common), sampler
    return DataLoader(data, **common), sampler


class InMemoryBatches:
    """Batches of an in-memory split read straight from its tensors, for one process: what a
    DataLoader does for such a split, without its per-batch machinery. Multi-process runs, worker
    processes and gradient accumulation (which needs Accelerate's end-of-data signal) use the
    DataLoader that Accelerate prepares instead."""

    def __init__(self, data, sampler: EpochBatchSampler, device: torch.device):
        self.fetch = _WholeBatches(data).__getitems__
        self.sampler, self.device = sampler, device
        self.move = device.type != "cpu"

    def __len__(self) -> int:
        return len(self.sampler)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __iter__(self):
        for index in self.sampler:
            batch = self.fetch(index)
            if self.move:
                batch = [t.to(self.device, non_blocking=True) if isinstance(t, torch.Tensor) else t for t in batch]
            yield batch


def batches(data, batch_size: int, accelerator, *, shuffle: bool, seed: int, drop_last: bool = False,
            num_workers: int = 0, grad_accumulation: int = 1) -> tuple[Any, EpochBatchSampler | None]:
    """What a run iterates over a split, and its sampler (None for a DataLoader passed in).

    One process, an in-memory split, no workers and no accumulation: `InMemoryBatches` (no
    DataLoader is built). Otherwise a DataLoader prepared by Accelerate (device placement, and
    sharding across processes)."""
    sharded = accelerator.num_processes > 1
    if (not isinstance(data, DataLoader) and not sharded and num_workers == 0 and grad_accumulation == 1
            and _batched_indexing(data)):
        if len(data) == 0:
            raise ConfigError("cannot iterate an empty split")
        sampler = EpochBatchSampler(len(data), batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last,
                                    as_tensors=True)
        return InMemoryBatches(data, sampler, accelerator.device), sampler
    loader, sampler = make_loader(data, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last,
                                  num_workers=num_workers, sharded=sharded)
    return accelerator.prepare_data_loader(loader), sampler
