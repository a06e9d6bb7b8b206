"""The planar convex hull task of the Pointer Networks paper (Sec. 4.2), and sorting, generated in code.

Points are uniform in [0, 1]^2. The target is the hull's vertices in counter-clockwise order,
starting from the vertex with the lowest index (the paper's canonical order), as output positions
1..n, then the end symbol 0, padded with -100 to n+1 steps.

Metrics follow the paper: exact-match `accuracy` of the whole output sequence, `area_coverage`
(area of the predicted polygon over the true hull's area, on valid outputs) and `valid` (the
fraction of outputs that are simple polygons: end symbol emitted, >= 3 distinct vertices, no
self-intersection; the paper reports "FAIL" when most outputs are not).
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArraySplit, Task, TaskInfo

__all__ = ["ConvexHullTask", "SortTask", "hull_targets", "polygon_area", "is_simple_polygon"]

IGNORE = -100


def hull_targets(points: np.ndarray) -> np.ndarray:
    """(N, n, 2) points -> (N, n+1) int64 targets: 1-based CCW hull from its lowest index, 0, -100s.

    Vectorised over instances: i -> j is a counter-clockwise hull edge when every other point lies
    strictly left of it (O(n^3) per instance, cheap for the small n of this task and far faster
    than building one Qhull object per instance); the hull is then walked edge by edge.
    """
    count, n = points.shape[:2]
    out = np.full((count, n + 1), IGNORE, dtype=np.int64)
    chunk = max(1, 2_000_000 // n**3)
    eye = np.eye(n, dtype=bool)
    for lo in range(0, count, chunk):
        p = points[lo:lo + chunk].astype(np.float64)
        d = p[:, None, :, :] - p[:, :, None, :]  # d[m, i, j] = p_j - p_i
        cross = d[:, :, :, None, 0] * d[:, :, None, :, 1] - d[:, :, :, None, 1] * d[:, :, None, :, 0]
        # cross[m, i, j, k] > 0: p_k is left of the edge i -> j; k = i and k = j are exempt
        exempt = eye[:, None, :] | eye[None, :, :]
        edge = ((cross > 0) | exempt).all(-1) & ~eye
        nxt = edge.argmax(-1)  # (m, n): the hull successor of each vertex
        cur = edge.any(-1).argmax(-1)  # the lowest-index vertex starts the walk
        start, rows = cur.copy(), np.arange(len(p))
        done = np.zeros(len(p), dtype=bool)
        for step in range(n):
            out[lo + rows[~done], step] = cur[~done] + 1
            cur = nxt[rows, cur]
            closing = ~done & (cur == start)
            out[lo + rows[closing], step + 1] = 0
            done |= closing
    return out


def polygon_area(poly: np.ndarray) -> float:
    """Shoelace area of a (k, 2) polygon (absolute value)."""
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _segments_cross(p1, p2, q1, q2) -> bool:
    def orient(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return (d1 * d2 < 0) and (d3 * d4 < 0)


def is_simple_polygon(poly: np.ndarray) -> bool:
    """True when no two non-adjacent edges of the closed polygon cross."""
    k = len(poly)
    edges = [(poly[i], poly[(i + 1) % k]) for i in range(k)]
    for i in range(k):
        for j in range(i + 2, k):
            if i == 0 and j == k - 1:
                continue  # adjacent through the closing edge
            if _segments_cross(*edges[i], *edges[j]):
                return False
    return True


def decoded_polygon(indices: np.ndarray) -> list[int] | None:
    """Output positions up to the end symbol as 0-based point indices, or None when invalid."""
    ends = np.nonzero(indices == 0)[0]
    if len(ends) == 0:
        return None
    chosen = [int(i) - 1 for i in indices[: ends[0]]]
    if len(chosen) < 3 or len(set(chosen)) != len(chosen) or min(chosen) < 0:
        return None
    return chosen


def _metrics():
    import torch
    from torchmetrics import Metric

    class HullMetric(Metric):
        """Scores greedy outputs ({"indices": (B, T)}) against targets (points, hull positions)."""

        full_state_update = False

        def __init__(self, kind: str):
            super().__init__()
            self.kind = kind
            self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state("count", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

        def update(self, output, target) -> None:
            points, hull = target
            indices = output["indices"].detach().cpu().numpy()
            points, hull = points.detach().cpu().numpy(), hull.detach().cpu().numpy()
            for k in range(len(points)):
                truth = hull[k][: int(np.argmax(hull[k] == 0)) + 1]
                pred = indices[k]
                if self.kind == "accuracy":
                    self.total += float(len(pred) >= len(truth) and np.array_equal(pred[: len(truth)], truth))
                    self.count += 1
                    continue
                chosen = decoded_polygon(pred)
                valid = chosen is not None and is_simple_polygon(points[k][chosen])
                if self.kind == "valid":
                    self.total += float(valid)
                    self.count += 1
                elif valid:  # area coverage is defined on valid outputs only
                    true_area = polygon_area(points[k][truth[:-1] - 1])
                    self.total += polygon_area(points[k][chosen]) / max(true_area, 1e-12)
                    self.count += 1

        def compute(self):
            return (self.total / self.count.clamp_min(1)).float() if self.count > 0 else torch.tensor(float("nan"))

    return {"accuracy": HullMetric("accuracy"), "valid": HullMetric("valid"), "area_coverage": HullMetric("area")}


class ConvexHullTask(Task):
    """`pointer-net/convex-hull`: planar convex hull of n uniform points (n fixed per task).

    Options: n_points (points per instance), train_size, test_size, seed.
    """

    kind = "sequence"

    def __init__(self, n_points: int = 10, train_size: int = 100_000, test_size: int = 1000, seed: int = 0):
        if not 3 <= n_points <= 1000:
            raise ValueError(f"n_points must be in [3, 1000], got {n_points}")
        if train_size < 1 or test_size < 1:
            raise ValueError(f"train_size and test_size must be >= 1, got {train_size}, {test_size}")
        self.name = "pointer-net/convex-hull"
        self.n_points, self.train_size, self.test_size, self.seed = n_points, train_size, test_size, seed
        self.info = TaskInfo(kind=self.kind, input_shape=(n_points, 2), output_dim=n_points + 1,
                             extra={"n_points": n_points, "max_steps": n_points + 1, "end_position": 0})
        self._splits = None

    def _make(self, count: int, seed: int):
        points = np.random.default_rng(seed).random((count, self.n_points, 2)).astype(np.float32)
        return ArraySplit(points, hull_targets(points))

    def splits(self) -> dict:
        if self._splits is None:  # generated once, deterministic in the seed
            self._splits = {"train": self._make(self.train_size, self.seed),
                            "val": self._make(self.test_size, self.seed + 1),
                            "test": self._make(self.test_size, self.seed + 2)}
        return self._splits

    def inputs(self, batch) -> tuple:
        return (batch[0], batch[1])  # teacher forcing in training; evaluation_step drops the targets

    def targets(self, batch):
        return (batch[0], batch[1])  # validity and area need the points as well as the hull

    def loss(self, output, batch):
        import torch.nn.functional as F

        logits = output["logits"]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[1].reshape(-1), ignore_index=IGNORE)

    def metrics(self) -> dict:
        return _metrics()


def _sort_metrics():
    import torch
    from torchmetrics import Metric

    class SortMetric(Metric):
        """`accuracy`: the whole order exact; `valid`: the output is a permutation of all inputs."""

        full_state_update = False

        def __init__(self, kind: str):
            super().__init__()
            self.kind = kind
            self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state("count", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

        def update(self, output, target) -> None:
            _, order = target
            pred = output["indices"].detach().cpu()
            n = order.shape[1] - 1
            steps = min(pred.shape[1], n + 1)
            head = torch.full_like(order, -1)
            head[:, :steps] = pred[:, :steps]
            if self.kind == "accuracy":
                ok = (head == order.cpu()).all(1)
            else:
                ok = (head[:, n] == 0) & (torch.sort(head[:, :n], 1).values == torch.arange(1, n + 1)).all(1)
            self.total += ok.double().sum()
            self.count += len(ok)

        def compute(self):
            return (self.total / self.count).float()

    return {"accuracy": SortMetric("accuracy"), "valid": SortMetric("valid")}


class SortTask(ConvexHullTask):
    """`pointer-net/sort`: output the positions of n uniform numbers in increasing order, then end.

    Options: n_points (numbers per instance), train_size, test_size, seed. Metrics: `accuracy`
    (exact order) and `valid` (a permutation of every position, then the end symbol).
    """

    def __init__(self, n_points: int = 10, train_size: int = 100_000, test_size: int = 1000, seed: int = 0):
        super().__init__(n_points, train_size, test_size, seed)
        self.name = "pointer-net/sort"
        self.info = TaskInfo(kind=self.kind, input_shape=(n_points, 1), output_dim=n_points + 1,
                             extra={"n_points": n_points, "max_steps": n_points + 1, "end_position": 0})

    def _make(self, count: int, seed: int):
        values = np.random.default_rng(seed).random((count, self.n_points, 1)).astype(np.float32)
        order = np.argsort(values[..., 0], axis=1) + 1
        return ArraySplit(values, np.concatenate([order, np.zeros((count, 1), dtype=np.int64)], axis=1))

    def metrics(self) -> dict:
        return _sort_metrics()
