# The synthetic voice families no recipe trains on: those of data/samples' synthetic clips, so the
# shipped models are shown on voices they never heard (and the digits recipe's unseen-voice test).
HELDOUT_VOICES ?= flite-slt,espeak+f5,espeak+m7,espeak+klatt4## synthetic voice families never trained on (data/samples' voices)
