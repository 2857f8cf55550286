"""Exceptions raised by al_core for bad input.

Every message names the problem and the fix, so the command line and the app can
show it to the user as it is.
"""


class ALError(Exception):
    """Base class of the errors al_core raises for bad input or a bad state."""


class ConfigError(ALError, ValueError):
    """A configuration value is unknown or out of range."""


class DatasetError(ALError, ValueError):
    """A data set cannot be loaded: unknown name, bad file, wrong shapes."""


class StoreError(ALError):
    """The SQLite store cannot be opened or written (corrupt, locked, too new)."""
