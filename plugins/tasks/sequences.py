"""Algorithmic sequence tasks, generated from a seeded generator.

- `seq/sort` (Pointer Networks, Vinyals et al. 2015, Sec. 4.3): the input is `length` numbers
  uniform in [0, 1), shape (length, 1); the target at output step i is the input position of the
  i-th smallest number (argsort), so a model outputs (batch, length, length) pointer logits.
- `seq/copy`: the input is `length` tokens from a vocabulary of `vocab_size` symbols; the target
  is the same sequence; a model outputs (batch, length, vocab_size) logits.
- `seq/modular-add` (as in "Grokking", Power et al. 2022): the input is a pair of tokens (a, b)
  in [0, modulus); the target is (a + b) mod modulus. Every pair appears once: `train_fraction` of
  the modulus^2 pairs train, a tenth of them validate, the rest test.

Metrics: per-position `accuracy`, and `exact_match` of whole output sequences for sort and copy.
"""

from __future__ import annotations

from zoo.tasks import ArrayTask

__all__ = ["sort_task", "copy_task", "modular_add_task"]


def _positive(**values) -> None:
    for label, value in values.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive int, got {value!r}")


def sort_task(name: str = "seq/sort", *, length: int = 10, n_train: int = 10000, n_val: int = 1000,
              n_test: int = 1000, seed: int = 0) -> ArrayTask:
    import torch

    _positive(length=length, n_train=n_train, n_val=n_val, n_test=n_test)
    generator = torch.Generator().manual_seed(seed)
    splits = {}
    for split, count in (("train", n_train), ("val", n_val), ("test", n_test)):
        x = torch.rand(count, length, 1, generator=generator)
        splits[split] = (x, x[..., 0].argsort(dim=1))
    return ArrayTask(name, "sequence", splits, num_classes=length,
                     extra={"length": length, "pointer": True, "seed": seed})


def copy_task(name: str = "seq/copy", *, length: int = 10, vocab_size: int = 10, n_train: int = 10000,
              n_val: int = 1000, n_test: int = 1000, seed: int = 0) -> ArrayTask:
    import torch

    _positive(length=length, vocab_size=vocab_size, n_train=n_train, n_val=n_val, n_test=n_test)
    generator = torch.Generator().manual_seed(seed)
    splits = {}
    for split, count in (("train", n_train), ("val", n_val), ("test", n_test)):
        x = torch.randint(vocab_size, (count, length), generator=generator)
        splits[split] = (x, x.clone())
    return ArrayTask(name, "sequence", splits, num_classes=vocab_size,
                     extra={"length": length, "vocab_size": vocab_size, "seed": seed})


def modular_add_task(name: str = "seq/modular-add", *, modulus: int = 97, train_fraction: float = 0.5,
                     seed: int = 0) -> ArrayTask:
    import torch

    _positive(modulus=modulus)
    if not 0.0 < train_fraction < 0.9:
        raise ValueError(f"train_fraction must be in (0, 0.9) to leave validation and test pairs, got {train_fraction!r}")
    a, b = torch.meshgrid(torch.arange(modulus), torch.arange(modulus), indexing="ij")
    pairs = torch.stack([a.flatten(), b.flatten()], dim=1)
    order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed))
    n_train, n_val = int(train_fraction * len(pairs)), int(0.1 * len(pairs))
    if n_train < 1 or n_val < 1:
        raise ValueError(f"modulus={modulus} gives too few pairs ({len(pairs)}) to split")
    parts = {"train": order[:n_train], "val": order[n_train:n_train + n_val], "test": order[n_train + n_val:]}
    splits = {split: (pairs[idx], (pairs[idx].sum(dim=1)) % modulus) for split, idx in parts.items()}
    return ArrayTask(name, "sequence", splits, num_classes=modulus,
                     extra={"length": 2, "vocab_size": modulus, "modulus": modulus, "seed": seed})
