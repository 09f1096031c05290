"""User-facing errors: the CLI prints the message as one line on stderr and exits 1."""


class DobaeError(Exception):
    """An error the user can fix; the message says what went wrong and what to do."""


class InputError(DobaeError):
    """Bad input: the message names the file, row, column or URL."""


class ConfigError(DobaeError):
    """Bad configuration or a missing optional part (extra, model, server)."""
