"""The `asr` command line: one module per command group, thin over the library."""

from asr.cli.main import main

__all__ = ["main"]
