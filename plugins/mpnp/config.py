"""MPNPConfig: the typed config of `mpnp` (Lee et al., ICLR 2023), with the 1D-regression sizes of
the neural-process literature the paper builds on: 128 hidden units, an encoder of depth 4 and a
decoder of depth 3, and a generator of pseudo contexts."""

from __future__ import annotations

from pydantic import model_validator

from zoo.config import Config, Field


class MPNPConfig(Config):
    x_dim: int = Field(1, ge=1, le=1024, description="input dimension of the functions")
    y_dim: int = Field(1, ge=1, le=1024, description="output dimension of the functions")
    hidden: int = Field(128, ge=1, le=4096, description="width of every MLP (encoder, decoder, generator)")
    encoder_depth: int = Field(4, ge=1, le=16, description="linear layers of the (x, y) -> r encoder before pooling")
    decoder_depth: int = Field(3, ge=1, le=16, description="linear layers of the (x, r) -> (mean, std) decoder")
    generator_depth: int = Field(3, ge=1, le=16, description="linear layers of the pseudo-context generator")
    noise_dim: int = Field(8, ge=1, le=1024, description="dimension of the generator's Gaussian noise per pseudo point")
    n_pseudo: int = Field(20, ge=1, le=10000, description="pseudo-context points generated per sample")
    n_samples: int = Field(10, ge=1, le=1000, description="K: pseudo-context sets drawn per function (the predictive "
                                                          "is the mixture over them)")
    x_low: float = Field(-2.0, ge=-1e6, le=1e6, description="lower end of the input range pseudo inputs are drawn from")
    x_high: float = Field(2.0, ge=-1e6, le=1e6, description="upper end of the input range pseudo inputs are drawn from")
    min_std: float = Field(0.1, gt=0.0, le=10.0, description="floor of the predictive std: std = m + (1 - m) softplus")

    @model_validator(mode="after")
    def _range(self):
        if not self.x_low < self.x_high:
            raise ValueError(f"x_low must be below x_high, got {self.x_low} and {self.x_high}")
        return self
