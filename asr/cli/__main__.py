"""`python -m asr.cli` (as torchrun launches training) runs the `asr` command."""

import sys

from asr.cli.main import main

sys.exit(main())
