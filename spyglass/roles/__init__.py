"""The roles a Spyglass process can play, wired into ``spyglass.server.Stack``."""


class StartupError(Exception):
    """The process cannot start (a port is taken, a required setting is missing)."""
