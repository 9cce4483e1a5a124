"""Streaming recognition: audio chunks in, partial and final transcripts out, as they are known.

A `Stream` turns samples into log-mel frames (`FeatureStream`, equal to `log_mel` of the whole
signal), normalises them with the training set's statistics, runs a uni-directional model with
its state carried (`ModelStream`) and decodes:

- a partial (greedy text of the utterance so far) whenever that text changes and at least every
  `partial_seconds` of audio while an utterance is open;
- a final at each pause, when `endpoint_seconds` of output frames after a character are all
  blank, the last `quiet_seconds` of them over quiet audio (`QuietStream`), and at the end of
  the stream: the checkpoint's decoder (beam, lexicon, LM when it has them) over the
  utterance's log-probs, with timed words; an empty one when that decoder finds no word where
  a partial was shown, so that the partial does not stay on screen.

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

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch import Tensor

from asr.decoding.align import WordTiming, align_words
from asr.decoding.greedy import greedy_decode
from asr.errors import AsrError
from asr.features import FeatureConfig, log_mel
from asr.inference.recognizer import Recognizer
from asr.inference.segment import DEAD_DB, SegmentConfig, block_energy
from asr.inference.stream_model import ModelStream
from asr.text import SPACE

# The noise floor of a 5 s window: a higher percentile than a whole file's 10th (the segmenter's
# `silence_level`), since clips' own quiet below the room's noise can fill a tenth of so short a
# window (FSDD clips at -71 to -83 dB between pauses at -60: the pauses then counted as loud).
WINDOW_FLOOR_PERCENTILE = 30
BLOCK_FRAMES = 4096  # the quiet test's windows (frames x width) are made this many at a time

__all__ = ["FeatureStream", "QuietStream", "Stream", "StreamConfig", "StreamEvent", "utterance_end"]


@dataclass(frozen=True)
class StreamConfig:
    partial_seconds: float = 0.5  # a partial at least this often (of audio) inside an utterance
    endpoint_seconds: float = 0.3  # blank output after a character that ends an utterance ...
    # ... the last this much of it over quiet audio: greedy output can be blank for longer
    # than the endpoint while a word is still loud, and an utterance ended there is cut short.
    quiet_seconds: float = 0.1
    level_seconds: float = 5.0  # audio whose loud and floor levels say which frames are quiet
    max_utterance_seconds: float = 20.0  # a final is forced this long into an utterance

    def __post_init__(self) -> None:
        if min(asdict(self).values()) <= 0:
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


class QuietStream:
    """Samples in chunks -> per output frame, whether the audio is quiet: within the segmenter's
    `floor_db` of the noise floor of the last `window_seconds`, or `silence_db` below their loud
    level. (Not its `min_snr_db` guard: a quiet speaker's 5 s lie 25 dB over a -60 dBFS room,
    which then never counted as quiet.) Frame j is samples [j, j + 1) * frame of the stream; its
    flag depends on those and the window before them alone, never on how the chunks fell."""

    def __init__(
        self, rate: int, frame_seconds: float, window_seconds: float, config: SegmentConfig
    ):
        self.frame = max(1, round(rate * frame_seconds))
        self.width = max(1, round(window_seconds / frame_seconds))  # frames in a window
        self.config = config
        self.rest = np.zeros(0, np.float32)  # samples of the next, incomplete frame
        self.history = np.full(self.width - 1, np.nan)  # the frames before, in dB (nan: none)

    def feed(self, samples: np.ndarray) -> Tensor:
        """samples (n,) -> quiet flags (frames,) of the frames they complete."""
        audio = np.concatenate([self.rest, samples])
        count = len(audio) // self.frame
        self.rest = audio[count * self.frame :]
        energy = block_energy(audio[: count * self.frame], self.frame)  # (count,) dB
        levels = np.concatenate([self.history, energy])  # (width - 1 + count,)
        self.history = levels[len(levels) - len(self.history) :]
        quiet = np.zeros(count, dtype=bool)
        for at in range(0, count, BLOCK_FRAMES):  # windows of a few thousand frames at a time
            span = levels[at : at + BLOCK_FRAMES + self.width - 1]
            windows = sliding_window_view(span, self.width)  # (frames, width)
            heard = ~np.isnan(windows)
            loud = np.where(heard, windows, -np.inf).max(axis=1)  # (frames,)
            # Digital silence and frames not heard yet count as infinitely loud for the floor:
            # a window mostly of them has none (inf).
            live = np.where(heard & (windows >= DEAD_DB), windows, np.inf)
            floor = np.percentile(live, WINDOW_FLOOR_PERCENTILE, axis=1, method="lower")
            # Near the floor or far below the loud level; with no floor yet (inf), anything.
            level = np.maximum(loud - self.config.silence_db, floor + self.config.floor_db)
            own = energy[at : at + len(level)]
            quiet[at : at + len(level)] = (own < level) | (own < DEAD_DB)
        return torch.from_numpy(quiet)


def utterance_end(
    best: Tensor,
    silent: tuple[int, ...],
    endpoint_frames: int,
    max_frames: int,
    quiet: Tensor | None = None,
    quiet_frames: int = 1,
) -> int | None:
    """best (time',): an open utterance's best ids per frame -> how many frames its final
    takes, or None while it goes on. It ends after the first `endpoint_frames` frames in a row
    past its first character that are silent (blank or space), the last `quiet_frames` of them
    (at most `endpoint_frames`) over quiet audio where `quiet` (time',) is given: greedy output
    can stay blank for 0.3 s while a word is still loud. Or it ends at
    `max_frames`; silence alone ends nothing. The count depends on the frames alone, never on
    how many a chunk brought: frames past it belong to the next utterance."""
    pause = torch.isin(best, torch.tensor(silent))  # (time',)
    spoken = (~pause).nonzero().flatten()  # (characters,)
    if len(spoken) == 0:
        return None
    pause[: int(spoken[0])] = False
    ends = _full_windows(pause, endpoint_frames)  # (time' - endpoint + 1,) by the frame after
    if quiet is not None:
        ends &= _full_windows(quiet, quiet_frames)[endpoint_frames - quiet_frames :]
    ended = ends.nonzero()
    if len(ended) and int(ended[0]) + endpoint_frames <= max_frames:
        return int(ended[0]) + endpoint_frames
    return max_frames if len(best) >= max_frames else None


def _full_windows(mask: Tensor, width: int) -> Tensor:
    """mask (time,) -> (time - width + 1,): whether frames i .. i + width - 1 are all set."""
    runs = torch.cat([torch.zeros(1, dtype=torch.long), mask.long().cumsum(0)])  # (time + 1,)
    return (runs[width:] - runs[:-width]) == width


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
        rate, shift = recognizer.features.sample_rate, recognizer.frame_shift
        self.levels = QuietStream(rate, shift, self.config.level_seconds, recognizer.segments)
        self.quiet = torch.zeros(0, dtype=torch.bool)  # (time'',) from the utterance's start on
        self.start = 0  # output frame where this utterance's log-probs begin
        self.text = ""  # the last partial's
        self.partial_at = 0.0  # audio seconds at the last partial or final
        self.silent = (0, recognizer.vocab.symbols.index(SPACE))  # blank and space ids
        frames = lambda seconds: max(1, round(seconds / shift))  # noqa: E731
        self.keep = frames(self.config.endpoint_seconds)  # also the endpoint, in frames
        self.quiet_frames = frames(min(self.config.quiet_seconds, self.config.endpoint_seconds))
        self.max_frames = frames(self.config.max_utterance_seconds)
        # A list to collect each final's log-probs (time', vocab) in, or None: tuning decodes
        # them again at every grid point (endpoints follow greedy ids, not the decoder).
        self.kept_finals: list[Tensor] | None = None

    @property
    def audio_end(self) -> float:
        return self.samples / self.recognizer.features.sample_rate

    def feed(self, samples: Tensor) -> list[StreamEvent]:
        """samples (n,) at the model's rate -> the events they complete."""
        self.samples += len(samples)
        self.quiet = torch.cat([self.quiet, self.levels.feed(samples.numpy())])
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
        events = []  # a chunk may hold several pauses: a final for each
        while True:
            best = self.log_probs.argmax(-1)  # (time',)
            if not self.text:
                # Nothing said yet: keep an endpoint's worth of frames before the first character.
                spoken = (~torch.isin(best, torch.tensor(self.silent))).nonzero()
                first = int(spoken[0]) if len(spoken) else len(best)
                drop = max(0, first - self.keep)
                self.log_probs, self.start = self.log_probs[drop:], self.start + drop
                self.quiet, best = self.quiet[drop:], best[drop:]
            # Output frames past the quiet flags come only at the end (the model's padding): quiet.
            quiet = torch.ones(len(best), dtype=torch.bool)
            quiet[: len(self.quiet)] = self.quiet[: len(best)]
            frames = utterance_end(
                best, self.silent, self.keep, self.max_frames, quiet, self.quiet_frames
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
        self.quiet = self.quiet[frames:]
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
