# The default model `asr transcribe` uses when given no --model: trained on every local speaker
# plus the synthetic voices, checkpoints chosen on the unseen voices, installed with its digit
# lexicon and bigram LM beside it (the checkpoint names them relative to its folder), decoding
# settings tuned on the unseen voices. Included by the Makefile, after its data rules.

DEFAULT_MODEL ?= $(REPO)/asr/default_model/model.pt## where default-model installs its checkpoint
DEFAULT_CONFIG ?= default.toml## the default model's training config: per-utterance means

DEFAULT_OUT := $(EXP)/default
DEFAULT_DIR := $(dir $(DEFAULT_MODEL))

$(call remember,$(DEFAULT_OUT)/args/fsdd,all)

.PHONY: default-model

default-model: $(DEFAULT_MODEL) $(DEFAULT_OUT)/eval/unseen_voices/results.json  ## train on every speaker and install as asr's default model
	@echo "default model: $(DEFAULT_MODEL)"
	@echo "report: $(DEFAULT_OUT)/eval/unseen_voices/report.md"

$(DEFAULT_OUT)/fsdd/.done: $(FSDD_INPUTS) $(DEFAULT_OUT)/args/fsdd
	$(ASR) prepare fsdd $(DATA) --output-dir $(@D) --sample-rate $(SAMPLE_RATE) --jobs $(NJOBS) \
		--dev-speakers --test-speakers $(QUIET) >/dev/null
	touch $@

$(DEFAULT_OUT)/train.jsonl: $(DEFAULT_OUT)/fsdd/.done $(SYNTH_OUT)/synth_digits.jsonl
	$(ASR) prepare combine $(DEFAULT_OUT)/fsdd/train.jsonl $(DEFAULT_OUT)/fsdd/connected_train.jsonl \
		$(SYNTH_OUT)/synth_digits.jsonl --output $@ $(QUIET) >/dev/null

$(eval $(call train-rule,$(DEFAULT_OUT)/model,$(DEFAULT_OUT)/train.jsonl,$(HELDOUT_OUT)/synth_digits.jsonl,$(DEFAULT_CONFIG)))

$(DEFAULT_OUT)/lm/text.txt: $(DEFAULT_OUT)/train.jsonl
	mkdir -p $(@D)
	$(ASR) prepare text $< $(QUIET) > $@

$(eval $(call lm-tune-rules,$(DEFAULT_OUT)/model,$(DEFAULT_OUT)/lm/text.txt,2,$(DEFAULT_DIR)digits.arpa,$(HELDOUT_OUT)/synth_digits.jsonl,$(DEFAULT_MODEL)))

$(DEFAULT_OUT)/eval/unseen_voices/results.json: $(DEFAULT_MODEL) $(HELDOUT_OUT)/synth_digits.jsonl
	$(ASR) evaluate --model $< --manifest $(HELDOUT_OUT)/synth_digits.jsonl \
		--output-dir $(@D) $(QUIET)
