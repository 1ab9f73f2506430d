"""One output convention: --format text|json|csv, numbers for people in text and plain for programs."""

from __future__ import annotations

import csv
import io
import json
import math

import click
import pytest
from click.testing import CliRunner

from linkage.errors import ConfigError
from linkage.tabular import cell, count, format_option, render, weight

COLS = ["id", "weight", "signals", "hub", "accounts"]
ROWS = [{"id": "acc_1", "weight": 1.23456789, "signals": ["payment", "ip"], "hub": False, "accounts": 12345},
        {"id": "acc_22", "weight": None, "signals": [], "hub": True, "accounts": 7}]


def test_text_is_for_people():
    lines = render(COLS, ROWS, "text").splitlines()
    assert lines[0].split() == COLS
    assert "1.2346" in lines[2] and "payment, ip" in lines[2] and "12,345" in lines[2]
    assert lines[-1] == "(2 rows)"
    assert lines[2].index("12,345") + len("12,345") == lines[3].index("7") + 1, "numbers are right-aligned"
    assert render([], [], "text") == "(no rows)"
    assert render(COLS, [], "text").splitlines()[-1] == "(0 rows)"
    assert render(COLS, ROWS, "table") == render(COLS, ROWS, "text")  # the old name still works


def test_json_and_csv_are_for_programs():
    assert json.loads(render(COLS, ROWS, "json")) == ROWS
    parsed = list(csv.DictReader(io.StringIO(render(COLS, ROWS, "csv"))))
    assert parsed[0]["weight"] == "1.23456789" and parsed[0]["accounts"] == "12345"
    assert parsed[0]["signals"] == '["payment", "ip"]' and parsed[1]["weight"] == "" and parsed[1]["hub"] == "true"
    with pytest.raises(ConfigError):
        render(COLS, ROWS, "xml")


def test_csv_with_no_rows_keeps_its_header():
    assert render(COLS, [], "csv") == ",".join(COLS)
    assert render(COLS, [], "json") == "[]"


def test_long_cells_are_clipped_in_text_only():
    rows = [{"text": "x" * 500}]
    assert max(len(line) for line in render(["text"], rows, "text").splitlines()) <= 80
    assert json.loads(render(["text"], rows, "json"))[0]["text"] == "x" * 500


def test_numbers():
    assert weight(0.5) == "0.5" and weight(2.0) == "2" and weight(1234.56789) == "1,234.5679"
    assert weight(math.inf) == "inf" and weight(-0.00001) == "0" and weight(None) == ""
    assert count(28_800_000) == "28,800,000"
    assert cell(True) == "true" and cell(3) == "3" and cell(10_000) == "10,000" and cell({"k": 1}) == '{"k": 1}'


def test_the_format_option_and_its_hidden_json_alias():
    @click.command()
    @format_option
    def cmd(fmt):
        click.echo(fmt)

    runner = CliRunner()
    assert runner.invoke(cmd, []).output.strip() == "text"
    assert runner.invoke(cmd, ["--format", "csv"]).output.strip() == "csv"
    assert runner.invoke(cmd, ["--json"]).output.strip() == "json"
    assert runner.invoke(cmd, ["--format", "table"]).output.strip() == "text"
    res = runner.invoke(cmd, ["--json", "--format", "csv"])
    assert res.exit_code == 2 and "disagree" in res.output
    help_text = runner.invoke(cmd, ["--help"]).output
    assert "[text|json|csv]" in help_text and "default: text" in help_text and "--json" not in help_text
