"""Same input, same rings and ids, at any thread count (issue 11): a world holding every cohort."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from linkage.cli import main

ADVERSARIES = ("stealth-pools:accounts=200", "thin-operation:accounts=200", "mimicry:accounts=100",
               "heavy-paraphrase:accounts=200")
TRAPS = ("hackathon", "eval-vendor", "university-lab", "households", "public-templates")


@pytest.fixture(scope="module")
def every_cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("every-cohort") / "data"
    args = ["synth", str(folder), "--seed", "3", "--accounts", "5000", "--format", "csv"]
    for a in ADVERSARIES:
        args += ["--adversary", a]
    for t in TRAPS:
        args += ["--trap", t]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    return folder


def _detect(data, out, threads: int) -> tuple[dict, bytes]:
    done = CliRunner().invoke(main, ["detect", str(data), "--out", str(out), "--threads", str(threads)])
    assert done.exit_code == 0, done.output
    doc = json.loads((out / "rings.json").read_text())
    return doc, (out / "ring_members.csv").read_bytes()


def test_one_two_and_four_threads_give_the_same_rings_operations_and_ids(every_cohort, tmp_path):
    one, one_members = _detect(every_cohort, tmp_path / "one", 1)
    assert len(one["rings"]) >= 5 and len(one["operations"]) >= 2
    for threads in (2, 4):
        other, other_members = _detect(every_cohort, tmp_path / str(threads), threads)
        assert other["rings"] == one["rings"]  # ids, members, scores, operators, evidence
        assert other["operations"] == one["operations"]
        assert other_members == one_members
