"""The error types the library raises: AsrError for bad input, UsageError for a wrong request."""


class AsrError(Exception):
    """Bad input or state a user can fix; the message names the file and the reason.

    `cli.py` prints it as one line on stderr and exits 1; the library never prints or exits.
    """


class UsageError(AsrError):
    """The command was asked for wrongly (a required setting missing, options that contradict),
    not given a bad file: `cli.py` prints it as one line and exits 2, as argparse does."""
