# The streaming model (`asr stream`): a uni-directional LSTM with 40 ms of look-ahead and global
# normalisation (stream.toml), trained on the recipe's training speakers, checkpoints chosen on
# dev, scored greedily on the test speaker's isolated digits. Not shipped: RESULTS.md says why.
# Included by the Makefile, after its data rules.

STREAM_CONFIG ?= stream.toml## the streaming model's training config

STREAM_OUT := $(EXP)/stream

.PHONY: stream

stream: $(STREAM_OUT)/eval/isolated/results.json  ## train the uni-directional streaming model and score it
	@echo "streaming model: $(STREAM_OUT)/model/best.pt"
	@echo "report: $(STREAM_OUT)/eval/isolated/report.md"

$(eval $(call train-rule,$(STREAM_OUT)/model,$(EXP)/train.jsonl,$(EXP)/dev.jsonl,$(STREAM_CONFIG)))

$(STREAM_OUT)/eval/isolated/results.json: $(STREAM_OUT)/model/.done $(TEST_INPUTS)
	$(ASR) evaluate --model $(STREAM_OUT)/model/best.pt --manifest $(TEST_isolated) \
		--output-dir $(@D) $(QUIET)
