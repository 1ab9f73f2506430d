"""Same input, same answers: the fixture world through ``--engine duckdb`` and ``--engine spark``.

The two runs must flag the same rings (ids, members, operators; scores within 1e-6), write the
same ``rejected.csv`` for the same bad rows, and leave a run folder that ``linkage report`` and
``linkage explain --from`` read as they read a DuckDB run's. Bad input stops both engines with
the same one-line error.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from worldkit import recruit_world

from linkage.cli import main

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "world"

#: Bad rows added to the fixture's events: each must be rejected alike by both engines.
BAD_EVENTS = [
    "no-such-account,2026-04-01T00:00:00Z,10.0.0.1,64500,dev-x,,hello",
    ",not-a-time,999.1.1.1,AS-nope,4111111111111111,,",
]


def _world_with_bad_rows(tmp: Path) -> Path:
    """The fixture world with a few bad event rows appended (same columns as its header)."""
    world = tmp / "world"
    shutil.copytree(FIXTURE, world)
    with gzip.open(world / "events.csv.gz", "rt", encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split(",")
    width = len(header)
    rows = [",".join((r.split(",") + [""] * width)[:width]) for r in BAD_EVENTS]
    with gzip.open(world / "events.csv.gz", "at", encoding="utf-8") as fh:
        fh.write("\n".join(rows) + "\n")
    return world


def _detect(world: Path, out: Path, *engine: str) -> None:
    res = CliRunner().invoke(main, ["detect", str(world), "--out", str(out), "--quiet", *engine])
    assert res.exit_code == 0, res.output


@pytest.fixture(scope="module")
def runs(tmp_path_factory, spark_master) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("same_answers")
    world = _world_with_bad_rows(tmp)
    duck, spark = tmp / "duckdb", tmp / "spark"
    _detect(world, duck)
    _detect(world, spark, "--engine", "spark", "--spark-master", spark_master)
    return duck, spark


def _rings(out: Path) -> list[dict]:
    return json.loads((out / "rings.json").read_text())["rings"]


def test_same_rings_members_operators_and_scores(runs):
    duck, spark = (_rings(r) for r in runs)
    assert len(duck) >= 3  # the fixture has rings to compare
    assert [r["ring_id"] for r in spark] == [r["ring_id"] for r in duck]
    for d, s in zip(duck, spark):
        assert s["members"] == d["members"]
        assert (s["operator"], s["operator_cluster"], s["operation"]) == (d["operator"], d["operator_cluster"],
                                                                          d["operation"])
        assert s["score"] == pytest.approx(d["score"], abs=1e-6)
        assert s["operator_confidence"] == pytest.approx(d["operator_confidence"], abs=1e-6)
        for name, value in d["features"].items():
            assert s["features"][name] == pytest.approx(value, abs=1e-6), name
        assert s["bystanders"] == d["bystanders"]
        assert s["recruits"] == d["recruits"]
        assert s["requests"] == d["requests"]


def test_same_recruits(tmp_path, spark_master):
    """An account joining a ring from outside its community (a recruit) joins it on both engines alike:
    the fixture has none, so a hand-made world with one (``worldkit.recruit_world``)."""
    world, ring = recruit_world(tmp_path / "world")
    duck, spark = tmp_path / "duckdb", tmp_path / "spark"
    _detect(world, duck)
    _detect(world, spark, "--engine", "spark", "--spark-master", spark_master)
    (d,), (s,) = _rings(duck), _rings(spark)
    assert d["recruits"] == ["quiet-0"] and set(d["members"]) == set(ring) | {"quiet-0"}
    assert (s["ring_id"], s["members"], s["recruits"], s["bystanders"]) == (d["ring_id"], d["members"], d["recruits"],
                                                                            d["bystanders"])


def test_same_ring_members_csv(runs):
    duck, spark = (pd.read_csv(r / "ring_members.csv") for r in runs)
    pd.testing.assert_frame_equal(spark, duck)


def test_same_rejected_rows(runs):
    duck, spark = ((r / "rejected.csv").read_text() for r in runs)
    assert spark == duck
    assert "unknown account_id" in spark and "unparseable ts" in spark  # the appended rows are in it


def test_same_evidence_tables(runs):
    duck, spark = runs
    for name in ("links", "entities", "incidence", "accounts", "indicator_hits"):
        d = pd.read_parquet(duck / "evidence" / f"{name}.parquet")
        s = pd.read_parquet(spark / "evidence" / f"{name}.parquet")
        assert list(s.columns) == list(d.columns), name
        assert len(s) == len(d), name
        keys = [c for c in d.columns if d[c].dtype == object or "int" in str(d[c].dtype)]
        pd.testing.assert_frame_equal(s[keys].reset_index(drop=True), d[keys].reset_index(drop=True),
                                      check_dtype=False, obj=name)


def test_spark_run_reads_like_a_duckdb_run(runs):
    _, spark = runs
    res = CliRunner().invoke(main, ["report", str(spark)])
    assert res.exit_code == 0, res.output
    assert (spark / "report.html").stat().st_size > 0
    a, b = _rings(spark)[0]["members"][:2]
    res = CliRunner().invoke(main, ["explain", a, b, "--from", str(spark)])
    assert res.exit_code == 0, res.output
    assert a in res.output and b in res.output


def test_bad_input_same_error(tmp_path, spark_master):
    world = tmp_path / "world"
    shutil.copytree(FIXTURE, world)
    (world / "payments.csv.gz").unlink()
    outputs = []
    for engine in (["--engine", "duckdb"], ["--engine", "spark", "--spark-master", spark_master]):
        res = CliRunner().invoke(main, ["detect", str(world), "--out", str(tmp_path / engine[1]), "--quiet", *engine])
        assert res.exit_code == 2, res.output
        assert "Traceback" not in res.output
        outputs.append(res.stderr.strip())
    assert outputs[0] == outputs[1]
    assert "no payments table" in outputs[0]


def test_local_workers_run_an_interpreter_with_linkages_dependencies(spark_master):
    """Regression: the workers ran the first python3 on PATH, which on a fresh machine has no numpy, and
    every Leiden task failed. Unless PYSPARK_PYTHON says otherwise, they run the driver's interpreter."""
    import subprocess

    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    assert spark is not None
    worker = spark.sparkContext.pythonExec
    assert subprocess.run([worker, "-c", "import numpy, igraph, leidenalg, linkage"]).returncode == 0
