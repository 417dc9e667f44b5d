"""Errors that are the user's to fix: the CLI prints one line and exits with code 2."""


class UserError(Exception):
    """A user mistake (bad flag, bad file, unknown name). Printed as one line, exit code 2."""

    exit_code = 2


class DataError(UserError):
    """A loaded series violates the data contract; the message names file, row and problem."""


class ConfigError(UserError):
    """A bad option, config file value or parameter."""


class PluginError(UserError):
    """A plugin cannot be found, loaded or registered."""
