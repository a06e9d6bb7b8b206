"""Plot a trained KAN as in the paper's figures (arXiv:2404.19756, e.g. Fig. 2.4): nodes in rows,
input at the bottom, one small panel per edge showing its learned activation phi over the
activations that reach it, drawn with an opacity that grows with the edge's |phi|_1 score."""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["plot_activations", "MAX_EDGES"]

MAX_EDGES = 400  # more panels than this are unreadable; prune first


def plot_activations(kan, x: torch.Tensor, path: str | Path | None = None, *, title: str | None = None,
                     variables: list[str] | None = None, outputs: list[str] | None = None, beta: float = 3.0):
    """Draw every edge's activation of `kan` on samples x (batch, in); returns the matplotlib Figure
    and writes a PNG when `path` is given. Opacity = tanh(beta * score / max score) per layer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width = list(kan.config.width)
    edges = sum(a * b for a, b in zip(width[:-1], width[1:]))
    if edges > MAX_EDGES:
        raise ValueError(f"this KAN has {edges} edges; plots are limited to {MAX_EDGES}. Prune it first "
                         f"(KAN.prune) or plot a smaller model")
    if x.dim() != 2 or x.shape[1] != width[0]:
        raise ValueError(f"plot_activations expects samples of shape (batch, {width[0]}), got {tuple(x.shape)}")
    with torch.no_grad():
        inputs = kan.layer_inputs(x.to(kan.layers[0].coef.dtype))
        acts = [layer.activations(h) for layer, h in zip(kan.layers, inputs)]
    n_layers = len(kan.layers)
    panels = max(a * b for a, b in zip(width[:-1], width[1:]))
    fig_w = min(max(4.0, 0.55 * panels + 1.0), 40.0)
    fig_h = 1.6 * n_layers + 1.2
    fig = Figure(figsize=(fig_w, fig_h), dpi=110)
    FigureCanvasAgg(fig)
    lines = fig.add_axes((0, 0, 1, 1))
    lines.set_xlim(0, 1)
    lines.set_ylim(0, 1)
    lines.axis("off")
    row_h = 1.0 / (n_layers + 0.75)

    def node_xy(l: int, i: int) -> tuple[float, float]:
        return (i + 0.5) / width[l], 0.35 * row_h + l * row_h

    for l in range(n_layers + 1):
        xs = [node_xy(l, i)[0] for i in range(width[l])]
        lines.scatter(xs, [node_xy(l, 0)[1]] * width[l], s=30, c="black", zorder=3)
    for i, name in enumerate(variables or [f"$x_{{{i + 1}}}$" for i in range(width[0])]):
        px, py = node_xy(0, i)
        lines.text(px, py - 0.05 * row_h, name, ha="center", va="top", fontsize=9)
    if outputs:
        for j, name in enumerate(outputs):
            px, py = node_xy(n_layers, j)
            lines.text(px, py + 0.05 * row_h, name, ha="center", va="bottom", fontsize=9)

    panel_w = 0.75 / panels
    for l, (layer, h, a) in enumerate(zip(kan.layers, inputs, acts)):
        scores = a.abs().mean(0)
        strength = torch.tanh(beta * scores / scores.max().clamp_min(1e-12))
        n_in, n_out = layer.in_features, layer.out_features
        order = torch.argsort(h, dim=0)
        for e, (i, j) in enumerate((i, j) for i in range(n_in) for j in range(n_out)):
            alpha = float(strength[i, j]) if layer.mask[i, j] > 0 else 0.0
            cx = (e + 0.5) / (n_in * n_out)
            cy = node_xy(l, 0)[1] + 0.5 * row_h
            box_h = 0.4 * row_h
            (x0, y0), (x1, y1) = node_xy(l, i), node_xy(l + 1, j)
            lines.plot([x0, cx], [y0, cy - box_h / 2], color="black", alpha=alpha, lw=0.8)
            lines.plot([cx, x1], [cy + box_h / 2, y1], color="black", alpha=alpha, lw=0.8)
            inset = fig.add_axes((cx - panel_w * 0.45, cy - box_h / 2, panel_w * 0.9, box_h))
            idx = order[:, i]
            inset.plot(h[idx, i].cpu(), a[idx, i, j].cpu(), color="black", alpha=max(alpha, 0.05), lw=1.2)
            inset.set_xticks([])
            inset.set_yticks([])
            for spine in inset.spines.values():
                spine.set_alpha(max(alpha, 0.05))
    if title:
        lines.text(0.5, 0.995, title, ha="center", va="top", fontsize=10)
    if path is not None:
        fig.savefig(str(path))
    return fig
