"""The simplest transcriber a user could write with torchaudio, as one whole process: read a
folder's clips, 40 log-mels, DeepSpeech of a given parameter count, batched forward, argmax.

`python -m benchmarks.peer_folder FOLDER --parameters N --rate R --threads T` prints one line
per clip, as `asr transcribe` does; `benchmarks.process` times both processes on the same
folder. Its weights are random: only its speed is compared, so it must do all the work a
trained one would (every clip read, every frame through the network, a greedy decode).
"""

from __future__ import annotations

import argparse
import string
import sys
from pathlib import Path

N_MELS = 40
BATCH_CLIPS = 32
CLASSES = "_ '" + string.ascii_lowercase  # blank first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peer_folder", description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--parameters", type=int, required=True, help="parameter count to match")
    parser.add_argument("--rate", type=int, default=8000, help="sample rate the model runs at")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import soundfile
    import torch
    import torchaudio

    from benchmarks.peers import deepspeech_like

    torch.set_num_threads(args.threads)
    model = deepspeech_like(N_MELS, len(CLASSES), args.parameters)
    mel = torchaudio.transforms.MelSpectrogram(args.rate, n_fft=256, hop_length=80, n_mels=N_MELS)
    paths = sorted(args.folder.glob("*.wav"))
    with torch.inference_mode():
        for start in range(0, len(paths), BATCH_CLIPS):
            batch = paths[start : start + BATCH_CLIPS]
            waves = [torch.from_numpy(soundfile.read(p, dtype="float32")[0]) for p in batch]
            padded = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)  # (batch, samples)
            feats = (mel(padded) + 1e-6).log().transpose(1, 2)  # (batch, time, n_mels)
            ids = model(feats.unsqueeze(1)).argmax(-1)  # (batch, time)
            for path, row in zip(batch, ids, strict=True):
                text = "".join(CLASSES[i] for i in row.unique_consecutive().tolist() if i)
                print(f"{path}\t{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
