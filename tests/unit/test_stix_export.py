"""Exporting a run as STIX 2.1: validity, determinism, TLP, privacy and what never leaves (linkage.stix)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import shutil

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner
from worldkit import START, World, add_regulars, add_ring

from linkage import detect
from linkage.cli import main
from linkage.config import FREE_MAIL_DOMAINS
from linkage.stix.export import build_bundle
from linkage.stix.hashing import ShareKey
from linkage.stix.model import EXTENSIONS, LINKAGE_IDENTITY, TLP2_EXTENSION, TLP2_MARKINGS
from linkage.stix.run import read_run
from linkage.stix.select import Policy

KEY = "fixture-sharing-group-key-7f3a9c"


def export(run_dir, target, *args, key: str | None = KEY, env_var: str = "LINKAGE_SHARE_KEY"):
    res = CliRunner().invoke(main, ["intel", "export", str(run_dir), "--to", str(target), "--producer", "lab-a",
                                    *args], env={env_var: key or ""})
    assert res.exit_code == 0, res.output
    return res, json.loads(target.read_text())


@pytest.fixture(scope="module")
def exported(fixture_world_run, tmp_path_factory):
    target = tmp_path_factory.mktemp("stix") / "bundle.json"
    res, doc = export(fixture_world_run, target)
    return res, doc, target


def objects_of(doc, stix_type):
    return [o for o in doc["objects"] if o["type"] == stix_type]


def test_bundle_holds_operators_indicators_templates_sightings(exported, fixture_world_run):
    res, doc, _ = exported
    rings = json.loads((fixture_world_run / "rings.json").read_text())["rings"]
    names = {o["name"] for o in objects_of(doc, "intrusion-set")}
    assert names == {r["operator"] or f"lab-a:{r['operator_cluster']}" for r in rings}
    patterns = " ".join(o["pattern"] for o in objects_of(doc, "indicator"))
    for sco in ("ipv4-addr", "autonomous-system", "domain-name", "x-linkage-account", "x-linkage-device",
                "x-linkage-instrument"):
        assert f"[{sco}:" in patterns
    indicators = {o["id"] for o in objects_of(doc, "indicator")}
    sets = {o["id"] for o in objects_of(doc, "intrusion-set")}
    indicates = [r for r in objects_of(doc, "relationship") if r["relationship_type"] == "indicates"]
    assert {r["source_ref"] for r in indicates} == indicators and {r["target_ref"] for r in indicates} <= sets
    sightings = objects_of(doc, "sighting")
    assert {s["sighting_of_ref"] for s in sightings} == indicators
    assert all(s["count"] >= 1 and s["first_seen"] <= s["last_seen"] for s in sightings)
    templates = objects_of(doc, "x-linkage-harvesting-template")
    assert templates and all(len(t["excerpt"].split()) >= Policy().min_template_words for t in templates)
    ext_ids = {o["id"] for o in objects_of(doc, "extension-definition")}
    assert all(set(t["extensions"]) <= ext_ids for t in templates)
    assert "wrote" in res.output and "intrusion sets" in res.output


def test_bundle_passes_the_official_validator_without_warnings(exported):
    from linkage.stix.validate import validate_bundle

    verdict = validate_bundle(exported[1])
    assert verdict.valid, verdict.errors[:5]
    assert verdict.warnings == []


def test_validate_command_checks_a_bundle(exported, tmp_path):
    head = exported[1] | {"objects": exported[1]["objects"][:12]}  # the validator takes ~30 ms an object
    (tmp_path / "head.json").write_text(json.dumps(head))
    res = CliRunner().invoke(main, ["intel", "validate", str(tmp_path / "head.json")])
    assert res.exit_code == 0 and "valid STIX 2.1" in res.output
    broken = exported[1] | {"objects": [{**o, "created": "yesterday"} for o in exported[1]["objects"][:3]]}
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    res = CliRunner().invoke(main, ["intel", "validate", str(tmp_path / "broken.json")])
    assert res.exit_code == 1 and "not valid STIX 2.1" in res.output


def test_same_run_same_bundle_byte_for_byte(exported, fixture_world_run, tmp_path):
    _, _, first = exported
    export(fixture_world_run, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == first.read_bytes()


@pytest.mark.parametrize("level", ["clear", "green", "amber", "amber+strict", "red"])
def test_every_object_carries_the_tlp2_marking(fixture_world_run, tmp_path, level):
    _, doc = export(fixture_world_run, tmp_path / "b.json", "--tlp", level)
    marking = objects_of(doc, "marking-definition")
    assert [m["id"] for m in marking] == [TLP2_MARKINGS[level]]
    assert marking[0]["name"] == f"TLP:{level.upper()}"
    assert marking[0]["extensions"][TLP2_EXTENSION] == {"extension_type": "property-extension", "tlp_2_0": level}
    unmarked = {o["id"] for o in doc["objects"] if TLP2_MARKINGS[level] not in o.get("object_marking_refs", [])}
    # only the marking itself and linkage's public definitions (the same in every bundle) go unmarked
    assert unmarked == {TLP2_MARKINGS[level], LINKAGE_IDENTITY, *(e.id for e in EXTENSIONS)}


def test_without_key_hashed_kinds_are_left_out_and_said_so(fixture_world_run, tmp_path):
    res, doc = export(fixture_world_run, tmp_path / "nokey.json", key=None)
    patterns = " ".join(o["pattern"] for o in objects_of(doc, "indicator"))
    assert "x-linkage-" not in patterns and "[ipv4-addr:" in patterns
    notes = [line for line in res.output.splitlines() if "no sharing-group key" in line]
    assert len(notes) == 1


def test_hashes_are_hmac_sha256_a_partner_can_reproduce(exported, fixture_world_run):
    devices = pd.read_parquet(fixture_world_run / "evidence" / "incidence.parquet").query("family == 'device'")
    expected = {hmac.new(KEY.encode(), f"device:{d}".encode(), hashlib.sha256).hexdigest() for d in devices.entity}
    exported_devices = {o["pattern"].split("'")[1] for o in objects_of(exported[1], "indicator")
                        if o["pattern"].startswith("[x-linkage-device:")}
    assert exported_devices and exported_devices <= expected


def test_key_never_in_output_logs_or_messages(fixture_world_run, tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    res, doc = export(fixture_world_run, tmp_path / "b.json")
    res2 = CliRunner().invoke(main, ["intel", "export", str(fixture_world_run), "--to", str(tmp_path / "c.json")],
                         env={"LINKAGE_SHARE_KEY": "too-short"})
    assert res2.exit_code == 2 and "too short" in res2.output and "too-short" not in res2.output
    everything = (res.output + res2.output + (tmp_path / "b.json").read_text() + caplog.text
                  + "".join(capfd.readouterr()) + repr(ShareKey(KEY.encode(), "LINKAGE_SHARE_KEY")))
    assert KEY not in everything and "too-short" not in everything.replace("too short", "")


def test_exported_values_obey_the_export_rules(exported, fixture_world_run):
    """Every plain value that left: not free-mail, not a hub, and used (almost) only by flagged accounts."""
    ev = fixture_world_run / "evidence"
    con = duckdb.connect()
    rings = json.loads((fixture_world_run / "rings.json").read_text())["rings"]
    con.register("flagged", pd.DataFrame({"account_id": [a for r in rings for a in r["members"]]}))
    values = {o["pattern"].split("'")[1] if "'" in o["pattern"] else o["pattern"].split("= ")[1].rstrip("]")
              for o in objects_of(exported[1], "indicator") if "x-linkage-" not in o["pattern"]}
    assert values and not values & FREE_MAIL_DOMAINS
    stats = con.execute(
        f"""SELECT i.entity, any_value(e.hub) AS hub, any_value(e.family) AS family, count(*) AS users,
                   count(*) FILTER (a.account_id IN (SELECT account_id FROM flagged)) AS flagged
            FROM read_parquet('{ev / "incidence.parquet"}') i JOIN read_parquet('{ev / "accounts.parquet"}') a USING (aid)
            JOIN read_parquet('{ev / "entities.parquet"}') e USING (family, entity)
            WHERE i.family IN ('ip', 'prefix', 'asn', 'email') AND i.entity IN (SELECT unnest(?)) GROUP BY i.entity""",
        [sorted(values)]).df()
    assert len(stats) == len(values)
    assert not stats.query("family != 'asn'")["hub"].any()
    assert ((stats.users - stats.flagged) <= Policy().max_benign_share * stats.users).all()


@pytest.fixture(scope="module")
def trap_run(tmp_path_factory):
    """Two rings with traps: a free-mail ring, an IP shared with ordinary users, a hub address."""
    w = World(seed=5)
    add_ring(w, "r1", n=14, base_ip="203.0.113", domain="mailbox-x.top")
    add_ring(w, "r2", n=14, base_ip="198.51.100", domain="gmail.com", asn=16276, template=(
        "summarise the attached repository and list every public function with {} and {} as json"))
    regulars = add_regulars(w, n=160)
    for i, aid in enumerate(regulars):
        w.request(aid, START + pd.Timedelta(days=5, minutes=i), "192.0.2.200", 7922, f"dev-user-{i}")  # a hub
        if i < 30:  # ordinary users behind one of r1's exits (a shared NAT: too weak a tie to link them)
            w.request(aid, START + pd.Timedelta(days=6, minutes=i), "203.0.113.3", 14061, f"dev-user-{i}")
    for aid in [a["account_id"] for a in w.accounts if a["account_id"].startswith("r1-")]:
        w.request(aid, START + pd.Timedelta(days=7), "192.0.2.200", 7922, "harness-r1")
    folder = w.write(tmp_path_factory.mktemp("traps") / "data")
    out = folder.parent / "out"
    detect(folder, out=out)
    return out


def test_free_mail_hubs_and_benign_shared_entities_never_leave(trap_run):
    run = read_run(trap_run)
    assert sorted(len(r.members) for r in run.rings) == [14, 14]  # the ordinary users are not flagged
    built = build_bundle(run, tlp="amber", producer="lab-a", key=ShareKey(KEY.encode(), "K"))
    text = built.bundle.serialize()
    assert "203.0.113.1'" in text and "mailbox-x.top" in text  # the rings' own infrastructure leaves
    assert "gmail.com" not in text  # free-mail
    assert "192.0.2.200" not in text  # a hub: 174 accounts, past the IP cap
    assert "203.0.113.3'" not in text  # r1's exit, but 30 of its 44 users are ordinary accounts


def test_hub_marked_entities_stay_home_even_when_only_rings_use_them(fixture_world_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(fixture_world_run, run_dir)
    _, before = export(run_dir, tmp_path / "before.json")
    ip = next(o["pattern"].split("'")[1] for o in objects_of(before, "indicator") if o["pattern"].startswith("[ipv4"))
    ents = pd.read_parquet(run_dir / "evidence" / "entities.parquet")
    hub = (ents.family == "ip") & (ents.entity == ip)
    ents.loc[hub, "hub"], ents.loc[hub, "pair_weight"] = True, 0.0
    ents.to_parquet(run_dir / "evidence" / "entities.parquet")
    _, after = export(run_dir, tmp_path / "after.json", "--no-verify")  # edited on purpose
    assert f"'{ip}'" not in json.dumps(after)


def test_network_prefixes_leave_though_they_carry_no_link_weight(exported, fixture_world_run):
    """Prefixes weigh nothing in linking (neighbours on one ISP are no evidence) but a partner matches CIDR intel."""
    prefixes = {o["pattern"].split("'")[1] for o in objects_of(exported[1], "indicator")
                if o["pattern"].endswith("/24']")}
    assert prefixes and "ip_prefix" in exported[0].output
    ents = pd.read_parquet(fixture_world_run / "evidence" / "entities.parquet").query("family == 'prefix'")
    exported_ents = ents[ents.entity.isin(prefixes)]
    assert len(exported_ents) == len(prefixes) and (exported_ents.pair_weight == 0).all()
    assert not exported_ents.hub.any()


def test_operations_travel_as_campaigns_attributed_to_their_intrusion_sets(exported, fixture_world_run):
    doc = json.loads((fixture_world_run / "rings.json").read_text())
    campaigns = {o["name"]: o for o in objects_of(exported[1], "campaign")}
    assert set(campaigns) == {f"lab-a:{r['operation']}" for r in doc["rings"]}
    sets = {o["id"]: o["name"] for o in objects_of(exported[1], "intrusion-set")}
    by_id = {o["id"]: name for name, o in campaigns.items()}
    attributed = {(by_id[r["source_ref"]], sets[r["target_ref"]]) for r in objects_of(exported[1], "relationship")
                  if r["relationship_type"] == "attributed-to"}
    assert attributed == {(f"lab-a:{r['operation']}", r["operator"] or f"lab-a:{r['operator_cluster']}")
                          for r in doc["rings"]}
    for r in doc["rings"]:
        assert r["ring_id"] in campaigns[f"lab-a:{r['operation']}"]["description"]


def test_a_campaign_ties_an_operation_split_between_an_operator_and_an_unnamed_rest(fixture_world_run, tmp_path):
    """Rings of one operation, one with intel of its own: one campaign, attributed to both intrusion sets,
    and a receiving lab still reads only the intrusion sets as operators."""
    from linkage.stix.importer import parse_bundle

    run_dir = tmp_path / "run"
    shutil.copytree(fixture_world_run, run_dir)
    doc = json.loads((run_dir / "rings.json").read_text())
    first, second = doc["rings"][:2]
    second |= {"operation": first["operation"], "operator": None, "operator_cluster": "unattributed-split"}
    op = next(o for o in doc["operations"] if o["operation_id"] == first["operation"])
    op["tools"] = {"ip": {"tools": 3, "top": []}, "device": {"tools": 1, "top": []}}
    (run_dir / "rings.json").write_text(json.dumps(doc))
    _, bundle = export(run_dir, tmp_path / "split.json", "--no-verify")  # edited on purpose
    campaign = next(o for o in objects_of(bundle, "campaign") if o["name"] == f"lab-a:{first['operation']}")
    sets = {o["id"]: o["name"] for o in objects_of(bundle, "intrusion-set")}
    targets = {sets[r["target_ref"]] for r in objects_of(bundle, "relationship") if r["source_ref"] == campaign["id"]}
    assert targets == {first["operator"] or f"lab-a:{first['operator_cluster']}", "lab-a:unattributed-split"}
    assert "2 flagged rings" in campaign["description"] and second["ring_id"] in campaign["description"]
    assert "reuse 4 tools (1 device, 3 ip)" in campaign["description"]
    parsed = parse_bundle(bundle, "split.json")
    assert parsed.rejects == [] and parsed.operators == set(sets.values())


def test_a_run_without_rings_exports_no_intel_and_says_so(tmp_path):
    w = World(seed=9)
    add_regulars(w, n=40)
    folder = w.write(tmp_path / "data")
    detect(folder, out=tmp_path / "out")
    res, doc = export(tmp_path / "out", tmp_path / "empty.json")
    assert "no flagged rings" in res.output
    assert {o["type"] for o in doc["objects"]} == {"marking-definition", "identity", "extension-definition"}


def test_inspect_shows_what_a_bundle_would_give(exported):
    res = CliRunner().invoke(main, ["intel", "inspect", str(exported[2])])
    assert res.exit_code == 0, res.output
    assert "CRIMSON-LATHE" in res.output and "device_hmac" in res.output and "0 objects rejected" in res.output


def test_export_can_validate_before_writing(trap_run, tmp_path):
    res, doc = export(trap_run, tmp_path / "checked.json", "--validate")
    assert "valid STIX 2.1 (stix2-validator" in res.output and doc["type"] == "bundle"
