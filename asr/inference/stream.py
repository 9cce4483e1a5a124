"""Streaming recognition: audio chunks in, partial and final transcripts out, as they are known.

A `Stream` turns samples into log-mel frames (`FeatureStream`, equal to `log_mel` of the whole
signal), normalises them with the training set's statistics, runs a uni-directional model with
its state carried (`ModelStream`) and decodes:

- a partial (greedy text of the utterance so far) whenever that text changes and at least every
  `partial_seconds` of audio while an utterance is open;
- a final at each pause, when `endpoint_seconds` of output frames after the last character are
  all blank, and at the end of the stream: the checkpoint's decoder (beam, lexicon, LM when it
  has them) over the utterance's log-probs, with timed words; an empty one when that decoder
  finds no word where a partial was shown, so that the partial does not stay on screen.

Normalisation: "global" or "running" models stream (`Normaliser.streaming`). A model trained
on per-utterance (or per-speaker) means needs the mean of audio not yet heard, so it is refused
rather than silently degraded; "running" trains on each frame less the mean of the frames up to
it, which a stream computes as the frames arrive, so each frame is normalised on arrival exactly
as offline, from the first frame on.

State is a few frames per layer plus the current utterance's log-probs, which a final clears
(and `max_utterance_seconds` bounds), so memory is constant in the stream's length.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor

from asr.decoding.align import WordTiming, align_words
from asr.decoding.greedy import greedy_decode
from asr.errors import AsrError
from asr.features import FeatureConfig, log_mel
from asr.inference.recognizer import Recognizer
from asr.inference.stream_model import ModelStream
from asr.text import SPACE

__all__ = ["FeatureStream", "Stream", "StreamConfig", "StreamEvent", "utterance_end"]


@dataclass(frozen=True)
class StreamConfig:
    partial_seconds: float = 0.5  # a partial at least this often (of audio) inside an utterance
    endpoint_seconds: float = 0.3  # blank output after the last character that ends an utterance
    max_utterance_seconds: float = 20.0  # a final is forced this long into an utterance

    def __post_init__(self) -> None:
        if min(self.partial_seconds, self.endpoint_seconds, self.max_utterance_seconds) <= 0:
            raise AsrError(f"stream: every duration must be positive, got {self}")


@dataclass(frozen=True)
class StreamEvent:
    type: str  # "partial" (may still change) or "final" (this utterance's last word)
    text: str
    audio_end: float  # seconds of audio consumed when the event was made
    words: list[WordTiming] = field(default_factory=list)  # finals only: timed words

    def to_dict(self) -> dict:
        """The JSON line `asr stream` writes."""
        return {
            "type": self.type,
            "text": self.text,
            "audio_end": round(self.audio_end, 3),
            "words": [asdict(w) for w in self.words],
        }


class FeatureStream:
    """Samples in chunks -> log-mel frames, equal to `log_mel` of the whole signal.

    `log_mel` centres frame t on sample t * hop of the signal reflect-padded by n_fft // 2 on
    both sides; here the left pad is added once enough samples have come, the right one by
    `finish`, and only the samples the next frame needs are kept.
    """

    def __init__(self, config: FeatureConfig):
        self.config = config
        self.pad = config.n_fft // 2
        self.buffer = torch.zeros(0)  # padded signal from the next frame's first sample on
        self.started = False  # the left reflection is in the buffer
        self.tail = torch.zeros(0)  # the last pad + 1 samples, for the right reflection

    def feed(self, samples: Tensor) -> Tensor:
        """samples (n,) -> the frames (time, n_mels) now complete."""
        self.tail = torch.cat([self.tail, samples])[-(self.pad + 1) :]
        self.buffer = torch.cat([self.buffer, samples])
        if not self.started:
            if len(self.buffer) <= self.pad:
                return torch.zeros(0, self.config.n_mels)
            left = self.buffer[1 : self.pad + 1].flip(0)  # reflect mode skips the edge sample
            self.buffer, self.started = torch.cat([left, self.buffer]), True
        return self._frames()

    def finish(self) -> Tensor:
        """The last frames (time, n_mels), with the right reflection."""
        if not self.started:  # shorter than the padding: as offline (which rejects too short)
            return log_mel(self.buffer, self.config) if len(self.buffer) else self._frames()
        self.buffer = torch.cat([self.buffer, self.tail[:-1].flip(0)])
        return self._frames()

    def _frames(self) -> Tensor:
        hop, n_fft = self.config.hop_length, self.config.n_fft
        count = (len(self.buffer) - n_fft) // hop + 1 if len(self.buffer) >= n_fft else 0
        if count == 0:
            return torch.zeros(0, self.config.n_mels)
        frames = log_mel(self.buffer[: (count - 1) * hop + n_fft], self.config, center=False)
        self.buffer = self.buffer[count * hop :]
        return frames  # (count, n_mels)


def utterance_end(
    best: Tensor, silent: tuple[int, ...], endpoint_frames: int, max_frames: int
) -> int | None:
    """best (time',): an open utterance's best ids per frame -> how many frames its final
    takes, or None while it goes on. It ends `endpoint_frames` silent frames (blank or space)
    after the first character they follow, or at `max_frames`; silence alone ends nothing. The
    count depends on the frames alone, never on how many a chunk brought: frames past it belong
    to the next utterance."""
    spoken = (~torch.isin(best, torch.tensor(silent))).nonzero().flatten()  # (characters,)
    if len(spoken) == 0:
        return None
    following = torch.cat([spoken[1:], torch.tensor([len(best)])])  # next character, or the end
    paused = (following - spoken - 1 >= endpoint_frames).nonzero().flatten()
    if len(paused) and int(spoken[paused[0]]) + 1 + endpoint_frames <= max_frames:
        return int(spoken[paused[0]]) + 1 + endpoint_frames
    return max_frames if len(best) >= max_frames else None


class Stream:
    """One audio stream through a loaded uni-directional model: `feed` chunks, then `finish`."""

    def __init__(self, recognizer: Recognizer, config: StreamConfig | None = None):
        self.model = ModelStream(recognizer.model)  # refuses a bidirectional model first
        self.normalise = recognizer.normaliser.streaming()  # and a mean not heard yet
        self.recognizer = recognizer
        self.config = config or StreamConfig()
        self.features = FeatureStream(recognizer.features)
        self.samples = 0  # consumed so far
        self.log_probs = torch.zeros(0, len(recognizer.vocab))  # (time', vocab) this utterance
        self.start = 0  # output frame where this utterance's log-probs begin
        self.text = ""  # the last partial's
        self.partial_at = 0.0  # audio seconds at the last partial or final
        self.silent = (0, recognizer.vocab.symbols.index(SPACE))  # blank and space ids
        self.keep = max(1, round(self.config.endpoint_seconds / recognizer.frame_shift))
        # A list to collect each final's log-probs (time', vocab) in, or None: tuning decodes
        # them again at every grid point (endpoints follow greedy ids, not the decoder).
        self.kept_finals: list[Tensor] | None = None

    @property
    def audio_end(self) -> float:
        return self.samples / self.recognizer.features.sample_rate

    def feed(self, samples: Tensor) -> list[StreamEvent]:
        """samples (n,) at the model's rate -> the events they complete."""
        self.samples += len(samples)
        feats = self.normalise(self.features.feed(samples))  # (time, n_mels)
        return self._advance(self.model.feed(feats))

    def finish(self) -> list[StreamEvent]:
        """The end of the stream: the last frames, and a final for any open utterance."""
        feats = self.normalise(self.features.finish())
        events = self._advance(self.model.feed(feats, final=True))
        return events + self._final(len(self.log_probs))

    def _advance(self, log_probs: Tensor) -> list[StreamEvent]:
        """New output frames (time', vocab) -> a final at each pause, then perhaps a partial."""
        self.log_probs = torch.cat([self.log_probs, log_probs])
        shift = self.recognizer.frame_shift
        events = []  # a chunk may hold several pauses: a final for each
        while True:
            best = self.log_probs.argmax(-1)  # (time',)
            if not self.text:
                # Nothing said yet: keep an endpoint's worth of frames before the first character.
                spoken = (~torch.isin(best, torch.tensor(self.silent))).nonzero()
                first = int(spoken[0]) if len(spoken) else len(best)
                drop = max(0, first - self.keep)
                self.log_probs, self.start = self.log_probs[drop:], self.start + drop
                best = best[drop:]
            frames = utterance_end(
                best,
                self.silent,
                round(self.config.endpoint_seconds / shift),
                round(self.config.max_utterance_seconds / shift),
            )
            if frames is None:
                break
            events += self._final(frames)
        text = self._greedy_text()
        if text and (
            text != self.text or self.audio_end - self.partial_at >= self.config.partial_seconds
        ):
            self.text, self.partial_at = text, self.audio_end
            events.append(StreamEvent("partial", text, self.audio_end))
        return events

    def _greedy_text(self) -> str:
        tokens = greedy_decode(self.log_probs[None], torch.tensor([len(self.log_probs)]))[0]
        return self.recognizer.vocab.decode(tokens).strip()

    def _final(self, frames: int) -> list[StreamEvent]:
        """Decode this utterance's first `frames` output frames as a final; start the next."""
        log_probs, self.log_probs = self.log_probs[:frames], self.log_probs[frames:]
        start, self.start = self.start, self.start + frames
        shown, self.text, self.partial_at = self.text, "", self.audio_end
        if frames == 0:
            return []
        if self.kept_finals is not None:
            self.kept_finals.append(log_probs)
        best = self.recognizer.decoder(log_probs[None], torch.tensor([frames]))[0][0]
        if not best.text.strip():
            # A partial on screen is withdrawn by an empty final (the decoder found no word in
            # what greedy spelled); an utterance nobody saw ends silently.
            return [StreamEvent("final", "", self.audio_end)] if shown else []
        shift = self.recognizer.frame_shift
        words = align_words(log_probs, best.tokens, self.recognizer.vocab, shift, start * shift)
        return [StreamEvent("final", best.text.strip(), self.audio_end, words)]
