"""A run folder holds exactly one complete run: built aside, moved in whole, checked by its manifest.

Faults are real where the machine allows: ``kill -9`` of a real ``linkage detect``, a
tmpfs that fills up (ENOSPC) or is read-only (EROFS). Mounting needs root; without it
those tests are skipped, not faked.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from worldkit import World, add_regulars, add_ring

from linkage.cli import main
from linkage.errors import InputError
from linkage.run import RunFolder


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A small batch with one ring: a full detect takes about a second past the imports."""
    w = World(seed=3)
    add_ring(w, "ringa", n=12, requests=120)
    add_regulars(w, n=60)
    return w.write(tmp_path_factory.mktemp("world") / "batch")


@pytest.fixture(scope="module")
def earlier(world, tmp_path_factory) -> Path:
    """A finished run of ``world`` (seed 42); copy it before changing it."""
    out = tmp_path_factory.mktemp("earlier") / "out"
    _detect(world, out)
    return out


def _detect(world: Path, out: Path, *extra: str):
    res = CliRunner().invoke(main, ["detect", str(world), "--out", str(out), "--quiet", *extra])
    return res


def _copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _one_line(res, code: int) -> str:
    assert res.exit_code == code, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("linkage: error:") and "Traceback" not in res.output, res.output
    return lines[0]


def _temps(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.glob(f".{out.name}.linkage-*"))


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- the manifest ---------------------------------------------------------------------------


def test_a_run_has_a_manifest_with_a_checksum_of_every_file(world, earlier):
    doc = json.loads((earlier / "run.json").read_text())
    rings = json.loads((earlier / "rings.json").read_text())
    from linkage import __version__

    assert doc["format"] == "linkage-run" and doc["command"] == "detect" and doc["linkage_version"] == __version__
    assert doc["batch_id"] == rings["input"]["batch_id"] and doc["batch_id"].startswith("batch-")
    assert doc["params"] == rings["params"]
    on_disk = {k: v for k, v in _files(earlier).items() if k != "run.json"}
    assert set(doc["files"]) == set(on_disk) >= {"rings.json", "ring_members.csv", "rejected.csv", "report.html",
                                                 "evidence/links.parquet"}
    for rel, data in on_disk.items():
        assert doc["files"][rel] == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert _temps(earlier) == []


@pytest.mark.parametrize("damage,named", [
    (lambda o: (o / "evidence" / "links.parquet").write_bytes(b"PAR1 not really"), "evidence/links.parquet changed"),
    (lambda o: (o / "rings.json").unlink(), "rings.json is missing"),
    (lambda o: (o / "evidence" / "daily.parquet").unlink(), "evidence/daily.parquet is missing"),
    (lambda o: shutil.copy(o / "evidence" / "links.parquet", o / "evidence" / "extra.parquet"),
     "evidence/extra.parquet was not written by this run"),
    (lambda o: ((o / "ring_members.csv").unlink(), (o / "ring_members.csv").symlink_to(o / "rejected.csv")),
     "ring_members.csv is now a symbolic link"),
    (lambda o: (o / "run.json").unlink(), "no run.json"),
])
@pytest.mark.parametrize("command", [["report"], ["explain", "ringa-000", "ringa-001", "--from"],
                                     ["load", "--neo4j-uri", "bolt://127.0.0.1:9"]])
def test_report_explain_and_load_refuse_a_changed_run(earlier, tmp_path, damage, named, command):
    out = _copy_run(earlier, tmp_path / "out")
    damage(out)
    res = CliRunner().invoke(main, [*command, str(out)])
    line = _one_line(res, 2)
    assert named in line and "--no-verify" in line


def test_no_verify_is_the_escape_hatch_and_a_rebuilt_report_is_recorded(earlier, tmp_path):
    out = _copy_run(earlier, tmp_path / "out")
    doc = json.loads((out / "rings.json").read_text())
    doc["note"] = "edited by hand"
    (out / "rings.json").write_text(json.dumps(doc))
    assert CliRunner().invoke(main, ["report", str(out)]).exit_code == 2
    res = CliRunner().invoke(main, ["report", str(out), "--no-verify"])
    assert res.exit_code == 0, res.output
    with pytest.raises(InputError, match="rings.json changed"):
        RunFolder(out)
    # On an intact run, `linkage report` rebuilds report.html and keeps the manifest true.
    out2 = _copy_run(earlier, tmp_path / "out2")
    (out2 / "report.html").unlink()
    assert CliRunner().invoke(main, ["report", str(out2)]).exit_code == 0
    RunFolder(out2)  # verifies
    ok = CliRunner().invoke(main, ["explain", "ringa-000", "ringa-001", "--from", str(out2)])
    assert ok.exit_code == 0, ok.output


def test_report_never_writes_through_a_planted_link(earlier, tmp_path):
    out = _copy_run(earlier, tmp_path / "out")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (out / "report.html").unlink()
    (out / "report.html").symlink_to(victim)
    assert CliRunner().invoke(main, ["report", str(out)]).exit_code == 0
    assert victim.read_text() == "precious"
    assert not (out / "report.html").is_symlink() and (out / "report.html").read_text().startswith("<!DOCTYPE")


# --- replacing OUT whole ------------------------------------------------------------------------


def test_a_new_run_replaces_every_file_of_the_earlier_one(world, earlier, tmp_path):
    out = _copy_run(earlier, tmp_path / "out")
    stale = out / "evidence" / "old_table.parquet"  # a table an older linkage wrote and this one does not
    stale.write_bytes(b"old")
    res = _detect(world, out, "--seed", "7")
    assert res.exit_code == 0, res.output
    assert not stale.exists()
    run = RunFolder(out)
    assert run.manifest["params"]["seed"] == 7 and run.config.seed == 7
    assert _temps(out) == []


@pytest.mark.parametrize("plant", ["rings.json", "report.html", "evidence/links.parquet", "evidence"])
def test_a_link_planted_in_out_is_never_followed(world, earlier, tmp_path, plant):
    out = _copy_run(earlier, tmp_path / "out")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("precious")
    target = elsewhere if plant == "evidence" else elsewhere / "keep.txt"
    planted = out / plant
    shutil.rmtree(planted) if planted.is_dir() else planted.unlink()
    planted.symlink_to(target)
    before = _files(out)
    res = _detect(world, out, "--seed", "7")
    line = _one_line(res, 1)
    assert repr(plant) in line and "symbolic link" in line
    assert (elsewhere / "keep.txt").read_text() == "precious" and os.listdir(elsewhere) == ["keep.txt"]
    assert planted.is_symlink() and _files(out) == before
    assert _temps(out) == []


def test_foreign_files_in_out_are_refused_and_kept(world, earlier, tmp_path):
    out = _copy_run(earlier, tmp_path / "out")
    (out / "notes.txt").write_text("mine")
    before = _files(out)
    line = _one_line(_detect(world, out), 1)
    assert "'notes.txt'" in line and "did not write" in line
    assert _files(out) == before
    # The input folder itself is someone else's files too.
    line = _one_line(_detect(world, world), 1)
    assert "'accounts.csv'" in line and (world / "accounts.csv").is_file()


@pytest.mark.parametrize("manifest_text", [None, "{\"format\": \"something else\", \"files\": {}}", "not json"])
def test_a_folder_without_a_linkage_manifest_is_never_replaced(world, earlier, tmp_path, manifest_text):
    """Files that merely carry linkage's names (or a pre-manifest run) are not proof enough to delete them."""
    out = _copy_run(earlier, tmp_path / "out")
    if manifest_text is None:
        (out / "run.json").unlink()
    else:
        (out / "run.json").write_text(manifest_text)
    before = _files(out)
    line = _one_line(_detect(world, out, "--seed", "7"), 1)
    assert "not recognisably the folder of an earlier linkage run" in line
    assert ("no run.json" in line) == (manifest_text is None)
    assert _files(out) == before and _temps(out) == []
    bare = tmp_path / "bare"  # just a rings.json of someone's own
    bare.mkdir()
    (bare / "rings.json").write_text("[]")
    assert "no run.json" in _one_line(_detect(world, bare), 1) and (bare / "rings.json").read_text() == "[]"


def test_out_given_as_a_link_gets_the_run_in_the_folder_it_names(world, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    assert _detect(world, link).exit_code == 0
    assert link.is_symlink() and (real / "run.json").is_file()
    RunFolder(link)
    assert _detect(world, link, "--seed", "7").exit_code == 0  # and again, over the earlier run
    assert link.is_symlink() and RunFolder(real).config.seed == 7
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    assert "not a folder" in _one_line(_detect(world, dangling), 1)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert "is a file" in _one_line(_detect(world, a_file), 2) and a_file.read_text() == "x"  # click's check


def test_a_killed_run_leaves_the_earlier_run_whole_and_the_next_run_cleans_up(world, earlier, tmp_path):
    """kill -9 while the outputs are being written: OUT still verifies as the earlier run."""
    out = _copy_run(earlier, tmp_path / "out")
    cmd = [sys.executable, "-m", "linkage.cli", "detect", str(world), "--out", str(out), "--quiet", "--seed", "7"]
    def mtime() -> int:
        with contextlib.suppress(OSError):
            return (out / "rings.json").stat().st_mtime_ns
        return 0

    for delay in (0.0, 0.15, 0.4):
        rings_mtime, left = mtime(), set(_temps(out))
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and proc.poll() is None:
                # outputs have started: a new temporary folder beside OUT (or, before this design, OUT changing)
                if set(_temps(out)) - left or mtime() != rings_mtime:
                    break
                time.sleep(0.005)
            time.sleep(delay)
        finally:
            proc.kill()
            proc.wait()
        run = RunFolder(out)  # every file is the one its manifest lists
        assert run.config.seed in (42, 7)
        assert set(_files(out)) - {"run.json"} == set(run.manifest["files"])
    assert _detect(world, out, "--seed", "7").exit_code == 0
    assert RunFolder(out).config.seed == 7 and _temps(out) == []


# --- write failures -----------------------------------------------------------------------------


@contextlib.contextmanager
def _tmpfs(path: Path, size: str):
    """A real small filesystem at ``path`` (root only: otherwise the test is skipped)."""
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "linkage-test", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.mark.parametrize("size", ["4k", "24k", "48k", "80k"])
def test_a_full_disk_gives_one_line_and_leaves_no_folder(world, tmp_path, size):
    with _tmpfs(tmp_path / "fs", size) as fs:
        out = fs / "deep" / "out"
        line = _one_line(_detect(world, out), 1)
        assert "No space left on device" in line and "nothing was written" in line
        assert os.listdir(fs) == []  # no OUT, no temporary folder, not even the parent it made


def test_a_full_disk_keeps_the_earlier_run(world, earlier, tmp_path):
    size = sum(len(b) for b in _files(earlier).values())
    with _tmpfs(tmp_path / "fs", f"{(size * 3) // 2 + 64 * 1024}") as fs:
        out = _copy_run(earlier, fs / "out")
        before = _files(out)
        line = _one_line(_detect(world, out, "--seed", "7"), 1)
        assert "No space left on device" in line and "earlier run in it is unchanged" in line
        assert _files(out) == before and os.listdir(fs) == ["out"]
        RunFolder(out)


def test_a_read_only_filesystem_gives_one_line(world, earlier, tmp_path):
    with _tmpfs(tmp_path / "fs", "4m") as fs:
        out = _copy_run(earlier, fs / "out")
        subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)
        line = _one_line(_detect(world, out, "--seed", "7"), 1)
        assert "Read-only file system" in line
        RunFolder(out)
