"""One root exception, one subclass per failure area.

The CLI turns any ``LinkageError`` into a single readable line and a non-zero
exit; anything else is a bug and is allowed to show its traceback.
"""


class LinkageError(Exception):
    """Root of every error linkage raises on purpose."""

    exit_code = 1


class InputError(LinkageError):
    """The input batch breaks data contract v1 (missing table, missing column...)."""

    exit_code = 2


class ConfigError(LinkageError):
    """A parameter or setting is out of range or unknown."""

    exit_code = 2


class StoreError(LinkageError):
    """Neo4j could not be reached, refused us, or failed mid-write."""

    exit_code = 3


class OutputError(LinkageError):
    """A run's outputs could not be written (disk full, no permission, a folder that is not linkage's)."""

    exit_code = 1
