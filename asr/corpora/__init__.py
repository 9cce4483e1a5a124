"""Corpora to manifests: importers (LibriSpeech, Common Voice, Kaldi, folders, FSDD), connected
digit strings, and synthetic speech from espeak-ng/flite voices."""
