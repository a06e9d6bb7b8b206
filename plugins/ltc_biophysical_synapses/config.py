"""LTCBiophysicalConfig: the typed config of `ltc-biophysical-synapses`, with the defaults of
Farsang, Lechner, Lung, Hasani, Rus & Grosu, "On the Benefits of Biophysical Synapses": a fully
connected network of liquid time-constant (LTC) neurons whose synapses are conductance-based
(weight, sigmoid steepness and midpoint, reversal potential per synapse), solved by LTC's fused
semi-implicit Euler solver with 6 unfolds per input step (the LTC / NCP default)."""

from __future__ import annotations

from zoo.config import Config, Field


class LTCBiophysicalConfig(Config):
    input_dim: int = Field(8, ge=1, le=4096, description="features per input step (sensory neurons' inputs)")
    output_dim: int = Field(8, ge=1, le=4096, description="forecast values, a linear map of the N potentials")
    neurons: int = Field(16, ge=1, le=1024,
                         description="N, the LTC neurons, all-to-all connected by biophysical synapses")
    ode_unfolds: int = Field(6, ge=1, le=5000,
                             description="fused semi-implicit Euler steps per input step (6 in LTC and NCP)")
    elapsed_time: float = Field(1.0, gt=0.0, le=1000.0,
                                description="time between two input steps; each unfold advances elapsed_time / "
                                            "ode_unfolds")
    epsilon: float = Field(1e-8, gt=0.0, le=1e-2,
                           description="added to the solver's denominator against division by zero (as in LTC)")
