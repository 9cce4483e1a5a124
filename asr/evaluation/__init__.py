"""Scoring a model on a manifest: WER/CER, error breakdowns, bootstrap intervals, paired
comparison, decoder tuning, plots and the Markdown/HTML reports."""
