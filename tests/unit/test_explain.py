"""``linkage explain --from OUT`` on a hand-made world with known answers."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from worldkit import START, World, add_regulars, add_ring

from linkage import Config, detect
from linkage.cli import main
from linkage.errors import InputError
from linkage.explain import explain_from_out, format_explanation


def _bridge(w: World) -> tuple[str, str, str]:
    """Three ordinary accounts: P and M share a card, M and Q a laptop; P and Q share nothing of weight."""
    ids = ("bridge-p", "bridge-m", "bridge-q")
    for i, aid in enumerate(ids):
        w.account(aid, START - pd.Timedelta(days=50 + i), f"{aid}@gmail.com", "regular")
    w.payments += [{"account_id": "bridge-p", "instrument_id": "tok_bridge_pm", "instrument_type": "card", "bin": "520000"},
                   {"account_id": "bridge-m", "instrument_id": "tok_bridge_pm", "instrument_type": "card", "bin": "520000"}]
    for k in range(6):
        ts = START + pd.Timedelta(days=k, hours=3)
        w.request("bridge-p", ts, "10.9.0.1", 7922, "dev-bridge-p", w.random_prompt())
        w.request("bridge-m", ts + pd.Timedelta(hours=5), "10.9.0.2", 7922, "dev-bridge-mq", w.random_prompt())
        w.request("bridge-q", ts + pd.Timedelta(hours=9), "10.9.0.3", 7922, "dev-bridge-mq", w.random_prompt())
    return ids


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(seed=3)
    ring = add_ring(w, "ringa", n=12, requests=60)
    regulars = add_regulars(w, n=40, requests=6)
    bridge = _bridge(w)
    folder = w.write(tmp_path_factory.mktemp("explain_world"))
    out = tmp_path_factory.mktemp("explain_out")
    detect(folder, Config(), out=out)
    return {"out": out, "ring": ring, "regulars": regulars, "bridge": bridge}


def test_two_ring_members_share_their_card_harness_and_domain(world):
    a, b = world["ring"][0], world["ring"][1]  # card_share=6: members 0-5 pay with tok_ringa_0
    exp = explain_from_out(world["out"], a, b)
    assert exp.linked and exp.link["weight"] > 0
    assert {"payment", "device", "email"} <= set(exp.link["signals"])
    shared = {(s["family"], s["entity"]): s for s in exp.shared}
    card = shared[("payment", "tok_ringa_0")]
    assert card["accounts"] == 6 and not card["hub"] and card["pair_weight"] > 0
    assert shared[("device", "harness-ringa")]["accounts"] == 12
    assert shared[("email", "mailbox-x.top")]["accounts"] == 12
    asn = shared[("asn", "14061")]  # context only: every ASN is a hub (cap 0) and carries nothing
    assert asn["hub"] and asn["pair_weight"] == 0
    templates = [s for s in exp.shared if s["family"] == "prompt"]
    assert templates and all(s["text"] for s in templates), "template n-grams show their words"
    assert exp.paths == []  # directly linked: no path search
    text = format_explanation(exp)
    assert text.startswith(f"{a} and {b} are directly linked: weight")
    assert "card tok_ringa_0  (6 accounts; adds" in text
    assert "ASN 14061  (" in text and "hub: no weight" in text


def test_shared_entities_are_rarest_weight_first(world):
    exp = explain_from_out(world["out"], world["ring"][0], world["ring"][1])
    weights = [s["pair_weight"] for s in exp.shared]
    assert weights == sorted(weights, reverse=True)


def test_members_of_different_card_batches_still_share_the_rest(world):
    exp = explain_from_out(world["out"], world["ring"][0], world["ring"][7])
    families = {s["family"] for s in exp.shared}
    assert "payment" not in families and {"device", "email", "ip"} <= families


def test_two_unrelated_regulars_are_not_linked(world):
    a, b = world["regulars"][1], world["regulars"][3]
    exp = explain_from_out(world["out"], a, b)
    assert not exp.linked and not exp.connected and exp.paths == []
    assert all(s["pair_weight"] == 0 for s in exp.shared)  # at most their carrier's ASN, a hub
    text = format_explanation(exp)
    assert text.splitlines()[0] == f"{a} and {b} are not linked."


def test_a_path_through_an_intermediate_account(world):
    p, m, q = world["bridge"]
    exp = explain_from_out(world["out"], p, q)
    assert not exp.linked and not any(s["pair_weight"] > 0 for s in exp.shared)
    assert exp.connected and exp.paths
    best = exp.paths[0]
    assert best["hops"] == 2 and best["accounts"] == [p, m, q]
    assert [(s["family"], s["entity"]) for s in best["steps"]] == [("payment", "tok_bridge_pm"),
                                                                  ("device", "dev-bridge-mq")]
    assert best["cost"] == 2 and best["weakest"] > 0
    text = format_explanation(exp)
    assert "Shortest evidence paths (2 hops, via 1 intermediate account)" in text
    assert f"{p} —[card tok_bridge_pm (2 accounts)]— {m} —[device dev-bridge-mq (2 accounts)]— {q}" in text
    # the direct neighbours are linked
    assert explain_from_out(world["out"], p, m).linked and explain_from_out(world["out"], m, q).linked


def test_paths_are_limited_to_two_intermediate_accounts(world):
    p, _, q = world["bridge"]
    exp = explain_from_out(world["out"], p, q, max_intermediate=0)
    assert exp.paths == [] and not exp.connected


def test_unknown_and_identical_accounts_are_errors(world):
    with pytest.raises(InputError, match="unknown account 'nobody'"):
        explain_from_out(world["out"], world["ring"][0], "nobody")
    with pytest.raises(InputError, match="same account"):
        explain_from_out(world["out"], "x", "x")
    with pytest.raises(InputError, match="not the output folder"):
        explain_from_out(world["out"] / "evidence", "x", "y")


def test_cli_text_json_and_errors(world):
    runner = CliRunner()
    p, m, q = world["bridge"]
    res = runner.invoke(main, ["explain", p, q, "--from", str(world["out"])])
    assert res.exit_code == 0, res.output
    assert "via 1 intermediate account" in res.output
    res = runner.invoke(main, ["explain", p, q, "--from", str(world["out"]), "--json"])
    doc = json.loads(res.output)
    assert doc["linked"] is False and doc["connected"] is True and doc["paths"][0]["accounts"] == [p, m, q]
    res = runner.invoke(main, ["explain", p, "ghost", "--from", str(world["out"])])
    assert res.exit_code != 0 and res.output.strip() == "linkage: error: unknown account 'ghost' " \
        f"(not in {world['out'] / 'evidence' / 'accounts.parquet'})"
    res = runner.invoke(main, ["explain", p, q])
    assert res.exit_code == 2 and "exactly one of --from OUT or --neo4j" in res.output
