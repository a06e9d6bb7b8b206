"""KAN symbolic snapping, activation plots and the `zoo kan` commands."""

from __future__ import annotations

import math

import pytest
import torch

from zoo.cli import main
from zoo_plugins.kan.config import KANConfig
from zoo_plugins.kan.model import KAN, fit_coefficients
from zoo_plugins.kan.plot import plot_activations
from zoo_plugins.kan.symbolic import auto_symbolic, fit_affine, suggest_symbolic


def test_fit_affine_recovers_the_parameters():
    x = torch.linspace(-1, 1, 400, dtype=torch.float64)
    y = 3.0 * torch.sin(2.0 * x + 1.0) + 0.5
    fit = fit_affine("sin", x, y)
    assert fit.r2 > 0.999999
    assert torch.allclose(fit.c * torch.sin(fit.a * x + fit.b) + fit.d, y, atol=1e-3)
    assert suggest_symbolic(x, y, lib=["x", "x^2", "sin", "exp"])[0].name == "sin"


def kan_with_known_edges() -> KAN:
    """[2, 1, 1] KAN computing exp(x^2 + sin(pi y)) - edges set by least squares to x^2, sin(pi y), exp."""
    torch.manual_seed(0)
    model = KAN(KANConfig(width=[2, 1, 1], grid=20, grid_range=(-1.0, 1.0))).double()
    x = torch.linspace(-1, 1, 2001, dtype=torch.float64)
    with torch.no_grad():
        first, second = model.layers
        for layer in model.layers:
            layer.scale_base.zero_()
        target = torch.stack([x ** 2, torch.sin(math.pi * x)], 1).unsqueeze(-1)
        first.coef.copy_(fit_coefficients(torch.stack([x, x], 1), target, first.grid, 3))
        second.update_grid(torch.linspace(-1.2, 2.2, 500, dtype=torch.float64)[:, None])
        z = torch.linspace(-1.2, 2.2, 2001, dtype=torch.float64)[:, None]
        second.coef.copy_(fit_coefficients(z, torch.exp(z).unsqueeze(-1), second.grid, 3))
    return model


def test_auto_symbolic_finds_the_formula():
    sympy = pytest.importorskip("sympy")
    model = kan_with_known_edges()
    x = torch.rand(500, 2, dtype=torch.float64) * 2 - 1
    snapped = auto_symbolic(model, x, lib=["x", "x^2", "sin", "exp", "tanh"], r2_threshold=0.99)
    assert {snapped.names[(0, 0, 0)], snapped.names[(0, 1, 0)], snapped.names[(1, 0, 0)]} == {"x^2", "sin", "exp"}
    (formula,), numeric = snapped.formula()
    assert numeric == []
    x1, x2 = sympy.symbols("x_1 x_2")
    f = sympy.lambdify((x1, x2), formula)
    truth = torch.exp(x[:, 0] ** 2 + torch.sin(math.pi * x[:, 1]))
    values = torch.tensor([f(a, b) for a, b in x[:50].tolist()], dtype=torch.float64)
    assert torch.allclose(values, truth[:50], rtol=2e-2)
    assert torch.allclose(snapped(x)[:, 0], truth, rtol=2e-2)
    # the affine parameters stay trainable
    snapped(x).sum().backward()
    assert all(p.grad is not None for p in snapped.affine.values())


def test_failed_fits_are_reported_not_raised():
    torch.manual_seed(0)
    model = KAN(KANConfig(width=[1, 1], grid=30)).double()
    with torch.no_grad():
        model.layers[0].coef.normal_(0, 1)  # a wiggly function no library function fits
    snapped = auto_symbolic(model, torch.rand(400, 1, dtype=torch.float64) * 2 - 1, lib=["x", "exp"],
                            r2_threshold=0.99)
    assert snapped.names == {}
    assert "kept the spline" in snapped.report[(0, 0, 0)]
    (formula,), numeric = snapped.formula()
    assert numeric == [(0, 0, 0)] and "phi_0_0_0" in str(formula)
    with pytest.raises(ValueError, match="unknown symbolic"):
        auto_symbolic(model, torch.rand(10, 1, dtype=torch.float64), lib=["nope"])


def test_plot_writes_a_png(tmp_path):
    model = KAN(KANConfig(width=[2, 3, 1]))
    out = tmp_path / "kan.png"
    plot_activations(model, torch.rand(200, 2) * 2 - 1, out, title="test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="edges"):
        plot_activations(KAN(KANConfig(width=[30, 30, 1])), torch.rand(10, 30))


def test_cli_plot_and_formula(tmp_path, capsys):
    out = tmp_path / "k.png"
    assert main(["kan", "plot", "kan", "--out", str(out), "--samples", "200"]) == 0
    assert out.exists()
    assert main(["kan", "formula", "kan", "--samples", "200", "--lib", "x,sin"]) == 0
    assert "y_1 =" in capsys.readouterr().out
    assert main(["kan", "formula", "kan", "--lib", "nope"]) == 2
    assert "unknown symbolic" in capsys.readouterr().err


def test_auto_symbolic_reports_its_progress_edge_by_edge():
    torch.manual_seed(0)
    model = KAN(KANConfig(width=[2, 3, 1], grid=3)).double()
    model.layers[0].mask[1, 2] = 0.0  # a masked edge is not fitted, so not counted
    counts = []
    snapped = auto_symbolic(model, torch.rand(100, 2, dtype=torch.float64) * 2 - 1, lib=["x", "sin"],
                            on_edges=counts.append)
    assert sum(counts) == 8 == len(snapped.report)  # 2*3 - 1 + 3*1 active edges, each decided once
    assert counts == [3, 2, 1, 1, 1]  # after each input node of each layer
