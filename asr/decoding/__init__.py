"""CTC log-probabilities to words: greedy, beam search with lexicon and KenLM, the n-gram LM
estimator, and forced alignment for word times."""
