"""A uni-directional CTCModel run chunk by chunk, its state carried across chunks.

Each conv layer keeps the input frames its next output still needs (its kernel's left context;
the first call starts from the zero padding the offline forward sees), the recurrent stack keeps
its hidden state, and the lookahead convolution keeps its last `lookahead` outputs. So the
log-probs of a stream equal the offline forward of the same frames (to float rounding), and the
state is a fixed number of frames whatever the stream's length. An output frame is emitted as
soon as every input it depends on has arrived; `finish` pads the end as the offline forward does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from asr.errors import AsrError
from asr.model import CTCModel, _conv_length

__all__ = ["ModelStream"]


class ModelStream:
    """One stream's state for `model` (eval mode, uni-directional)."""

    def __init__(self, model: CTCModel):
        if model.config.bidirectional:
            raise AsrError(
                "a bidirectional model needs the whole utterance and cannot stream; "
                "use `asr transcribe`, or a model trained with bidirectional = false"
            )
        self.model = model
        self.conv_inputs: list[Tensor | None] = [None] * len(model.frontend.layers)
        self.hidden: Tensor | tuple[Tensor, Tensor] | None = None  # (h, c) for an LSTM
        self.pending: Tensor | None = None  # (1, frames, hidden) awaiting their lookahead

    @torch.inference_mode()
    def feed(self, feats: Tensor, final: bool = False) -> Tensor:
        """Normalised feats (time, n_mels) -> log-probs (time', vocab) of the output frames
        now complete; `final` ends the stream (the offline forward's right padding)."""
        x = feats[None, None]  # (1, 1, time, n_mels)
        for i in range(len(self.conv_inputs)):
            x = self._conv(i, x, final)  # (1, channels, time', n_mels')
        x = x.permute(0, 2, 1, 3).flatten(2)  # (1, time', channels * n_mels')
        if x.shape[1]:
            x, self.hidden = self.model.lstm(x, self.hidden)  # (1, time', hidden)
        else:
            x = x.new_zeros(1, 0, self.model.head.in_features)  # (1, 0, hidden)
        return self._output(x, final)[0]

    def _conv(self, i: int, x: Tensor, final: bool) -> Tensor:
        """Layer i over its kept frames plus x (1, ch, time, freq) -> its outputs now complete."""
        layer = self.model.frontend.layers[i]
        conv = layer[0]
        (k, kf), (s, sf), (p, pf) = conv.kernel_size, conv.stride, conv.padding
        kept = self.conv_inputs[i]
        if kept is None:  # the zero frames the offline forward pads the start with
            kept = x.new_zeros(1, x.shape[1], p, x.shape[3])
        parts = [kept, x]
        if final:  # and the zero frames it pads the end with
            parts.append(x.new_zeros(1, x.shape[1], p, x.shape[3]))
        frames = torch.cat(parts, 2)  # (1, ch, kept + time (+ p), freq)
        count = (frames.shape[2] - k) // s + 1 if frames.shape[2] >= k else 0
        self.conv_inputs[i] = frames[:, :, count * s :]  # the next output's first input on
        if count == 0:
            freq = _conv_length(x.shape[3], kf, sf)
            return x.new_zeros(1, conv.out_channels, 0, freq)
        y = F.conv2d(frames, conv.weight, conv.bias, (s, sf), (0, pf))  # (1, ch', count, f')
        return layer[1:](y)  # batch norm (or Identity, folded) and Hardtanh

    def _output(self, x: Tensor, final: bool) -> Tensor:
        """Recurrent outputs (1, time, hidden) -> log-probs (1, time', vocab) of the frames whose
        lookahead has arrived (all of them when `final`)."""
        frames = self.model.config.lookahead
        if not frames:
            return self.model.output(x)
        if self.pending is not None:
            x = torch.cat([self.pending, x], 1)  # (1, kept + time, hidden)
        ready = x.shape[1] if final else max(0, x.shape[1] - frames)
        self.pending = x[:, ready:]
        if ready == 0:
            return x.new_zeros(1, 0, self.model.head.out_features)  # (1, 0, vocab)
        # Frames before `ready` see no padding, so the offline output (zeros after x) holds.
        return self.model.output(x)[:, :ready]
