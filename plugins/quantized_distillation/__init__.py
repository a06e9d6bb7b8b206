"""The quantized-distillation training method (being written: no hooks yet)."""
