"""The Spark engine's tests: one local SparkSession for the whole test session (local[2], few partitions).

Skipped when pyspark, sqlglot or Java is missing; ``scripts/test`` installs the ``spark`` extra, so
CI runs them (its machines have Java 17). Select them with ``-m spark``.
"""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("pyspark")
pytest.importorskip("sqlglot")


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session")
def spark_master():
    """``local[2]``, with the session started once here (later runs reuse it: ``getOrCreate``)."""
    if shutil.which("java") is None:
        pytest.skip("the Spark engine needs Java 17 (not on PATH)")
    from linkage.engines.spark import session

    spark = session("local[2]", partitions=4)
    yield "local[2]"
    spark.stop()
