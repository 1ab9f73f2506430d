"""Check a bundle with the OASIS validator (``stix2-validator``), the checker partners run.

The validator costs 15-40 ms per object (it rebuilds its JSON-schema registry for each), so
a 20k-account world's bundle takes minutes and a seed-scale one most of an hour. It is
therefore an optional dependency (``pip install 'linkage[validate]'``): the tests and CI run it
on every exported bundle shape, and ``linkage intel validate`` / ``export --validate`` run it
on demand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError


@dataclass
class Verdict:
    """The validator's answer: valid or not, and its messages (errors first)."""

    valid: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def validate_bundle(bundle: dict[str, Any]) -> Verdict:
    """Validate a parsed bundle as STIX 2.1 (default options: what ``stix2_validator FILE`` checks)."""
    try:
        from stix2validator import ValidationOptions, validate_parsed_json
    except ImportError:
        raise ConfigError("stix2-validator is not installed: pip install 'linkage[validate]'") from None

    result = validate_parsed_json(bundle, ValidationOptions(version="2.1"))
    results = result if isinstance(result, list) else [result]
    errors = [f"{r.object_id}: {e.message if hasattr(e, 'message') else e}" for r in results for e in r.errors]
    warnings = [f"{r.object_id}: {w}" for r in results for w in (r.warnings or [])]
    return Verdict(valid=all(r.is_valid for r in results), errors=errors, warnings=warnings)


__all__ = ["Verdict", "validate_bundle"]
