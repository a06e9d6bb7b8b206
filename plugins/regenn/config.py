"""ReGENNConfig: the typed config of `regenn` (Recurrent Graph Evolution Neural Network; Spadon,
Hong, Brandoli, Matwin, Rodrigues-Jr & Sun, "Pay Attention to Evolution: Time Series Forecasting
with Deep Graph-Evolution Learning", TPAMI 2021): the series and window sizes, the autoencoder's
compressed time axis, and the recurrent cell that follows the graph-evolution layer."""

from __future__ import annotations

from typing import Literal

from zoo.config import Config, Field


class ReGENNConfig(Config):
    n_series: int = Field(8, ge=1, le=4096, description="v, the co-occurring series (the graph's nodes)")
    lookback: int = Field(24, ge=2, le=10000, description="w, the input window's time steps")
    horizon: int = Field(1, ge=1, le=10000, description="steps forecast ahead")
    encoded_steps: int = Field(
        12, ge=1, le=10000,
        description="w', the time axis after the autoencoder's encoder (a linear map over the window's steps)")
    hidden_dim: int = Field(32, ge=1, le=4096, description="hidden units of the recurrent cell")
    cell: Literal["lstm", "gru", "rnn"] = Field("lstm", description="recurrent cell run over the encoded steps")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout on the recurrent output before the decoder")
