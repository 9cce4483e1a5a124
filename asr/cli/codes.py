"""Exit codes every `asr` command uses."""

EXIT_OK = 0  # success
EXIT_FAILED = 1  # bad input: one line per problem on stderr (other files were still processed)
EXIT_USAGE = 2  # wrong usage: argparse's own code, and a UsageError from the library
EXIT_INTERRUPTED = 130  # Ctrl-C / SIGINT, as shells report it
EXIT_PIPE = 141  # the reader of stdout went away (SIGPIPE, as shells report it)
