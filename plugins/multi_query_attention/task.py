"""`multi-query-attention/sort`: a generated sequence-to-sequence task for a decoder-only model.

Each sequence is `length` random symbols, a separator, then the same symbols sorted:
[a_1 .. a_n, SEP, s_1 .. s_n]. The model reads the sequence shifted by one and predicts every next
token; only the n answer tokens are scored (the prompt's targets are the ignore index), so the loss
and accuracy measure the sort alone. Greedy decoding of n tokens after the prompt [a, SEP] is the
model's answer (`MQATransformer.generate`). Seeded and offline.
"""

from __future__ import annotations

from zoo.tasks import ArrayTask

__all__ = ["sort_task", "IGNORE"]

IGNORE = -100


def sort_task(name: str = "multi-query-attention/sort", *, length: int = 12, symbols: int = 12,
              n_train: int = 10000, n_val: int = 1000, n_test: int = 1000, seed: int = 0) -> ArrayTask:
    import torch

    for label, value in (("length", length), ("symbols", symbols), ("n_train", n_train), ("n_val", n_val),
                         ("n_test", n_test)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{label} must be a positive int, got {value!r}")
    separator = symbols
    generator = torch.Generator().manual_seed(seed)
    splits = {}
    for split, count in (("train", n_train), ("val", n_val), ("test", n_test)):
        a = torch.randint(symbols, (count, length), generator=generator)
        sequence = torch.cat([a, torch.full((count, 1), separator), a.sort(dim=1).values], dim=1)
        targets = sequence[:, 1:].clone()
        targets[:, :length] = IGNORE  # predictions of the prompt are not scored
        splits[split] = (sequence[:, :-1], targets)
    return ArrayTask(name, "sequence", splits, num_classes=symbols + 1, ignore_index=IGNORE,
                     extra={"length": length, "symbols": symbols, "vocab_size": symbols + 1,
                            "prompt_length": length + 1, "seed": seed})
