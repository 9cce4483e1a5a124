"""CNN front end + stacked BiLSTM + linear CTC head, built from a ModelConfig alone."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["ModelConfig", "CTCModel", "conv_output_lengths"]


@dataclass(frozen=True)
class ModelConfig:
    n_mels: int = 80  # input feature bins
    vocab_size: int = 29  # blank + alphabet
    conv_channels: tuple[int, ...] = (32, 32)  # one 2-D conv layer per entry
    conv_kernels: tuple[tuple[int, int], ...] = ((11, 41), (11, 21))  # (time, freq)
    conv_strides: tuple[tuple[int, int], ...] = ((2, 2), (1, 2))  # (time, freq)
    lstm_hidden: int = 320  # per direction
    lstm_layers: int = 4
    dropout: float = 0.1  # between LSTM layers and before the head

    @property
    def time_stride(self) -> int:
        """Input frames per output frame."""
        stride = 1
        for t, _ in self.conv_strides:
            stride *= t
        return stride

    @property
    def conv_out_features(self) -> int:
        """channels x frequency bins left after the convolutions: the LSTM's input size."""
        freq = self.n_mels
        for (_, k), (_, s) in zip(self.conv_kernels, self.conv_strides, strict=True):
            freq = _conv_length(freq, k, s)
        return self.conv_channels[-1] * freq


def _conv_length(length: int | Tensor, kernel: int, stride: int) -> int | Tensor:
    """Output length of a conv with 'same'-style padding kernel // 2."""
    return (length + 2 * (kernel // 2) - kernel) // stride + 1


def conv_output_lengths(lengths: Tensor, config: ModelConfig) -> Tensor:
    """(batch,) input frames -> (batch,) frames after the conv front end (the only such formula)."""
    for (k, _), (s, _) in zip(config.conv_kernels, config.conv_strides, strict=True):
        lengths = _conv_length(lengths, k, s)
    return lengths


class ConvFrontEnd(nn.Module):
    """DeepSpeech2-style 2-D convolutions over (time, freq), padding masked after each layer."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        layers, in_ch = [], 1
        for ch, k, s in zip(
            config.conv_channels, config.conv_kernels, config.conv_strides, strict=True
        ):
            layers.append(
                nn.Sequential(
                    nn.Conv2d(in_ch, ch, k, s, padding=(k[0] // 2, k[1] // 2), bias=False),
                    nn.BatchNorm2d(ch),
                    nn.Hardtanh(0, 20, inplace=True),
                )
            )
            in_ch = ch
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """x (batch, 1, time, n_mels) -> (batch, channels, time', n_mels'), lengths (batch,)."""
        for layer, (k, _), (s, _) in zip(
            self.layers, self.config.conv_kernels, self.config.conv_strides, strict=True
        ):
            x = layer(x)
            lengths = _conv_length(lengths, k, s)
            # Zero frames past each length so a padded batch gives what single files give.
            mask = torch.arange(x.shape[2], device=x.device) < lengths.to(x.device)[:, None]
            x = x * mask[:, None, :, None]  # (batch, channels, time', n_mels')
        return x, lengths


class CTCModel(nn.Module):
    """Log-mels -> per-frame log-probabilities over the vocabulary."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.frontend = ConvFrontEnd(config)
        self.lstm = nn.LSTM(
            config.conv_out_features,
            config.lstm_hidden,
            num_layers=config.lstm_layers,
            bidirectional=True,
            batch_first=True,
            dropout=config.dropout if config.lstm_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(2 * config.lstm_hidden, config.vocab_size)

    def forward(self, feats: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """feats (batch, time, n_mels), lengths (batch,) -> log-probs (batch, time', vocab),
        lengths (batch,)."""
        x, lengths = self.frontend(feats.unsqueeze(1), lengths)  # (batch, ch, time', n_mels')
        x = x.permute(0, 2, 1, 3).flatten(2)  # (batch, time', ch * n_mels')
        # Packing makes the LSTM skip padding entirely: cost follows the real lengths.
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        x, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True)  # (batch, time', 2h)
        logits = self.head(self.dropout(x))  # (batch, time', vocab)
        return logits.float().log_softmax(dim=-1), lengths
