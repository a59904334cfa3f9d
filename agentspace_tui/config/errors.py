"""The configuration error, in a module of its own so paths.py and settings.py can both raise it."""


class ConfigError(Exception):
    """A configuration problem with a one-line message for the user."""
