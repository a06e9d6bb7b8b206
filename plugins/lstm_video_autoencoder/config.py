"""LSTMVideoAutoencoderConfig: the typed config of `lstm-video-autoencoder`, with the defaults of
Srivastava et al. (2015, arXiv:1502.04681) for Moving MNIST: 64 x 64 frames, one layer of 2048 LSTM
units in the encoder and in each decoder, 10 input frames reconstructed (in reverse order) and 10
future frames predicted (the composite model), unconditioned decoders, logistic outputs."""

from __future__ import annotations

from pydantic import model_validator

from zoo.config import Config, Field


class LSTMVideoAutoencoderConfig(Config):
    frame_size: int = Field(64, ge=1, le=1024, description="frames are frame_size x frame_size pixels in [0, 1]")
    hidden_size: int = Field(2048, ge=1, le=65536, description="LSTM units of the encoder and of each decoder")
    num_layers: int = Field(1, ge=1, le=8, description="stacked LSTM layers of the encoder and of each decoder")
    input_frames: int = Field(10, ge=1, le=1000, description="frames the encoder reads (and the autoencoder rebuilds)")
    future_frames: int = Field(10, ge=1, le=1000, description="frames the future predictor generates")
    reconstruct: bool = Field(True, description="keep the reconstruction decoder (False: the future predictor alone)")
    predict_future: bool = Field(True, description="keep the future predictor (False: the autoencoder alone)")
    conditional: bool = Field(
        False, description="decoders read the previous frame (the target frame while training, their own "
                           "prediction at evaluation); False: unconditioned decoders that read nothing")
    num_classes: int = Field(
        0, ge=0, le=100000, description="0: the unsupervised composite model; > 0: the supervised LSTM classifier "
                                        "(the encoder and a softmax layer), the paper's fine-tuned model")
    dropout: float = Field(0.5, ge=0.0, lt=1.0, description="dropout on the classifier's LSTM outputs (classifier only)")

    @model_validator(mode="after")
    def _some_decoder(self) -> "LSTMVideoAutoencoderConfig":
        if self.num_classes == 0 and not (self.reconstruct or self.predict_future):
            raise ValueError("the unsupervised model needs a decoder: reconstruct or predict_future must be True")
        return self
