"""`din/behaviour-ctr`: generated click-through data in the shape of DIN's (Zhou et al., 2018): each sample
is one user's behaviour sequence (goods, shop, category ids of items clicked before), one candidate ad and
whether it is clicked.

The generator (seeded, offline): goods belong to a category and a shop of that category; every good has a
latent vector near its category's. A user has 2 to 5 interests (categories, with weights) and a history of
5 to 30 goods drawn from them. The candidate is a good from one of the user's interests half of the time,
else from any category. The click probability depends on the candidate's closeness to the most similar
goods in the history: sigmoid(bias + scale * (mean of the top-3 latent similarities)), so only SOME of the
history matters for each ad, the situation the local activation unit is built for (Sec. 4.3)."""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArraySplit, Task, TaskInfo

__all__ = ["BehaviourTask", "generate"]

LATENT, TOP = 8, 3


def _world(rng: np.random.Generator, goods: int, shops: int, categories: int):
    category_of_shop = np.concatenate([np.arange(categories), rng.integers(0, categories, shops - categories)])
    category_of_good = rng.integers(0, categories, goods)
    shop_of_good = np.empty(goods, dtype=np.int64)
    for c in range(categories):
        members, its_shops = np.flatnonzero(category_of_good == c), np.flatnonzero(category_of_shop == c)
        shop_of_good[members] = rng.choice(its_shops, len(members))
    centres = rng.normal(size=(categories, LATENT))
    latent = centres[category_of_good] + 0.7 * rng.normal(size=(goods, LATENT))
    latent /= np.linalg.norm(latent, axis=1, keepdims=True)
    popularity = rng.pareto(1.5, goods) + 1.0  # skewed good frequencies, as real id features are
    return category_of_good, shop_of_good, latent, popularity


def _draw_goods(rng, categories_drawn: np.ndarray, members: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """One good per entry of `categories_drawn`, by popularity within its category (inverse CDF)."""
    u = rng.random(categories_drawn.shape)
    out = np.empty(categories_drawn.shape, dtype=np.int64)
    flat_c, flat_u, flat_out = categories_drawn.reshape(-1), u.reshape(-1), out.reshape(-1)
    for lo in range(0, flat_c.size, 50_000):  # chunks keep the (entries, members) comparison small
        c, v = flat_c[lo:lo + 50_000], flat_u[lo:lo + 50_000]
        slot = (v[:, None] > cdf[c]).sum(1)
        flat_out[lo:lo + 50_000] = members[c, slot]
    return out


def generate(n: int, seed: int, goods: int = 2000, shops: int = 200, categories: int = 40, length: int = 30,
             world_seed: int = 0, bias: float = -5.0, scale: float = 7.0, with_probability: bool = False):
    """(history (n, length, 3), candidate (n, 3), clicked (n,)) with ids shifted by 1 (0 is padding); with
    `with_probability`, also each sample's true click probability."""
    cat_of, shop_of, latent, popularity = _world(np.random.default_rng(world_seed), goods, shops, categories)
    groups = [np.flatnonzero(cat_of == c) for c in range(categories)]
    widest = max(len(g) for g in groups)
    members = np.zeros((categories, widest), dtype=np.int64)
    cdf = np.full((categories, widest), 2.0)  # past the end: never chosen
    for c, g in enumerate(groups):
        members[c, :len(g)] = g
        cdf[c, :len(g)] = np.cumsum(popularity[g]) / popularity[g].sum()
        cdf[c, len(g) - 1] = 1.0
    rng = np.random.default_rng(seed)
    most = min(5, categories)
    count = rng.integers(min(2, most), most + 1, n)  # 2 to 5 interests per user
    interests = rng.random((n, categories)).argsort(1)[:, :most]
    share = rng.gamma(1.0, size=(n, most)) * (np.arange(most) < count[:, None])  # Dirichlet(1) over the interests
    share /= share.sum(1, keepdims=True)
    slot = (rng.random((n, length, 1)) > np.cumsum(share, 1)[:, None, :-1]).sum(-1)
    past = _draw_goods(rng, np.take_along_axis(interests, slot, 1), members, cdf)
    size = rng.integers(5, length + 1, n)
    real = np.arange(length) < size[:, None]
    own = np.take_along_axis(interests, (rng.random(n) * count).astype(np.int64)[:, None], 1)[:, 0]
    ad_category = np.where(rng.random(n) < 0.5, own, rng.integers(0, categories, n))
    ad = _draw_goods(rng, ad_category, members, cdf)
    similarity = np.where(real, np.einsum("nld,nd->nl", latent[past], latent[ad]), -np.inf)
    closeness = np.sort(similarity, 1)[:, -TOP:].mean(1)
    probability = 1.0 / (1.0 + np.exp(-(bias + scale * closeness)))
    clicked = (rng.random(n) < probability).astype(np.int64)
    history = np.stack([past + 1, shop_of[past] + 1, cat_of[past] + 1], -1) * real[..., None]
    candidate = np.stack([ad + 1, shop_of[ad] + 1, cat_of[ad] + 1], -1)
    return (history, candidate, clicked, probability) if with_probability else (history, candidate, clicked)


class BehaviourTask(Task):
    """Click prediction for a (behaviour sequence, candidate ad) pair; metrics AUC (the paper's) and accuracy.

    Options: train_size, test_size (val is a tenth of train_size), seed (samples; the goods, shops and
    their latent vectors come from world_seed), goods, shops, categories, length.
    Batches are (history (length, 3) int64, candidate (3,) int64, clicked () int64). Once the splits are
    built, `test_probability` holds the generator's click probability of every test sample.
    """

    kind = "classification"

    def __init__(self, train_size: int = 30000, test_size: int = 10000, seed: int = 0, world_seed: int = 0,
                 goods: int = 2000, shops: int = 200, categories: int = 40, length: int = 30):
        if train_size < 10 or test_size < 1:
            raise ValueError(f"need train_size >= 10 and test_size >= 1, got {train_size}, {test_size}")
        if not (1 <= categories <= shops and categories <= goods) or length < 5:
            raise ValueError(f"need 1 <= categories ({categories}) <= shops ({shops}), categories <= goods ({goods}) "
                             f"and length >= 5 ({length})")
        self.name = "din/behaviour-ctr"
        self.options = dict(goods=goods, shops=shops, categories=categories, length=length, world_seed=world_seed)
        self.train_size, self.test_size, self.seed = train_size, test_size, seed
        self.info = TaskInfo(kind=self.kind, input_shape=(length, 3), output_dim=2, num_classes=2,
                             extra={"num_goods": goods, "num_shops": shops, "num_categories": categories,
                                    "history_length": length})
        self._splits = None

    def splits(self) -> dict:
        if self._splits is None:
            val = max(1, self.train_size // 10)
            train = generate(self.train_size + val, 3 * self.seed, **self.options)
            test = generate(self.test_size, 3 * self.seed + 1, with_probability=True, **self.options)
            self._splits = {"train": ArraySplit(*(a[val:] for a in train)),
                            "val": ArraySplit(*(a[:val] for a in train)),
                            "test": ArraySplit(*test[:3])}
            self.test_probability = test[3]
        return self._splits

    def inputs(self, batch) -> tuple:
        return (batch[0], batch[1])

    def targets(self, batch):
        return batch[2]

    def loss(self, output, batch):
        import torch.nn.functional as F

        return F.cross_entropy(output, batch[2])

    def metrics(self) -> dict:
        from torchmetrics.classification import BinaryAUROC
        from torchmetrics.wrappers import LambdaInputTransformer

        from zoo.tasks import accuracy_metric

        return {"auc": LambdaInputTransformer(BinaryAUROC(), transform_pred=_click_probability),
                "accuracy": accuracy_metric()}


def _click_probability(logits):
    return logits.softmax(-1)[:, 1]
