import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/worldkit.py


FIXTURE_WORLD = Path(__file__).resolve().parents[1] / "fixtures" / "world"


@pytest.fixture(scope="session")
def fixture_world_run(tmp_path_factory) -> Path:
    """One `linkage detect` run on the committed fixture world, shared read-only: copy it before changing it."""
    from click.testing import CliRunner

    from linkage.cli import main

    out = tmp_path_factory.mktemp("fixture_world_run")
    res = CliRunner().invoke(main, ["detect", str(FIXTURE_WORLD), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    return out
