"""The command line's error type."""


class UsageError(Exception):
    """Bad input from the user: exit code 2 with the message."""
