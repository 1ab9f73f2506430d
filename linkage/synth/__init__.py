"""Synthetic worlds with known answers: benign traps, operator rings, partial intel.

``generate`` writes one world in data contract v1 plus ``truth.csv``; see
:func:`linkage.synth.world.generate` for scales and knobs. ``ADVERSARIES`` and
``TRAPS`` are the presets ``generate(adversaries=..., traps=...)`` accepts;
``describe`` lists them with their knobs.
"""

from .adversaries import PRESETS as ADVERSARIES
from .knobs import describe
from .traps import TRAPS
from .world import COHORTS, DEFAULT_KNOBS, SCALES, generate

__all__ = ["generate", "COHORTS", "DEFAULT_KNOBS", "SCALES", "ADVERSARIES", "TRAPS", "describe"]
