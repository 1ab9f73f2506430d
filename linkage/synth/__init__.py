"""Synthetic worlds with known answers: benign traps, operator rings, partial intel.

``generate`` writes one world in data contract v1 plus ``truth.csv``; see
:func:`linkage.synth.world.generate` for scales and knobs.
"""

from .world import COHORTS, DEFAULT_KNOBS, SCALES, generate

__all__ = ["generate", "COHORTS", "DEFAULT_KNOBS", "SCALES"]
