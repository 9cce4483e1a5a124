"""The one error type the library raises for bad input."""


class AsrError(Exception):
    """Bad input or state a user can fix; the message names the file and the reason.

    `cli.py` prints it as one line on stderr and exits 1; the library never prints or exits.
    """
