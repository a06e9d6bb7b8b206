"""Digit tokenizations of a real number (Decoding-based Regression, Sec. 3), over one vocabulary:
tokens 0..B-1 are the digits, B is "+" and B + 1 is "-"; each position allows only some tokens.

- normalized: y is min-max scaled to u in [0, 1] (`target_low` -> 0, `target_high` -> 1, values
  outside clamped) and written as its first K base-B digits, u ~ 0.d_1 d_2 ... d_K; decoding gives
  the centre of the bin, u = sum_k d_k B^-k + B^-K / 2. All K positions are digits.
- unnormalized: y = s * m * B^e with sign s, mantissa m = m_1.m_2...m_M (m_1 != 0 unless y = 0)
  and integer exponent |e| < B^E: tokens (s, sign of e, E digits of |e|, M mantissa digits). Values
  beyond the largest exponent are clamped to the largest representable number, below the smallest
  rounded to it (or 0).

Both are linear in their digit positions once the other positions are fixed:
    value = scale(tokens) * sum_k weight_k * digit_k + offset(tokens),
which lets the model take the expectation of each digit exactly given its prefix (model.py).
"""

from __future__ import annotations

import math

import torch

__all__ = ["DigitTokenizer"]


class DigitTokenizer:
    """Encode floats to token ids (batch, length) and back, for one config."""

    def __init__(self, config):
        self.kind, self.base = config.tokenization, config.base
        self.plus, self.minus, self.vocab = config.base, config.base + 1, config.base + 2
        if self.kind == "normalized":
            self.low, self.high, self.k = float(config.target_low), float(config.target_high), config.digits
            self.length, self.first_digit = self.k, 0
        else:
            self.e_digits, self.m_digits = config.exponent_digits, config.mantissa_digits
            self.max_exponent = config.base ** config.exponent_digits - 1
            self.length, self.first_digit = 2 + self.e_digits + self.m_digits, 2 + self.e_digits

    def valid(self, device=None) -> torch.Tensor:
        """(length, vocab) bool: which tokens each position may hold."""
        mask = torch.zeros(self.length, self.vocab, dtype=torch.bool, device=device)
        mask[:, : self.base] = True
        if self.kind == "unnormalized":
            mask[:2] = False
            mask[:2, [self.plus, self.minus]] = True
        return mask

    def digit_weights(self, device=None, dtype=torch.float32) -> torch.Tensor:
        """(length,) weight_k of each position in value = scale * sum_k weight_k digit_k + offset (0: not a digit)."""
        weights = torch.zeros(self.length, device=device, dtype=dtype)
        if self.kind == "normalized":
            weights[:] = torch.tensor([self.base ** -(k + 1) for k in range(self.k)], dtype=dtype)
        else:
            weights[self.first_digit:] = torch.tensor([self.base ** -k for k in range(self.m_digits)], dtype=dtype)
        return weights

    def scale_offset(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """scale and offset of the value as a function of the non-digit (sign, exponent) tokens: (batch,) each."""
        batch = tokens.shape[:-1]
        if self.kind == "normalized":
            width = self.high - self.low
            return (torch.full(batch, width, device=tokens.device),
                    torch.full(batch, self.low + width * self.base ** -self.k / 2, device=tokens.device))
        sign = torch.where(tokens[..., 0] == self.minus, -1.0, 1.0)
        exponent = torch.zeros(batch, device=tokens.device)
        for i in range(self.e_digits):
            exponent = exponent * self.base + tokens[..., 2 + i].clamp(max=self.base - 1).float()
        exponent = torch.where(tokens[..., 1] == self.minus, -exponent, exponent)
        return sign * torch.pow(float(self.base), exponent), torch.zeros(batch, device=tokens.device)

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """(batch, length) token ids -> (batch,) values."""
        scale, offset = self.scale_offset(tokens)
        digits = tokens.clamp(max=self.base - 1).float()
        return scale * (digits * self.digit_weights(tokens.device)).sum(-1) + offset

    def bin_width(self, tokens: torch.Tensor) -> torch.Tensor:
        """(batch,) width of the interval of values that encode to these tokens (for densities)."""
        scale, _ = self.scale_offset(tokens)
        last = self.base ** -self.k if self.kind == "normalized" else self.base ** -(self.m_digits - 1)
        return scale.abs() * last

    def encode(self, y: torch.Tensor) -> torch.Tensor:
        """(batch,) values -> (batch, length) token ids."""
        y = y.detach().double().reshape(-1)
        b = self.base
        if self.kind == "normalized":
            u = ((y - self.low) / (self.high - self.low)).clamp(0.0, 1.0)
            index = torch.floor(u * b ** self.k).clamp(max=b ** self.k - 1).long()
            return torch.stack([(index // b ** (self.k - 1 - i)) % b for i in range(self.k)], dim=-1)
        m = self.m_digits
        magnitude = y.abs()
        safe = torch.where(magnitude > 0, magnitude, torch.ones_like(magnitude))
        exponent = torch.floor(torch.log(safe) / math.log(b))
        mantissa = torch.round(safe / torch.pow(float(b), exponent) * b ** (m - 1))
        # rounding up to B^m (e.g. 9.9996 -> 10.000) moves to the next exponent
        carry = mantissa >= b ** m
        exponent, mantissa = exponent + carry.double(), torch.where(carry, mantissa / b, mantissa)
        mantissa = torch.round(mantissa)
        too_big = exponent > self.max_exponent
        exponent = torch.where(too_big, torch.full_like(exponent, self.max_exponent), exponent)
        mantissa = torch.where(too_big, torch.full_like(mantissa, b ** m - 1), mantissa)
        too_small = exponent < -self.max_exponent  # below the finest exponent: that exponent's smallest digits
        mantissa = torch.where(too_small, torch.round(safe / float(b) ** -self.max_exponent * b ** (m - 1)), mantissa)
        exponent = torch.where(too_small, torch.full_like(exponent, -self.max_exponent), exponent)
        mantissa = torch.where(magnitude > 0, mantissa, torch.zeros_like(mantissa)).long()
        exponent = torch.where(magnitude > 0, exponent, torch.full_like(exponent, -self.max_exponent)).long()
        sign = torch.where(y < 0, self.minus, self.plus)
        exp_sign = torch.where(exponent < 0, self.minus, self.plus)
        e = exponent.abs()
        e_tokens = [(e // b ** (self.e_digits - 1 - i)) % b for i in range(self.e_digits)]
        m_tokens = [(mantissa // b ** (m - 1 - i)) % b for i in range(m)]
        return torch.stack([sign, exp_sign, *e_tokens, *m_tokens], dim=-1)
