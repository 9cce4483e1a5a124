"""`make bench`: our speed and accuracy beside peers, outside the installed package."""

from asr.runtime import init_torch

# Before any benchmark module imports torch: OpenMP must not spin on a shared machine.
init_torch()
