"""Errors and exit codes shared by every stage and the CLI.

UsageError is bad input from a person or a config: the CLI prints its one-line message (no traceback)
and exits 2. Its message says what was wrong (with the value seen) and what to do.
"""

EXIT_OK = 0
EXIT_REJECTED = 1  # a negative result: candidate rejected, a bar not met
EXIT_USAGE = 2  # bad input: flags, files, configs
EXIT_INTERRUPTED = 130


class UsageError(ValueError):
    """Bad input from the caller; the message is one actionable line."""
