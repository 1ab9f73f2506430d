"""benchmarks/baseline.py: the naive pipeline's answer on hand-made batches, and its limits."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

BASELINE = Path(__file__).resolve().parents[2] / "benchmarks" / "baseline.py"


@pytest.fixture(scope="module")
def baseline():
    spec = importlib.util.spec_from_file_location("baseline", BASELINE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_batch(folder: Path, events: list[tuple], payments: list[tuple], emails: dict[str, str]) -> Path:
    """A batch folder of Parquet files; events are (account, ip, device), payments (account, instrument)."""
    folder.mkdir()
    pd.DataFrame({"account_id": list(emails), "created_at": "2026-01-01T00:00:00Z", "email": list(emails.values()),
                  "org_id": None, "country": "US"}).to_parquet(folder / "accounts.parquet")
    ev = pd.DataFrame(events, columns=["account_id", "ip", "device_id"])
    ev = ev.assign(ts="2026-04-01T00:00:00Z", asn=64500, user_agent="curl/8", prompt=None)
    ev.to_parquet(folder / "events.parquet")
    pay = pd.DataFrame(payments, columns=["account_id", "instrument_id"])
    pay.assign(instrument_type="card", bin="411111", ts="2026-04-01T00:00:00Z").to_parquet(folder / "payments.parquet")
    return folder


@pytest.fixture
def two_groups(tmp_path) -> Path:
    """9 accounts sharing a card, 10 sharing an ip, 6 loners (two share a company email domain).

    Everyone else is on gmail.com, which must not link anyone.
    """
    card = [f"card{i}" for i in range(9)]
    nat = [f"nat{i}" for i in range(10)]
    loners = [f"solo{i}" for i in range(6)]
    accounts = card + nat + loners
    events = [(a, f"198.51.100.{i}", f"dev{i}") for i, a in enumerate(accounts) if a not in nat]
    events += [(a, "203.0.113.7", f"dev{i}") for i, a in enumerate(accounts) if a in nat]
    events += [(a, f"192.0.2.{i}", f"dev{i}") for i, a in enumerate(accounts)]  # a second, unshared request
    payments = [(a, "tok_shared" if a in card else f"tok_{a}") for a in accounts]
    emails = {a: f"{a}@gmail.com" for a in accounts} | {"solo0": "x@acme.io", "solo1": "y@ACME.io"}
    return write_batch(tmp_path / "world", events, payments, emails)


def test_weights_count_shared_entities_per_family(baseline):
    tables = {
        "events": pd.DataFrame({"account_id": ["a", "b", "a", "c"], "ip": ["1", "1", "1", "9"],
                                "device_id": ["d", "d", "e", "f"]}),
        "payments": pd.DataFrame({"account_id": ["a", "b", "c"], "instrument_id": ["t", "t", "t"]}),
        "accounts": pd.DataFrame({"account_id": ["a", "b", "c"],
                                  "email": ["a@corp.com", "b@Corp.com", "c@gmail.com"]}),
    }
    pairs, rows = baseline.weighted_pairs(baseline.memberships(tables))
    got = {(r.a, r.b): r.weight for r in pairs.itertuples()}
    # a-b: card 3 + ip 1 + device 2 + corp.com 1.5; a-c and b-c: the card only (gmail.com is free mail)
    assert got == {("a", "b"): 7.5, ("a", "c"): 3.0, ("b", "c"): 3.0}
    assert rows == 6


def test_in_process_pipeline_finds_both_groups(baseline, two_groups):
    found = baseline.run_pipeline(two_groups)
    assert sorted(sorted(c) for c in found) == [[f"card{i}" for i in range(9)], [f"nat{i}" for i in range(10)]]


def test_child_run_finishes_with_stage_report(baseline, two_groups):
    result = baseline.run(two_groups, time_limit=120, memory_limit_gb=4)
    assert result["finished"] and result["stopped"] is None and result["stage"] is None
    assert result["communities"] == 2 and result["members"] == 19
    assert result["pairs"] == 36 + 45 + 1  # card clique, ip clique, the acme.io pair
    assert result["edges"] == 82
    assert list(result["stages"]) == list(baseline.STAGES)
    for stage in result["stages"].values():
        assert stage["seconds"] >= 0 and 0 < stage["peak_rss_gb"] <= result["peak_rss_gb"]
    assert not Path(f"/proc/{result['pid']}").exists()


def test_quality_on_a_world_with_truth(baseline, two_groups):
    truth = pd.DataFrame({"account_id": [f"card{i}" for i in range(9)] + ["nat0", "solo2"],
                          "operator": ["OP"] * 9 + ["", "OP"], "ring": "", "cohort": ""})
    truth.to_csv(two_groups / "truth.csv", index=False)
    result = baseline.run(two_groups, time_limit=120, memory_limit_gb=4)
    assert result["quality"] == {"ring_accounts": 10, "in_ring_communities": 9, "share": 0.9}


def test_time_limit_stops_the_child(baseline, tmp_path):
    # A carrier-NAT address shared by 2,000 accounts: 2M pairs, far more than 2 s of work.
    accounts = [f"acc{i:05d}" for i in range(2000)]
    world = write_batch(tmp_path / "nat", [(a, "100.64.0.1", f"dev_{a}") for a in accounts],
                        [(a, f"tok_{a}") for a in accounts], {a: f"{a}@gmail.com" for a in accounts})
    result = baseline.run(world, time_limit=2.0, memory_limit_gb=8)
    assert not result["finished"]
    assert result["stopped"].startswith("time limit")
    assert result["stage"] in ("startup", "read", "pairs", "graph")
    assert "communities" not in result["stages"] and result["communities"] is None
    assert result["elapsed_s"] < 2.0 + 3.0
    assert not Path(f"/proc/{result['pid']}").exists()


def test_memory_limit_stops_the_child(baseline, two_groups):
    result = baseline.run(two_groups, time_limit=120, memory_limit_gb=0.02)  # the interpreter alone passes 20 MB
    assert not result["finished"]
    assert result["stopped"] == "memory limit 0.02 GB"
    assert not Path(f"/proc/{result['pid']}").exists()
