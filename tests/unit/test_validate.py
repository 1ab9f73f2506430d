"""``linkage validate`` (13.3) and the input guide ``docs/input.md``, whose examples must read clean."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from inputkit import folder

from linkage.cli import main
from linkage.io import read_batch

DIRTY = {"events.csv": 'account_id,ts,ip,prompt\na1,2026-04-01T00:00:00Z,1.2.3.4,"multi\nline"\n'
                       "zz,later,1.2.3.999,x\na2,2026-04-01T00:00:00Z,,\n",
         "payments.csv": "account_id,instrument_id\na1,tok_1\na2,4111 1111 1111 1111\n"}


def test_validate_writes_what_detect_would_reject(tmp_path):
    data = folder(tmp_path / "b", DIRTY)
    res = CliRunner().invoke(main, ["validate", str(data), "--out", str(tmp_path / "check")])
    assert res.exit_code == 0, res.output
    assert re.search(r"events\.csv\s+3\s+2\s+1", res.output) and re.search(r"payments\.csv\s+2\s+1\s+1", res.output)
    assert "unknown account_id (not in accounts); unparseable ts; malformed ip" in res.output
    detect = CliRunner().invoke(main, ["detect", str(data), "--out", str(tmp_path / "run"), "--quiet"])
    assert detect.exit_code == 0, detect.output
    written = (tmp_path / "check" / "rejected.csv").read_text()
    assert written == (tmp_path / "run" / "rejected.csv").read_text()
    assert written.splitlines()[1:] == [
        "events.csv,4,account_id; ts; ip,unknown account_id (not in accounts); unparseable ts; malformed ip,zz",
        "payments.csv,3,instrument_id,instrument_id looks like a raw card number (payments must carry tokens),"
        "4111…1111"]


def test_validate_exits_2_on_a_contract_break(tmp_path):
    data = folder(tmp_path / "b", {"events.csv": "account_id,when\na1,2026-04-01T00:00:00Z\n"})
    res = CliRunner().invoke(main, ["validate", str(data)])
    assert res.exit_code == 2
    assert res.output == "linkage: error: events.csv: missing required column ts\n"


def test_validate_json_and_field_limit(tmp_path):
    data = folder(tmp_path / "b", {"events.csv": "account_id,ts,prompt\na1,2026-04-01T00:00:00Z," + "x" * 100 + "\n"})
    res = CliRunner().invoke(main, ["validate", str(data), "--json", "--max-field-bytes", "50"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["files"]["events.csv"] == {"read": 1, "kept": 0, "rejected": 1}
    assert doc["reasons"] == {"prompt longer than 50 bytes (the field size limit)": 1}
    same = CliRunner().invoke(main, ["validate", str(data), "--format", "json", "--max-field-bytes", "50"])
    assert json.loads(same.output) == doc
    rows = CliRunner().invoke(main, ["validate", str(data), "--format", "csv", "--max-field-bytes", "50"]).output
    assert rows.splitlines()[0] == "file,read,kept,rejected" and "events.csv,1,0,1" in rows.splitlines()
    detect = CliRunner().invoke(main, ["detect", str(data), "--out", str(tmp_path / "run"), "--quiet",
                                       "--max-field-bytes", "50"])
    assert detect.exit_code == 0, detect.output
    assert "prompt longer than 50 bytes" in (tmp_path / "run" / "rejected.csv").read_text()


def test_a_planted_symlink_in_out_is_replaced_not_followed(tmp_path):
    data = folder(tmp_path / "b", DIRTY)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "check"
    out.mkdir()
    (out / "rejected.csv").symlink_to(victim)
    assert CliRunner().invoke(main, ["validate", str(data), "--out", str(out)]).exit_code == 0
    assert victim.read_text() == "keep me" and not (out / "rejected.csv").is_symlink()


GUIDE = Path(__file__).resolve().parents[2] / "docs" / "input.md"


def test_the_input_guide_examples_read_clean(tmp_path):
    """Every example file in docs/input.md is valid input: docs that run."""
    text = GUIDE.read_text()
    examples = dict(re.findall(r"`(\w+\.(?:csv|jsonl))`\n\n```\n(.*?)```", text, re.S))
    assert set(examples) == {"accounts.csv", "events.jsonl", "payments.csv", "intel.csv"}
    batch = read_batch(folder(tmp_path / "docs", examples))
    assert batch.counts()["rejected"] == 0
    assert batch.counts()["events"] == 2 and batch.counts()["intel"] == 2


def test_the_input_guide_names_every_contract_column():
    from linkage.io import CONTRACT

    text = GUIDE.read_text()
    for table, (required, optional) in CONTRACT.items():
        assert f"### {table}" in text
        for column in (*required, *optional):
            assert f"| `{column}` |" in text, column

