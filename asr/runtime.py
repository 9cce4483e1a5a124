"""Process set-up done once, before torch loads: OpenMP waiting, threads, a working torch pair."""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version

from asr.errors import AsrError

__all__ = ["init_torch"]


def init_torch(threads: int | None = None) -> None:
    """Load torch and torchaudio with `threads` intra-op threads (None: torch's default).

    Raises AsrError naming both versions when they cannot load together: torchaudio's compiled
    extension is built against one torch release, and a mismatched pair fails at import with an
    undefined-symbol error that says nothing about versions.
    """
    # OpenMP threads that spin while waiting steal the cores they share with other busy
    # processes: on a loaded 2-core machine, 2 spinning threads ran inference 3-4x slower than
    # 1. OpenMP reads this once, when torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch
        import torchaudio  # noqa: F401  (loads libtorchaudio, where a mismatch shows)
    except (ImportError, OSError) as err:
        pair = f"torch {_installed('torch')} with torchaudio {_installed('torchaudio')}"
        raise AsrError(
            f"{pair} cannot load ({type(err).__name__}); install a matching pair, e.g. "
            "`pip install torch==2.11.0 torchaudio==2.11.0`, or run `make install` for the "
            "locked versions"
        ) from err
    if threads:
        torch.set_num_threads(threads)


def _installed(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "(not installed)"


if __name__ == "__main__":  # `python -m asr.runtime`: the install check `make install` runs
    import sys

    try:
        init_torch()
    except AsrError as err:
        sys.exit(f"asr: {err}")
    print(f"torch {_installed('torch')}, torchaudio {_installed('torchaudio')}: ok")
