"""Invariants of the synthetic world generator on a small world (1,500 accounts)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linkage.errors import ConfigError
from linkage.evaluate import evaluate
from linkage.synth import DEFAULT_KNOBS, generate

CONTRACT = {
    "accounts": ["account_id", "created_at", "email", "org_id", "country"],
    "events": ["account_id", "ts", "ip", "asn", "device_id", "user_agent", "prompt"],
    "payments": ["account_id", "instrument_id", "instrument_type", "bin", "ts"],
    "intel": ["operator", "kind", "value", "note"],
}
OPERATORS = {"CRIMSON-LATHE", "VELVET-MONSOON", "GLASS-HERON", "COPPER-TIDE"}
COHORTS = {"regular", "family", "company", "campus", "api_dev", "mobile", "public_template", "prepaid"}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _read(folder: Path, stem: str) -> pd.DataFrame:
    path = next(folder.glob(f"{stem}.*"))
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype={"bin": str, "org_id": str}, keep_default_na=False)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    summary = generate(out, seed=3, accounts=1500)
    tables = {stem: _read(out, stem) for stem in CONTRACT}
    tables["truth"] = pd.read_csv(out / "truth.csv", dtype=str, keep_default_na=False)
    return out, summary, tables


def test_same_seed_same_bytes_and_other_seed_differs(world, tmp_path):
    out, _, _ = world
    again = generate(tmp_path / "again", seed=3, accounts=1500)
    other = generate(tmp_path / "other", seed=4, accounts=1500)
    assert again.splitlines()[1:-1] == world[1].splitlines()[1:-1]
    for f in sorted(out.iterdir()):
        assert (tmp_path / "again" / f.name).read_bytes() == f.read_bytes(), f.name
        assert (tmp_path / "other" / f.name).read_bytes() != f.read_bytes(), f.name
    assert other != again


def test_tables_have_contract_columns(world):
    _, _, t = world
    for stem, cols in CONTRACT.items():
        assert list(t[stem].columns) == cols, stem
    assert list(t["truth"].columns) == ["account_id", "operator", "ring", "cohort"]


def test_ids_timestamps_and_emails(world):
    _, _, t = world
    acc = t["accounts"]
    assert acc["account_id"].str.fullmatch(r"acc_[0-9a-f]{8}").all()
    assert acc["account_id"].is_unique and acc["email"].is_unique
    assert acc["email"].str.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+").all()
    for stem, col in (("accounts", "created_at"), ("events", "ts"), ("payments", "ts")):
        assert t[stem][col].str.match(ISO_Z).all(), stem
    ev = t["events"]
    ts = pd.to_datetime(ev["ts"])
    assert ts.min() >= pd.Timestamp("2026-04-01", tz="UTC") and ts.max() < pd.Timestamp("2026-07-01", tz="UTC")
    created = pd.to_datetime(acc.set_index("account_id")["created_at"])
    assert (ts.to_numpy() >= created.reindex(ev["account_id"]).to_numpy()).all()
    assert set(ev["account_id"]) <= set(acc["account_id"])
    assert set(t["payments"]["account_id"]) <= set(acc["account_id"])


def test_every_ip_has_one_asn(world):
    ev = world[2]["events"]
    assert (ev.groupby("ip")["asn"].nunique() == 1).all()
    assert ev["ip"].str.fullmatch(r"\d{1,3}(\.\d{1,3}){3}").all()


def test_instruments_are_tokens_not_card_numbers(world):
    pay = world[2]["payments"]
    assert pay["instrument_id"].str.fullmatch(r"tok_[0-9A-Za-z]{16}").all()
    assert not pay["instrument_id"].str.contains(r"\d{13,19}").any()
    cards = pay[pay["instrument_type"] == "card"]
    assert cards["bin"].str.fullmatch(r"\d{6}").all()


def test_truth_covers_every_account_once(world):
    _, _, t = world
    truth = t["truth"]
    assert truth["account_id"].is_unique
    assert set(truth["account_id"]) == set(t["accounts"]["account_id"])
    benign = truth["operator"] == ""
    assert (truth.loc[benign, "ring"] == "").all() and (truth.loc[~benign, "ring"] != "").all()
    assert set(truth.loc[benign, "cohort"]) == COHORTS


def test_cohort_and_operator_counts(world):
    _, summary, t = world
    truth, ev = t["truth"], t["events"]
    ring = truth["operator"] != ""
    assert set(truth.loc[ring, "operator"]) == OPERATORS
    assert ring.mean() == pytest.approx(0.05, abs=0.005)
    assert truth[~ring]["cohort"].value_counts()["regular"] > len(truth) * 0.4
    ring_requests = ev["account_id"].isin(set(truth.loc[ring, "account_id"])).mean()
    assert 0.45 <= ring_requests <= 0.55  # rings send about half the requests
    assert len(ev) == pytest.approx(35 * 1500, rel=0.01)
    for name in OPERATORS:
        assert name in summary
    # each operator runs rings of at least 8 accounts
    assert truth[ring].groupby("ring").size().min() >= 8


def test_ring_accounts_send_more_than_regular_users(world):
    _, _, t = world
    truth = t["truth"].set_index("account_id")
    volume = t["events"].groupby("account_id").size()
    by = volume.groupby(truth.reindex(volume.index)["operator"].ne("")).median()
    regular = volume[truth.reindex(volume.index)["cohort"].eq("regular")].median()
    assert by[True] > 10 * regular


def test_prompts_sampled_and_templated(world):
    _, _, t = world
    ev = t["events"]
    has = ev["prompt"] != ""
    assert 0.25 < has.mean() < 0.35
    truth = t["truth"].set_index("account_id")
    crimson = ev[has & ev["account_id"].map(truth["operator"]).eq("CRIMSON-LATHE")]["prompt"]
    assert crimson.str.contains("step by step|tool call").mean() > 0.8


def test_intel_names_existing_operators_and_omits_the_absent_one(world):
    _, _, t = world
    intel, truth = t["intel"], t["truth"]
    assert set(intel["operator"]) == {"CRIMSON-LATHE", "VELVET-MONSOON", "GLASS-HERON"}
    assert "COPPER-TIDE" not in set(intel["operator"])
    assert set(intel["kind"]) <= {"account", "ip", "asn", "device", "instrument", "email_domain", "prompt"}
    words = intel.loc[intel["kind"] == "prompt", "value"].str.split().str.len()
    assert len(words) and words.between(10, 25).all()
    # partial and noisy: some accounts indicators are real ring members, one is stale
    accounts = intel.loc[intel["kind"] == "account", "value"]
    op_of = truth.set_index("account_id")["operator"]
    real = accounts[accounts.isin(op_of.index)]
    assert (real.map(op_of) == intel.loc[real.index, "operator"]).all()
    assert (~accounts.isin(op_of.index)).sum() >= 1


def test_oracle_rings_score_perfectly(world, tmp_path):
    """truth, intel and evaluate agree: flagging each true ring with its intel name scores 1.0."""
    out, _, t = world
    truth = t["truth"]
    known = set(t["intel"]["operator"])
    rings = [{"ring_id": ring, "score": 1.0, "members": g["account_id"].tolist(),
              "operator": g["operator"].iloc[0] if g["operator"].iloc[0] in known else None}
             for ring, g in truth[truth["ring"] != ""].groupby("ring")]
    (tmp_path / "rings.json").write_text(json.dumps({"rings": rings}))
    m = evaluate(tmp_path, out / "truth.csv")
    assert (m["precision"], m["recall"], m["ring_purity"]) == (1.0, 1.0, 1.0)
    assert m["attribution_accuracy"] == 1.0 and m["unattributed_correct"] == 1.0
    assert m["max_benign_false_flag_rate"] == 0.0


def test_parquet_and_knobs(tmp_path):
    generate(tmp_path, seed=5, accounts=300)  # csv.gz first: the parquet run must replace, not add
    generate(tmp_path, seed=5, accounts=600, fmt="parquet", ring_share=0.1, intel_coverage=0.0, prompt_rate=0.1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "accounts.parquet", "events.parquet", "intel.parquet", "payments.parquet", "truth.csv"]
    ev = pd.read_parquet(tmp_path / "events.parquet")
    truth = pd.read_csv(tmp_path / "truth.csv", dtype=str, keep_default_na=False)
    assert list(ev.columns) == CONTRACT["events"]
    assert (truth["operator"] != "").mean() == pytest.approx(0.1, abs=0.01)
    assert ev["prompt"].notna().mean() == pytest.approx(0.1, abs=0.02)
    intel = pd.read_parquet(tmp_path / "intel.parquet")
    assert intel["note"].str.startswith("stale").all()  # no coverage: only stale indicators remain


def test_bad_knobs_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown synth knobs"):
        generate(tmp_path, accounts=500, ring_sharee=0.1)
    with pytest.raises(ConfigError, match="ring_share"):
        generate(tmp_path, accounts=500, ring_share=2)
    with pytest.raises(ConfigError, match="unknown operators"):
        generate(tmp_path, accounts=500, operator_volume={"NOPE": 2})
    with pytest.raises(ConfigError, match="format"):
        generate(tmp_path, accounts=500, fmt="xlsx")
    assert "ring_share" in DEFAULT_KNOBS


def test_operator_can_be_left_out(tmp_path):
    generate(tmp_path, seed=2, accounts=800, operator_mix={"CRIMSON-LATHE": 1, "COPPER-TIDE": 1})
    truth = pd.read_csv(tmp_path / "truth.csv", dtype=str, keep_default_na=False)
    assert set(truth["operator"]) - {""} == {"CRIMSON-LATHE", "COPPER-TIDE"}


def test_global_random_state_untouched(tmp_path):
    np.random.seed(0)
    expected = np.random.random()
    np.random.seed(0)
    generate(tmp_path, seed=2, accounts=300)
    assert np.random.random() == expected


def test_docstring_example_runs():
    import doctest

    import linkage.synth.world as world_module

    assert doctest.testmod(world_module).failed == 0
