# Rules shared by every recipe: include this after the recipe's own variables.
#
# A recipe is a dependency graph of files: manifests, a checkpoint, evaluation reports. Each
# target depends on its inputs, on the config file and on a small "args" file holding the
# variables it uses, so a second `make` does nothing and a change (config, data or a variable
# given on the command line) redoes only what depends on it. Recipes call only the `asr` CLI.

RECIPES_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
REPO := $(abspath $(RECIPES_DIR)/..)

ASR ?= $(if $(wildcard $(REPO)/.venv/bin/asr),$(REPO)/.venv/bin/asr,asr)## the asr command
CONFIG ?= config.toml## training config (TOML: [features] [model] [train] [augment] [specaug])
EXP ?= exp## folder for everything the recipe makes; `make clean` removes it
EPOCHS ?=## training epochs (empty: the config's)
NJOBS ?= 4## parallel jobs for data preparation
NGPU ?= 1## processes for training; above 1, training runs under torchrun
THREADS ?= 2## CPU threads per training process
QUIET ?= -q## asr's verbosity flag; make QUIET= shows progress and info logs

TORCHRUN ?= $(if $(findstring /,$(ASR)),$(dir $(ASR)))torchrun## launcher used when NGPU > 1
# One process: the asr CLI itself. Several (GPUs, or CPU processes with gloo): torchrun.
TRAIN_CMD = $(if $(filter 1,$(NGPU)),$(ASR) train,\
	$(TORCHRUN) --standalone --nproc_per_node $(NGPU) -m asr.cli train)
TRAIN_OPTS = $(if $(EPOCHS),--epochs $(EPOCHS)) --threads $(THREADS)

# $(call remember,FILE,TEXT): FILE holds TEXT, rewritten (hence newer) only when TEXT changes, so
# a target depending on FILE is redone when a variable it uses changes, and only then. Evaluated
# while make reads the Makefile; `help` and `clean` leave the folder alone.
NO_STATE_GOALS := help clean distclean
HELP_VARS = $(shell sed -nE 's/^([A-Z_]+) \?=.*## .*/\1/p' $(MAKEFILE_LIST) | awk '!seen[$$0]++')
remember = $(if $(filter-out $(NO_STATE_GOALS),$(or $(MAKECMDGOALS),all)),$(shell \
	mkdir -p $(dir $1) && (printf '%s\n' '$(strip $2)' | cmp -s - $1 \
	|| printf '%s\n' '$(strip $2)' > $1)))

# $(eval $(call train-rule,DIR,TRAIN,DEV,CONFIG[,INPUTS])): DIR/best.pt trained with CONFIG on
# the TRAIN manifest, checkpoints chosen on DEV; DIR/.done is stamped once training has finished.
# INPUTS are the targets that make TRAIN and DEV (default: TRAIN and DEV). An interrupted run
# (Ctrl-C) resumes from DIR/last.pt; inputs newer than it start afresh.
define train-rule
$1/.done: $(or $5,$2 $3) $4 $(EXP)/args/train
	if [ -f $1/last.pt ] && [ -n "$$$$(find $$^ -newer $1/last.pt)" ]; then rm -rf $1; fi
	$$(TRAIN_CMD) --config $4 --train $2 --dev $3 --output-dir $1 $$(TRAIN_OPTS) $$(QUIET)
	touch $$@
endef

# $(eval $(call lm-tune-rules,DIR,TEXT,ORDER,ARPA,DEV,TUNED[,DEV_INPUT])): a Kneser-Ney word LM
# of ORDER estimated on TEXT, written to ARPA with its lexicon beside it (ARPA's name, .lex),
# keeping the words DIR/best.pt's alphabet can spell; then DIR/best.pt's LM weight and word
# score tuned with it on the DEV manifest, written to TUNED. DEV_INPUT is the target that makes
# DEV (default: DEV).
define lm-tune-rules
$4: $2 $1/.done
	mkdir -p $$(@D)
	$$(ASR) lm $2 --arpa $4 --lexicon $(4:.arpa=.lex) --order $3 --model $1/best.pt $$(QUIET)

$6: $1/.done $4 $(or $7,$5)
	$$(ASR) tune --model $1/best.pt --manifest $5 --lm $4 --lexicon $(4:.arpa=.lex) \
		--output $$@ $$(TUNE_OPTS) $$(QUIET)
endef

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
.SUFFIXES:

.PHONY: help clean report

report: $(EXP)/results.md  ## the WER summary (prints its path), after whatever it needs

# The summary of every evaluation the recipe names in EVALS (each EXP/eval/NAME/), printed.
$(EXP)/results.md: $(EVALS:%=$(EXP)/eval/%/results.json)
	{ echo "# $(notdir $(CURDIR)) results"; for name in $(EVALS); do echo; echo "## $$name"; \
		echo; echo "|  | value |"; echo "| --- | --- |"; grep -E '^\| (WER|CER|utterances) \|' $(EXP)/eval/$$name/report.md; echo; \
		echo "Full report: eval/$$name/report.html"; done; } > $@
	@cat $@
	@echo "report: $@"

help:  ## list targets and variables
	@echo "targets:"
	@grep -hE '^[a-z][a-z0-9_-]*:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16 \
		| sed 's/^/  /'
	@echo "variables (make VAR=value; current value in brackets):"
	@$(foreach v,$(HELP_VARS),printf '  %-15s %s [%s]\n' '$v' \
		"$$(sed -nE 's/^$v \?=.*## (.*)/\1/p' $(MAKEFILE_LIST) | head -n 1)" '$($v)';)

clean:  ## remove what this recipe made (the EXP folder)
	rm -rf $(EXP)
