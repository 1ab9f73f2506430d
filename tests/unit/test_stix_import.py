"""Reading STIX bundles as intel: patterns, operator names, and hostile files (linkage.stix.importer)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stixkit import bundle, hashed, indicator, intrusion_set, rel, sdo, template, write

from linkage.errors import InputError
from linkage.stix import importer
from linkage.stix.importer import _Refused, load_bundle, parse_bundle, parse_pattern

HEX = "ab" * 32


@pytest.mark.parametrize("pattern, rows", [
    ("[ipv4-addr:value = '203.0.113.7']", [("ip", "203.0.113.7")]),
    ("[ipv6-addr:value = '2001:DB8:0:0::1']", [("ip", "2001:db8::1")]),
    ("[ipv4-addr:value = '203.0.113.0/24']", [("ip_prefix", "203.0.113.0/24")]),
    ("[ipv4-addr:value = '203.0.113.9/32']", [("ip", "203.0.113.9")]),
    ("[autonomous-system:number = 64500]", [("asn", "64500")]),
    ("[domain-name:value = 'Mailbox-X.top']", [("email_domain", "mailbox-x.top")]),
    (f"[x-linkage-device:hmac_sha256 = '{HEX}']", [("device_hmac", HEX)]),
    (f"[x-linkage-account:hmac_sha256 IN ('{HEX}', '{'cd' * 32}')]", [("account_hmac", HEX), ("account_hmac", "cd" * 32)]),
    (f"[x-linkage-instrument:hmac_sha256 = '{HEX}'] OR ([ipv4-addr:value = '1.2.3.4'])",
     [("instrument_hmac", HEX), ("ip", "1.2.3.4")]),
    ("[user-account:user_id = 'acc_1' OR user-account:user_id = 'acc_2']", [("account", "acc_1"), ("account", "acc_2")]),
])
def test_patterns_linkage_reads(pattern, rows):
    assert parse_pattern(pattern) == rows


@pytest.mark.parametrize("pattern, why", [
    ("[ipv4-addr:value = ", "does not parse"),
    ("[ipv4-addr:value = '1.2.3.4'] AND [ipv4-addr:value = '1.2.3.5']", "AND"),
    ("[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS", "qualifier"),
    ("[ipv4-addr:value != '1.2.3.4']", "negation"),
    ("[ipv4-addr:value MATCHES '^1']", "other than ="),
    ("[file:hashes.'SHA-256' = 'aa']", "no intel kind"),
    ("[ipv4-addr:value = 'not-an-ip']", "not an IP"),
    ("[ipv4-addr:value = '2001:db8::1']", "IPv6"),
    ("[domain-name:value = 'gmail.com']", "free-mail"),
    ("[x-linkage-device:hmac_sha256 = 'ABC']", "hex"),
    ("[autonomous-system:number = 99999999999]", "AS number"),
    ("(" * 2000 + "[ipv4-addr:value = '1.2.3.4']" + ")" * 2000, "nests"),
])
def test_patterns_refused_with_a_reason(pattern, why):
    with pytest.raises(_Refused, match=why):
        parse_pattern(pattern)


def test_operator_names_come_from_relationships_either_way():
    crimson, velvet = intrusion_set("CRIMSON-LATHE"), intrusion_set("VELVET-MONSOON")
    ip, tpl = indicator("[ipv4-addr:value = '203.0.113.7']"), template("Write a COMPLETE python function!")
    b = parse_bundle(bundle(crimson, velvet, ip, tpl, rel(ip, "indicates", crimson), rel(velvet, "uses", tpl)), "p.json")
    assert b.rejects == []
    assert [(r[0], r[1], r[2]) for r in b.rows] == [("CRIMSON-LATHE", "ip", "203.0.113.7"),
                                                    ("VELVET-MONSOON", "prompt", "write a complete python function")]
    assert all(r[3].startswith("STIX p.json: ") for r in b.rows)


def test_bad_objects_are_rejected_with_reasons_and_the_rest_is_used():
    good, evil = intrusion_set("GLASS-HERON"), intrusion_set("<script>alert(1)</script>")
    ip = indicator("[ipv4-addr:value = '203.0.113.7']")
    lonely = indicator("[ipv4-addr:value = '203.0.113.8']")
    to_evil = indicator("[ipv4-addr:value = '203.0.113.9']")
    old = {**intrusion_set("OLD"), "spec_version": "2.0"}
    objects = [good, evil, ip, lonely, to_evil, rel(ip, "indicates", good), rel(to_evil, "indicates", evil),
               sdo("x-evil-thing", "x"), 42, {"type": "indicator", "id": "indicator--nope"}, old,
               {**indicator("[ipv4-addr:value = '1.1.1.1']", key="r"), "revoked": True},
               indicator("[ipv4-addr:value = "), {**indicator("x", key="sigma"), "pattern_type": "sigma"}]
    b = parse_bundle(bundle(*objects), "partner.json")
    assert [(r[0], r[2]) for r in b.rows] == [("GLASS-HERON", "203.0.113.7")]
    reasons = {r.line: r.reason for r in b.rejects}
    assert "plain operator name" in reasons[2]
    assert "names no operator" in reasons[4] and "names no operator" in reasons[5]
    assert "unknown object type 'x-evil-thing'" in reasons[8]
    assert reasons[9] == "not a JSON object"
    assert "malformed id" in reasons[10]
    assert "STIX 2.1" in reasons[11]
    assert "revoked" in reasons[12]
    assert "does not parse" in reasons[13]
    assert "sigma" in reasons[14]
    assert "<script>" not in json.dumps([r.__dict__ for r in b.rejects])  # names never echoed back


def test_key_ids_of_hashed_indicators_are_collected():
    crimson = intrusion_set("CRIMSON-LATHE")
    ind = hashed(f"[x-linkage-device:hmac_sha256 = '{HEX}']", "0123456789abcdef")
    b = parse_bundle(bundle(crimson, ind, rel(ind, "indicates", crimson)), "p.json")
    assert b.key_ids == {"0123456789abcdef"} and b.rows[0][1] == "device_hmac"


@pytest.mark.parametrize("content, message", [
    ("not json at all", "not JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    ("[1, 2, 3]", "not a STIX bundle"),
    ('{"type": "report"}', "not a STIX bundle"),
    ('{"type": "bundle", "spec_version": "2.0", "objects": []}', "STIX '2.0' bundle"),
    ('{"type": "bundle", "objects": {}}', "not a list"),
    ('{"type": "bundle", "objects": [' + "[" * 100 + "]" * 100 + "]}", "nested more than"),
    ("[" * 100_000 + "]" * 100_000, "nested too deep"),
    ('{"type": "bundle", "objects": [NaN]}', "NaN"),
])
def test_unreadable_bundles_are_one_clear_error(tmp_path, content, message):
    path = tmp_path / "hostile.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InputError, match=message) as info:
        load_bundle(path)
    assert str(info.value).startswith("hostile.json: ") and "\n" not in str(info.value)
    assert info.value.exit_code == 2


def test_huge_bundles_are_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "MAX_BUNDLE_BYTES", 1000)
    path = write(tmp_path / "big.json", bundle(*[intrusion_set(f"OP-{i}") for i in range(50)]))
    with pytest.raises(InputError, match="more than a STIX bundle may hold"):
        load_bundle(path)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=25)
stix_keys = st.sampled_from(["type", "id", "spec_version", "name", "pattern", "pattern_type", "source_ref",
                             "target_ref", "relationship_type", "excerpt", "extensions", "revoked", "objects"])
stix_like = st.dictionaries(stix_keys, json_values | st.sampled_from(
    ["indicator", "intrusion-set", "relationship", "2.1", "stix", "indicates", "[ipv4-addr:value = '1.2.3.4']",
     "intrusion-set--6d3ddf07-f193-43e3-97fa-a4348a72865e", "indicator--6d3ddf07-f193-43e3-97fa-a4348a72865e",
     "x-linkage-harvesting-template"]), max_size=8)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, st.lists(stix_like, max_size=6).map(lambda objs: {"type": "bundle", "objects": objs})))
def test_any_json_gives_intel_rows_or_one_clean_error(doc):
    try:
        b = parse_bundle(doc, "random.json")
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    for op, kind, value, note in b.rows:
        assert isinstance(op, str) and isinstance(value, str) and note.startswith("STIX random.json") and kind in {"ip", "ip_prefix", "asn", "email_domain", "prompt", "account",
                                                 "account_hmac", "device_hmac", "instrument_hmac"}
    assert all(isinstance(r.line, int) and r.reason for r in b.rejects)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200) | st.from_regex(r"\[[a-z0-9-]{1,12}:[a-z_]{1,10} (=|IN|!=|>) .{0,30}\]( OR | AND )?.{0,20}"))
def test_any_pattern_text_is_read_or_refused(text):
    try:
        rows = parse_pattern(text)
    except _Refused as exc:
        assert str(exc)
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in rows)
