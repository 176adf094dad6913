"""Malformed inventory input: every error names the file, the line, the record and the field."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import ip_network

import pytest

from inventory import InputError
from inventory.source import Problem

from .conftest import MiniDistrict


def test_mini_district_is_valid(mini: MiniDistrict) -> None:
    inv = mini.load()
    assert set(inv.devices) == {"nc-rn01", "nc-rn02", "nc-rn03", "nc-eg01", "sch001-rt01", "sch001-ac01", "sch001-ap001"}
    assert inv.devices["sch001-rt01"].snmp_auth == "v2"  # from defaults.device
    assert inv.devices["sch001-ap001"].snmp_auth is None  # role default overrides the global one
    assert inv.devices["sch001-rt01"].vendor == "ruijie"  # from the model catalogue
    assert len(inv.devices["nc-rn01"].interfaces) == 16
    assert inv.ring_order("ring-a") == ["nc-rn01", "nc-rn02", "nc-rn03"]


def _bb(m: MiniDistrict) -> dict:
    return m.files["backbone.yaml"]


def _sch(m: MiniDistrict) -> dict:
    return m.files["sites/sch001.yaml"]


def _set(m: MiniDistrict, device: str, **kw: object) -> None:
    m.device(device).update(kw)


def _raw(m: MiniDistrict, name: str, text: str) -> None:
    m.write()
    (m.inv_dir / name).write_text(text, encoding="utf-8")


# (id, mutation, substrings one problem must contain, problem must have a line)
CASES: list[tuple[str, Callable[[MiniDistrict], None], list[str], bool]] = [
    ("unknown-field", lambda m: m.device("sch001-rt01").update(mgmt_adress="127.1.1.1"),
     ["sch001.yaml", "device 'sch001-rt01'", "mgmt_adress", "unknown field"], True),
    ("missing-field", lambda m: m.device("sch001-ac01").pop("site"),
     ["sch001.yaml", "device 'sch001-ac01'", "site", "required"], True),
    ("bad-role", lambda m: _set(m, "sch001-rt01", role="router"),
     ["sch001.yaml", "device 'sch001-rt01'", "field 'role'", "school-router"], True),
    ("bad-address", lambda m: _set(m, "sch001-rt01", mgmt_address="127.100.1.300"),
     ["sch001.yaml", "field 'mgmt_address'", "127.100.1.300"], True),
    ("address-outside-range", lambda m: _set(m, "sch001-rt01", mgmt_address="198.51.100.1"),
     ["sch001.yaml", "device 'sch001-rt01'", "mgmt_address", "outside the allowed ranges", "127.0.0.0/8"], True),
    ("duplicate-name", lambda m: _bb(m)["devices"].append(dict(m.device("sch001-rt01"), mgmt_address="127.100.9.9")),
     ["duplicate device name", "sch001-rt01", "sch001.yaml"], True),
    ("duplicate-address", lambda m: _set(m, "sch001-ac01", mgmt_address="127.100.1.1"),
     ["device 'sch001-ac01'", "mgmt_address", "127.100.1.1 already used by 'sch001-rt01'"], True),
    ("unknown-site", lambda m: _set(m, "sch001-ac01", site="sch009"),
     ["device 'sch001-ac01'", "field 'site'", "unknown site 'sch009'"], True),
    ("unknown-auth", lambda m: _set(m, "sch001-rt01", snmp_auth="v3-typo"),
     ["device 'sch001-rt01'", "snmp_auth", "no auths.snmp.v3-typo in config.yaml"], True),
    ("unknown-model", lambda m: _set(m, "sch001-rt01", model="RT-9"),
     ["device 'sch001-rt01'", "unknown model 'RT-9'"], True),
    ("vendor-contradicts-model", lambda m: _set(m, "sch001-rt01", vendor="huawei"),
     ["device 'sch001-rt01'", "field 'vendor'", "contradicts model 'RT-1'"], True),
    ("link-unknown-device", lambda m: _sch(m)["links"][1].update(b="sch001-sw09:Gi0/1"),
     ["sch001.yaml", "link", "unknown device 'sch001-sw09'"], True),
    ("link-unknown-interface", lambda m: _sch(m)["links"][1].update(b="sch001-rt01:GigabitEthernet0/1"),
     ["sch001.yaml", "has no interface 'GigabitEthernet0/1'", "RT-1"], True),
    ("interface-used-twice", lambda m: _sch(m)["links"][2].update(b="sch001-rt01:GigabitEthernet 0/1"),
     ["sch001.yaml", "sch001-rt01:GigabitEthernet 0/1 is already used by a link"], True),
    ("ring-not-closed", lambda m: _bb(m)["links"].pop(2),
     ["backbone.yaml", "ring-a is not closed", "nc-rn03"], True),
    ("ring-node-not-on-ring-b", lambda m: _bb(m)["devices"].append(
        {"name": "nc-rn04", "site": "nc", "role": "ring-node", "model": "RN-1", "mgmt_address": "127.10.0.14"}),
     ["device 'nc-rn04'", "not on ring-b"], True),
    ("egress-does-not-add-up", lambda m: m.files["district.yaml"]["district"].update(egress_capacity_bps="6G"),
     ["backbone.yaml", "carrier uplinks add up to 4Gbit/s", "6Gbit/s"], True),
    ("egress-without-carrier", lambda m: _bb(m)["links"][7].pop("carrier"),
     ["backbone.yaml", "egress link needs a carrier"], True),
    ("ap-parent-not-ac", lambda m: _set(m, "sch001-ap001", parent="sch001-rt01"),
     ["device 'sch001-ap001'", "field 'parent'", "is a school-router, not an ac"], True),
    ("bad-admin-email", lambda m: _sch(m)["sites"][0]["admins"][0].update(email="wang-at-school"),
     ["sch001.yaml", "site 'sch001'", "admins.0.email"], True),
    ("site-not-uplinked", lambda m: _sch(m)["links"].pop(0),
     ["sch001.yaml", "site 'sch001'", "no uplink to a ring node"], True),
    ("bad-capacity", lambda m: _sch(m)["links"][0].update(capacity_bps="fast"),
     ["sch001.yaml", "capacity_bps", "expected a rate"], True),
    ("unknown-top-level-key", lambda m: m.files["intent.yaml"].update(intnet={}),
     ["intent.yaml", "unknown top-level key 'intnet'"], True),
    ("bad-intent-regex", lambda m: m.files["intent.yaml"]["intent"].update(hostname_pattern="^(sch"),
     ["intent.yaml", "hostname_pattern", "regular expression"], True),
    ("yaml-syntax", lambda m: _raw(m, "sites/sch002.yaml", "sites:\n  - name: sch002\n    kind: [school\n"),
     ["sch002.yaml", "YAML syntax"], True),
    ("yaml-duplicate-key", lambda m: _raw(m, "sites/sch002.yaml", "sites:\n- name: sch002\n  kind: school\n  kind: kindergarten\n"),
     ["sch002.yaml:4", "duplicate key 'kind'"], True),
    ("interfaces-set-by-hand", lambda m: _set(m, "sch001-rt01", interfaces=["Gi0/0"]),
     ["device 'sch001-rt01'", "extra_interfaces"], True),
]


def _problems(mini: MiniDistrict, mutate: Callable[[MiniDistrict], None]) -> list[Problem]:
    mutate(mini)
    if not (mini.inv_dir / "district.yaml").exists() or not any(mini.inv_dir.rglob("sch002.yaml")):
        mini.write()
    from inventory import load_inventory

    with pytest.raises(InputError) as exc:
        load_inventory(mini.inv_dir, allowed_ranges=[ip_network("127.0.0.0/8")], auth_names={"snmp": {"v2"}, "ssh": {"ops"}})
    return exc.value.problems


@pytest.mark.parametrize(("mutate", "needles", "has_line"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_inventory_names_the_place(mini: MiniDistrict, mutate, needles: list[str], has_line: bool) -> None:
    problems = _problems(mini, mutate)
    texts = [str(p) for p in problems]
    match = [p for p, t in zip(problems, texts, strict=True) if all(n in t for n in needles)]
    assert match, f"no problem mentions all of {needles}; got:\n" + "\n".join(texts)
    if has_line:
        assert match[0].line > 0, str(match[0])


def test_line_numbers_point_at_the_offending_key(mini: MiniDistrict) -> None:
    _set(mini, "sch001-ac01", role="controller")
    mini.write()
    text = (mini.inv_dir / "sites/sch001.yaml").read_text(encoding="utf-8").splitlines()
    problems = _problems(mini, lambda m: None)
    (p,) = [p for p in problems if p.field == "role"]
    assert "controller" in text[p.line - 1], (p, text[p.line - 1])


def test_all_problems_reported_not_just_the_first(mini: MiniDistrict) -> None:
    def two(m: MiniDistrict) -> None:
        _set(m, "sch001-rt01", role="router")
        _set(m, "sch001-ac01", mgmt_address="nope")

    problems = _problems(mini, two)
    assert {p.field for p in problems} >= {"role", "mgmt_address"}


def test_missing_directory_and_empty_directory(tmp_path) -> None:
    from inventory import load_inventory

    with pytest.raises(InputError, match="does not exist"):
        load_inventory(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no .yaml files"):
        load_inventory(tmp_path / "empty")


def test_warning_for_site_without_admins(mini: MiniDistrict) -> None:
    _sch(mini)["sites"][0]["admins"] = []
    inv = mini.load()
    assert any("sch001" in str(w) and "网管员" in str(w) for w in inv.warnings)
