"""linkage: find coordinated account rings in an AI platform's logs and attribute them to operators.

The public surface is small: ``detect`` runs the whole pipeline on a batch
folder, ``Config`` holds every parameter, ``read_batch`` validates input,
``Ring`` and ``Result`` are what a run gives back, ``RunFolder`` reads a run's
output folder, ``families`` holds the signal families (``register`` adds one),
and every deliberate failure is a ``LinkageError``.

Layers, each reading only those before it: read (``io``) → signals
(``signals``, ``families``) → evidence graph (``graph``) → communities →
scoring → attribution (``analysis`` runs these four) → outputs and store
(``outputs``, ``run``, ``store``); ``pipeline`` strings them together.
"""

from . import families
from .config import AttributionParams, Config, ScoreWeights, ScoringParams
from .errors import ConfigError, InputError, LinkageError, StoreError
from .families import Family, FamilyParams, GraphNode
from .io import read_batch
from .pipeline import detect
from .results import Result, Ring
from .run import RunFolder

__all__ = ["detect", "Config", "FamilyParams", "ScoringParams", "AttributionParams", "ScoreWeights", "Result",
           "Ring", "RunFolder", "read_batch", "families", "Family", "GraphNode", "LinkageError", "InputError",
           "ConfigError", "StoreError"]
__version__ = "0.1.0"
