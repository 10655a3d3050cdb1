"""The one failure every component expects and handles: a dependency that is down."""


class Unavailable(Exception):
    """MongoDB, Redis or the backend failed or did not answer in time."""
