"""The local server's pure parts, with no Neo4j: where its home is, how its jars are shared, how the password is passed.

The server itself is exercised in tests/integration/test_server.py.
"""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest

from linkage.errors import StoreError
from linkage.store import server

ROOT = Path(__file__).resolve().parents[2]


def test_docstring_examples():
    assert doctest.testmod(server).failed == 0


@pytest.mark.parametrize("password", ["plain-password", 'sp ace"quote\\back#hash', "é€ unicode", "line\nbreak\r"])
def test_an_argument_file_entry_reads_back_as_the_password(password):
    """The file is read by picocli's tokenizer (java.io.StreamTokenizer rules); this undoes our quoting the same way."""
    quoted = server.at_file_argument(password)
    assert quoted[0] == quoted[-1] == '"' and "\n" not in quoted and "\r" not in quoted
    body, out, i = quoted[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\":
            i += 1
            out.append({"n": "\n", "r": "\r"}.get(body[i], body[i]))
        else:
            assert body[i] != '"'  # an unescaped quote would end the argument early
            out.append(body[i])
        i += 1
    assert "".join(out) == password


def test_home_comes_from_the_environment_first(monkeypatch, tmp_path):
    monkeypatch.setenv("LINKAGE_NEO4J_HOME", str(tmp_path / "mine"))
    assert server.default_home() == tmp_path / "mine"


def test_a_checkout_keeps_its_server_beside_the_code(monkeypatch):
    monkeypatch.delenv("LINKAGE_NEO4J_HOME", raising=False)
    if server.project_root() != ROOT:
        pytest.skip("linkage is installed from a wheel here, not from this checkout")
    assert server.default_home() == ROOT / ".neo4j"


@pytest.mark.parametrize("xdg, expected", [("/data/xdg", Path("/data/xdg")), ("relative/xdg", None), ("", None)])
def test_installs_outside_a_checkout_use_the_xdg_data_folder(monkeypatch, xdg, expected):
    monkeypatch.setenv("XDG_DATA_HOME", xdg)
    assert server.user_data_dir() == (expected or Path.home() / ".local" / "share")


def _fake_jar_home(home: Path, digest: str) -> Path:
    """A home as ensure_jars leaves it, with stand-in jars."""
    (home / "lib").mkdir(parents=True)
    (home / "plugins").mkdir()
    (home / "lib" / "neo4j-kernel-5.26.30.jar").write_bytes(b"kernel")
    (home / "plugins" / "apoc-core-5.26.19.jar").write_bytes(b"apoc")
    (home / "lib" / ".linkage-jars.json").write_text(json.dumps({"pom_sha256": digest,
                                                                 "plugins": ["apoc-core-5.26.19.jar"]}))
    return home


def test_jars_are_linked_from_a_home_that_has_the_same_ones(tmp_path):
    digest = server.pom_digest(server.pom_path())
    donor = _fake_jar_home(tmp_path / "donor", digest)
    home = tmp_path / "home"
    assert server.ensure_jars(home, share_from=[tmp_path / "missing", donor]) == home / "lib"
    kernel = home / "lib" / "neo4j-kernel-5.26.30.jar"
    assert kernel.read_bytes() == b"kernel" and kernel.stat().st_ino == (donor / "lib" / kernel.name).stat().st_ino
    assert (home / "plugins" / "apoc-core-5.26.19.jar").read_bytes() == b"apoc"
    marker = home / "lib" / ".linkage-jars.json"
    assert marker.stat().st_ino != (donor / "lib" / ".linkage-jars.json").stat().st_ino  # never shared
    assert json.loads(marker.read_text())["pom_sha256"] == digest
    server.ensure_jars(home, share_from=[])  # now current: nothing to do, no Maven
    assert kernel.stat().st_ino == (donor / "lib" / kernel.name).stat().st_ino


def test_jars_of_another_pom_are_never_linked(tmp_path, monkeypatch):
    donor = _fake_jar_home(tmp_path / "donor", "0" * 64)
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))  # so the fall-back to Maven shows as an error
    with pytest.raises(StoreError, match=r"Maven \(mvn\) is not on PATH"):
        server.ensure_jars(tmp_path / "home", share_from=[donor])
    assert not (tmp_path / "home" / "lib" / "neo4j-kernel-5.26.30.jar").exists()
