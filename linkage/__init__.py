"""linkage: find coordinated account rings in an AI platform's logs and attribute them to operators.

The public surface is small: ``detect`` runs the whole pipeline on a batch
folder, ``Config`` holds every parameter, ``read_batch`` validates input, and
every deliberate failure is a ``LinkageError``.
"""

from .config import Config, FamilyParams
from .errors import ConfigError, InputError, LinkageError, StoreError
from .io import read_batch
from .pipeline import Result, detect

__all__ = ["detect", "Config", "FamilyParams", "Result", "read_batch",
           "LinkageError", "InputError", "ConfigError", "StoreError"]
__version__ = "0.1.0"
