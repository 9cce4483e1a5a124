"""asr: a small CNN + BiLSTM + CTC speech recognition toolkit.

Kept free of heavy imports so `asr --help` answers before torch is loaded.
"""

__version__ = "0.1.0"
