"""MatrixKANConfig: the KAN config (same fields, same defaults) plus how the basis matrix is built."""

from __future__ import annotations

from typing import Literal

from zoo.config import Field
from zoo_plugins.kan.config import KANConfig


class MatrixKANConfig(KANConfig):
    basis_matrix: Literal["uniform", "per-interval"] = Field(
        "uniform",
        description=(
            "'uniform': the paper's single basis matrix Psi^k, exact on uniform grids (grid updates keep "
            "the knots uniform); 'per-interval': one matrix per grid interval, exact on any grid"
        ),
    )
