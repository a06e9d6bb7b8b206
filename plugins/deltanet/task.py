"""`deltanet/mqar`: multi-query associative recall (Arora et al., 2023, "Zoology"), the synthetic
recall task of the DeltaNet paper (Sec. 5.1), generated in code.

A sequence opens with `num_pairs` key-value pairs k_1 v_1 ... k_n v_n (distinct keys from the lower
half of the vocabulary, values from the upper half, token 0 left out as filler). The rest of the
sequence is filler with every key asked once more, at a random position after the pairs; the target
at a query position is the value bound to that key, and every other target is the ignore index. The
metric is the share of queries answered right (`accuracy`) and of sequences with every query right
(`exact_match`). Seeded and offline.
"""

from __future__ import annotations

from zoo.tasks import ArrayTask

__all__ = ["mqar_task", "mqar_arrays", "IGNORE"]

IGNORE = -100


def mqar_arrays(count: int, *, seq_len: int, num_pairs: int, vocab_size: int, generator):
    """(inputs, targets) of `count` MQAR sequences, both (count, seq_len) int64."""
    import torch

    keys_available = vocab_size // 2 - 1  # keys: 1 .. vocab/2 - 1; values: vocab/2 .. vocab - 1
    if num_pairs > keys_available:
        raise ValueError(f"num_pairs={num_pairs} needs as many distinct keys; vocab_size={vocab_size} gives "
                         f"{keys_available}")
    if seq_len < 3 * num_pairs:
        raise ValueError(f"seq_len={seq_len} must hold the {num_pairs} pairs and {num_pairs} queries "
                         f"(at least {3 * num_pairs})")
    keys = torch.rand(count, keys_available, generator=generator).argsort(1)[:, :num_pairs] + 1
    values = torch.randint(vocab_size // 2, vocab_size, (count, num_pairs), generator=generator)
    inputs = torch.zeros(count, seq_len, dtype=torch.long)
    inputs[:, 0:2 * num_pairs:2], inputs[:, 1:2 * num_pairs:2] = keys, values
    targets = torch.full((count, seq_len), IGNORE, dtype=torch.long)
    free = seq_len - 2 * num_pairs
    positions = torch.rand(count, free, generator=generator).argsort(1)[:, :num_pairs] + 2 * num_pairs
    order = torch.rand(count, num_pairs, generator=generator).argsort(1)  # which pair each query asks
    rows = torch.arange(count)[:, None]
    inputs[rows, positions] = keys.gather(1, order)
    targets[rows, positions] = values.gather(1, order)
    return inputs, targets


def mqar_task(name: str = "deltanet/mqar", *, seq_len: int = 64, num_pairs: int = 16, vocab_size: int = 128,
              n_train: int = 20000, n_val: int = 500, n_test: int = 1000, seed: int = 0) -> ArrayTask:
    import torch

    for label, value in (("seq_len", seq_len), ("num_pairs", num_pairs), ("vocab_size", vocab_size),
                         ("n_train", n_train), ("n_val", n_val), ("n_test", n_test)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{label} must be a positive int, got {value!r}")
    generator = torch.Generator().manual_seed(seed)
    splits = {split: mqar_arrays(count, seq_len=seq_len, num_pairs=num_pairs, vocab_size=vocab_size,
                                 generator=generator)
              for split, count in (("train", n_train), ("val", n_val), ("test", n_test))}
    return ArrayTask(name, "sequence", splits, num_classes=vocab_size, ignore_index=IGNORE,
                     extra={"seq_len": seq_len, "num_pairs": num_pairs, "vocab_size": vocab_size, "seed": seed})
