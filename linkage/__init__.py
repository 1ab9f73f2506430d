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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .errors import ConfigError, InputError, LinkageError, StoreError

# The names below load on first use (as in ``linkage.store``): the CLI starts in a fraction of a
# second and takes charge of Ctrl-C before pandas, DuckDB and igraph are imported.
_EXPORTS = {
    "detect": "pipeline", "Config": "config", "AttributionParams": "config", "ScoreWeights": "config",
    "ScoringParams": "config", "Family": "families", "FamilyParams": "families", "GraphNode": "families",
    "read_batch": "io", "Result": "results", "Ring": "results", "RunFolder": "run",
}

if TYPE_CHECKING:
    from . import families
    from .config import AttributionParams, Config, ScoreWeights, ScoringParams
    from .families import Family, FamilyParams, GraphNode
    from .io import read_batch
    from .pipeline import detect
    from .results import Result, Ring
    from .run import RunFolder

__all__ = ["detect", "Config", "FamilyParams", "ScoringParams", "AttributionParams", "ScoreWeights", "Result",
           "Ring", "RunFolder", "read_batch", "families", "Family", "GraphNode", "LinkageError", "InputError",
           "ConfigError", "StoreError"]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    if name == "families":
        return importlib.import_module(".families", __name__)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
