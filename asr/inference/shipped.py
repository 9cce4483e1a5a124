"""Models shipped inside the package, by name: `--model digits`, as whisper names its models.

A shipped model is one more line in SHIPPED: its name and its checkpoint in asr/default_model/
(with whatever LM and lexicon its decoding config names beside it).
"""

from __future__ import annotations

from pathlib import Path

from asr.errors import AsrError

SHIPPED_DIR = Path(__file__).parents[1] / "default_model"
SHIPPED = {  # name -> checkpoint file in SHIPPED_DIR
    "digits": "model.pt",  # English digit words, 8 kHz (asr/default_model/README.md)
    "digits-stream": "stream.pt",  # the same words, uni-directional: `asr stream`'s default
}
DEFAULT_NAME = "digits"  # used when --model is not given
STREAM_NAME = "digits-stream"  # `asr stream`'s, which needs a uni-directional model
DEFAULT_MODEL = SHIPPED_DIR / SHIPPED[DEFAULT_NAME]

__all__ = ["DEFAULT_MODEL", "DEFAULT_NAME", "SHIPPED", "STREAM_NAME", "resolve_model"]


def resolve_model(model: str | Path | None, default: str = DEFAULT_NAME) -> Path:
    """The checkpoint (.pt) or ONNX file `model` names: a shipped model's name, a path, or
    None for the shipped model `default`. Names win over same-named files; write `./digits`
    for such a file."""
    if model is None:
        model = default
    if isinstance(model, str) and model in SHIPPED:
        path = SHIPPED_DIR / SHIPPED[model]
        if not path.is_file():
            raise AsrError(f"{path}: shipped model {model!r} is missing from this install")
        return path
    path = Path(model)
    if not path.exists() and not path.suffix and len(path.parts) == 1:
        names = ", ".join(SHIPPED)
        raise AsrError(f"{model}: no such model file, nor a shipped model (shipped: {names})")
    return path
