"""A 20k-account world's bundle passes the OASIS validator, and lab B names its rings with it (CI, minutes).

Not in `pytest tests/unit`: it generates a 20,000-account world and runs detect three times.
CI (`scripts/test`) runs it; `pytest -m scale` runs it alone.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROUNDTRIP = Path(__file__).resolve().parents[2] / "benchmarks" / "stix_roundtrip.py"

pytestmark = pytest.mark.scale


def test_20k_world_bundle_is_valid_and_carries_attribution(tmp_path):
    spec = importlib.util.spec_from_file_location("stix_roundtrip", ROUNDTRIP)
    roundtrip = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(roundtrip)
    result = roundtrip.run(20_000, 7, tmp_path, "ci-sharing-group-key-5c1e0f")
    assert result["validator"].endswith("valid STIX 2.1 (0 warnings)")
    assert result["lab_b_before"]["attribution_accuracy"] == 0.0
    assert result["lab_b_after"]["attribution_accuracy"] >= 0.9
    assert result["lab_b_after"]["unattributed_correct"] == 1.0
