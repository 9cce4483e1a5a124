"""CNN front end + stacked recurrent layers + linear CTC head, built from a ModelConfig alone.

The recurrent stack is an LSTM, GRU or tanh RNN, bidirectional (sees the whole utterance) or
uni-directional (sees only the past, so it can stream: `asr.inference.stream`). A uni model may
see `lookahead` future frames through DeepSpeech2's lookahead (row) convolution after the stack.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from asr.errors import AsrError

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}  # nn.RNN's default nonlinearity is tanh

__all__ = ["CELLS", "ModelConfig", "CTCModel", "conv_output_lengths"]


@dataclass(frozen=True)
class ModelConfig:
    n_mels: int = 80  # input feature bins
    vocab_size: int = 29  # blank + alphabet
    conv_channels: tuple[int, ...] = (32, 32)  # one 2-D conv layer per entry
    conv_kernels: tuple[tuple[int, int], ...] = ((11, 41), (11, 21))  # (time, freq)
    conv_strides: tuple[tuple[int, int], ...] = ((2, 2), (1, 2))  # (time, freq)
    lstm_hidden: int = 320  # per direction, whatever the cell (the name predates `cell`)
    lstm_layers: int = 4
    dropout: float = 0.1  # between recurrent layers and before the head
    cell: str = "lstm"  # one of CELLS
    bidirectional: bool = True  # False: each frame sees only the past (streamable)
    lookahead: int = 0  # uni models: future output frames seen by a lookahead convolution

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise AsrError(f"model: cell must be one of {tuple(CELLS)}, got {self.cell!r}")
        if self.lookahead < 0 or (self.lookahead and self.bidirectional):
            raise AsrError(
                f"model: lookahead must be >= 0 and only for uni-directional models, "
                f"got {self.lookahead} with bidirectional={self.bidirectional}"
            )

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

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


class Lookahead(nn.Module):
    """DeepSpeech2's row convolution: frame t mixes, per channel, the stack's outputs at
    t .. t + frames (zeros past the end), giving a uni-directional model a little future."""

    def __init__(self, hidden: int, frames: int):
        super().__init__()
        self.frames = frames
        self.conv = nn.Conv1d(hidden, hidden, frames + 1, groups=hidden, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """x (batch, time, hidden), zero past each length -> (batch, time, hidden)."""
        x = F.pad(x.transpose(1, 2), (0, self.frames))  # (batch, hidden, time + frames)
        return self.conv(x).transpose(1, 2)  # (batch, time, hidden)


class CTCModel(nn.Module):
    """Log-mels -> per-frame log-probabilities over the vocabulary."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.frontend = ConvFrontEnd(config)
        # Named `lstm` whatever the cell, so checkpoints saved before `cell` load unchanged.
        self.lstm = CELLS[config.cell](
            config.conv_out_features,
            config.lstm_hidden,
            num_layers=config.lstm_layers,
            bidirectional=config.bidirectional,
            batch_first=True,
            dropout=config.dropout if config.lstm_layers > 1 else 0.0,
        )
        width = config.directions * config.lstm_hidden
        self.lookahead = Lookahead(width, config.lookahead) if config.lookahead else None
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(width, config.vocab_size)

    def forward(self, feats: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """feats (batch, time, n_mels), lengths (batch,) -> log-probs (batch, time', vocab),
        lengths (batch,)."""
        x, lengths = self.frontend(feats.unsqueeze(1), lengths)  # (batch, ch, time', n_mels')
        x = x.permute(0, 2, 1, 3).flatten(2)  # (batch, time', ch * n_mels')
        # Packing makes the LSTM skip padding entirely: cost follows the real lengths.
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        x, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True)  # (batch, time', dh)
        return self.output(x), lengths

    def output(self, x: Tensor) -> Tensor:
        """Recurrent outputs (batch, time', directions * hidden), zero past each length ->
        log-probs (batch, time', vocab)."""
        if self.lookahead is not None:
            x = self.lookahead(x)  # (batch, time', hidden)
        logits = self.head(self.dropout(x))  # (batch, time', vocab)
        return logits.float().log_softmax(dim=-1)
