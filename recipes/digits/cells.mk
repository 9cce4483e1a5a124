# The recurrent cell as a choice (issue 16): RNN (tanh) / GRU / LSTM x uni / bi, each with the
# hidden size that gives about 0.44 M parameters (`python -m benchmarks.cells`), the same front
# end, features and training budget (cells/template.toml); scored greedily on the test speaker's
# isolated and connected digits. `make cells SYNTH=0` prints the table ($(EXP)/cells/table.md).
# Included by the Makefile, after its data rules.

# cell-direction:hidden; uni models see 2 future output frames (40 ms) through the lookahead.
CELLS ?= rnn-uni:344 rnn-bi:208 gru-uni:192 gru-bi:112 lstm-uni:160 lstm-bi:96## the ablation's models
CELLS_OUT := $(EXP)/cells
CELL_NAMES := $(foreach c,$(CELLS),$(firstword $(subst :, ,$c)))
cell_hidden = $(lastword $(subst :, ,$(filter $1:%,$(CELLS))))

.PHONY: cells

cells: $(CELLS_OUT)/table.md  ## train and score the six cells of the ablation
	@cat $<

$(CELLS_OUT)/%/config.toml: cells/template.toml
	mkdir -p $(@D)
	sed -e 's/@CELL@/$(word 1,$(subst -, ,$*))/' \
		-e 's/@BIDIRECTIONAL@/$(if $(filter bi,$(word 2,$(subst -, ,$*))),true,false)/' \
		-e 's/@LOOKAHEAD@/$(if $(filter bi,$(word 2,$(subst -, ,$*))),0,2)/' \
		-e 's/@HIDDEN@/$(call cell_hidden,$*)/' $< > $@

$(foreach c,$(CELL_NAMES),$(eval $(call train-rule,$(CELLS_OUT)/$c/model,$(EXP)/train.jsonl,$(EXP)/dev.jsonl,$(CELLS_OUT)/$c/config.toml)))

$(CELLS_OUT)/%/isolated/results.json: $(CELLS_OUT)/%/model/.done $(TEST_INPUTS)
	$(ASR) evaluate --model $(CELLS_OUT)/$*/model/best.pt --manifest $(TEST_isolated) \
		--decoder greedy --output-dir $(@D) $(QUIET) >/dev/null

$(CELLS_OUT)/%/connected/results.json: $(CELLS_OUT)/%/model/.done $(TEST_INPUTS)
	$(ASR) evaluate --model $(CELLS_OUT)/$*/model/best.pt --manifest $(TEST_connected) \
		--decoder greedy --output-dir $(@D) $(QUIET) >/dev/null

# WER from each report's own table; seconds per epoch from the training log.
$(CELLS_OUT)/table.md: $(foreach c,$(CELL_NAMES),$(CELLS_OUT)/$c/isolated/results.json $(CELLS_OUT)/$c/connected/results.json)
	{ echo "| model | hidden | isolated WER (95 % CI) | connected WER (95 % CI) | s / epoch |"; \
	echo "| --- | --- | --- | --- | --- |"; \
	for name in $(CELL_NAMES); do d=$(CELLS_OUT)/$$name; \
		printf '| %s | %s | %s | %s | %s |\n' $$name \
			"$$(sed -nE 's/^lstm_hidden = //p' $$d/config.toml)" \
			"$$(sed -nE 's/^\| WER \| (.*) \|$$/\1/p' $$d/isolated/report.md)" \
			"$$(sed -nE 's/^\| WER \| (.*) \|$$/\1/p' $$d/connected/report.md)" \
			"$$(awk -F, 'NR > 1 { s += $$NF; n++ } END { printf "%.0f", s / n }' $$d/model/log.csv)"; \
	done; } > $@
