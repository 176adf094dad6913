"""The 等保 checks and the playbooks' parsers on real device output (../shared/realdata/cli: the
ntc-templates and napalm-ce captures, the full Comware 7 and IOS 12.4 configs). Each check here
has a failing fixture (the real capture as it is) and a passing one (the same capture with the one
offending line changed, so the rule is shown to turn on exactly that line)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from playbooks import ParseError, load_playbook, platforms
from rules.compliance import FAIL, NA, PASS, Intent, blocks, evaluate, load_catalog

from .conftest import SHARED

CLI = SHARED / "realdata" / "cli"
IOS = (CLI / "configs" / "ios12_sample.txt").read_text(encoding="utf-8")
COMWARE = (CLI / "configs" / "comware7_full.txt").read_text(encoding="utf-8")


def status(platform: str, outputs: dict[str, str], check: str, intent: Intent | None = None) -> tuple[str, str]:
    pb = load_playbook(platform)
    vendor = {"huawei_vrp": "huawei", "hp_comware": "h3c", "cisco_ios": "cisco", "ruijie_os": "ruijie"}[platform]
    (r,) = [r for r in evaluate(pb, vendor, outputs, intent) if r.check == check]
    return r.status, r.evidence


def ios_intent(**kw) -> Intent:
    base = {"hostname": "Foo", "model": "C2811", "loghosts": ["172.16.1.5", "172.16.1.7"], "ntp_servers": ["1.1.1.1"]}
    return Intent(**{**base, **kw})


# ---------------------------------------------------------------- the catalog itself


def test_catalog_ids_clauses_and_vendors() -> None:
    checks = load_catalog()
    ids = [c.id for c in checks]
    assert len(ids) == len(set(ids))
    # the catalog document's ids for device checks are all here (NET-* come from monitoring, AUTH-06 is an interview)
    doc = (SHARED / "reference" / "dengbao-catalog.md").read_text(encoding="utf-8")
    device_ids = set(re.findall(r"^\| ((?:AUTH|AC|AUD|IPS|DATA|BAK|BND)-\d+) \|", doc, re.M)) - {"AUTH-06"}
    assert device_ids <= set(ids), device_ids - set(ids)
    for c in checks:
        assert re.match(r"^8\.1\.\d", c.clause), c.id
        assert set(c.vendors) == {"huawei", "h3c", "cisco", "ruijie"}, c.id  # every vendor says how it shows
        assert c.fix_zh and c.title_zh


def test_every_playbook_loads_and_its_templates_exist() -> None:
    assert set(platforms()) == {"huawei_vrp", "hp_comware", "cisco_ios", "ruijie_os"}
    for p in platforms():
        pb = load_playbook(p)
        assert {"running", "saved", "version"} <= set(pb.evidence)
        assert pb.name_of("disp cur") in (None, "running")  # abbreviations map to the evidence they name


# ---------------------------------------------------------------- parsers on real output


@pytest.mark.parametrize("raw", sorted((CLI / "ntc" / "huawei_vrp" / "display_version").glob("*.raw")))
def test_huawei_firmware_from_real_display_version(raw) -> None:
    pb = load_playbook("huawei_vrp")
    want = yaml.safe_load(raw.with_suffix(".yml").read_text(encoding="utf-8"))["parsed_sample"][0]["product_version"]
    assert pb.firmware_of({"version": raw.read_text(encoding="utf-8")}) == want.split()[-1]


@pytest.mark.parametrize("raw", sorted((CLI / "ntc" / "cisco_ios" / "show_version").glob("*.raw")))
def test_cisco_firmware_from_real_show_version(raw) -> None:
    pb = load_playbook("cisco_ios")
    want = yaml.safe_load(raw.with_suffix(".yml").read_text(encoding="utf-8"))["parsed_sample"][0]["version"]
    fw = pb.firmware_of({"version": raw.read_text(encoding="utf-8")})
    assert fw == want
    # IPS-04 against an intent that approves it, and one that does not
    assert status("cisco_ios", {"version": raw.read_text()}, "IPS-04", ios_intent(firmware=[want]))[0] == PASS
    st, ev = status("cisco_ios", {"version": raw.read_text()}, "IPS-04", ios_intent(firmware=["17.9.4"]))
    assert st == FAIL and want in ev and "17.9.4" in ev


def test_unparseable_version_is_reported_not_skipped() -> None:
    pb = load_playbook("huawei_vrp")
    with pytest.raises(ParseError, match="display version"):
        pb.firmware_of({"version": "garbage that is no version output\nat all\n"})
    st, ev = status("huawei_vrp", {"version": "garbage\n"}, "IPS-04", ios_intent(firmware=["V1"]))
    assert st == FAIL and "cannot parse" in ev


def test_huawei_snmp_communities_real_capture() -> None:
    """The real `display snmp-agent community read`: one of two communities has no ACL."""
    raw = next((CLI / "ntc" / "huawei_vrp" / "display_snmp-agent_community_read").glob("*.raw")).read_text(encoding="utf-8")
    st, ev = status("huawei_vrp", {"communities": raw}, "IPS-03")
    assert st == FAIL and "acl=''" in ev and "%^%#" not in ev  # the community (a secret) is not printed
    fixed = raw.replace("   View name: ViewDefault \n\n   Total", "   View name: ViewDefault \n   Acl: 2000\n\n   Total")
    assert fixed != raw
    assert status("huawei_vrp", {"communities": fixed}, "IPS-03")[0] == PASS


def test_huawei_telnet_status_real_capture() -> None:
    raw = next((CLI / "ntc" / "huawei_vrp" / "display_telnet_server_status").glob("*.raw")).read_text(encoding="utf-8")
    assert status("huawei_vrp", {"telnet": raw}, "AUTH-05")[0] == PASS
    on = raw.replace("TELNET IPv4 server                       :Disable", "TELNET IPv4 server                       :Enable")
    assert on != raw
    st, ev = status("huawei_vrp", {"telnet": on}, "AUTH-05")
    assert st == FAIL and "Telnet server is running" in ev


# ---------------------------------------------------------------- IOS 12.4 (real full config)


@pytest.mark.parametrize(("check", "bad_line", "good_line"), [
    ("AUTH-02", "security passwords min-length 6", "security passwords min-length 8"),
    ("DATA-01", "username ddclient password 7 107D3D232342041E3A", "username ddclient secret 5 $1$abcd$efgh"),
    ("IPS-03", "snmp-server community SoMeThaNGwIErd RW 99", "snmp-server community SoMeThaNGwIErd RO 99"),
    ("IPS-01", "ip http server\n", "no ip http server\n"),
    ("BND-01", "access-list 11 permit any\n", "access-list 11 permit 172.16.1.0 0.0.0.255\n"),
    ("AUTH-05", " transport input telnet ssh\n!\nntp", " transport input ssh\n!\nntp"),
])
def test_ios_real_config(check: str, bad_line: str, good_line: str) -> None:
    assert bad_line in IOS
    intent = ios_intent(communities=["SoMeThaNGwIErd"])
    fixed = IOS.replace(bad_line, good_line)
    if check == "DATA-01":  # the real config has more type-7 passwords
        fixed = re.sub(r" password 7 \S+", "", fixed)  # and one for PPP, one for FTP
    if check == "AUTH-05":  # the real config also runs `ip http server` and lacks `ip ssh version 2`
        fixed = fixed.replace("ip http server\n", "no ip http server\n").replace("ip http access-class 99", "ip ssh version 2")
    st, ev = status("cisco_ios", {"running": IOS}, check, intent)
    assert st == FAIL, (check, ev)
    st2, ev2 = status("cisco_ios", {"running": fixed}, check, intent)
    assert st2 == PASS, (check, ev2)


def test_ios_real_config_passes_what_it_does_right() -> None:
    intent = ios_intent()
    assert status("cisco_ios", {"running": IOS}, "AUTH-04", intent) == (PASS, "exec-timeout 15 0")
    assert status("cisco_ios", {"running": IOS}, "AUD-01", intent)[0] == PASS
    assert status("cisco_ios", {"running": IOS}, "AUD-02", intent)[0] == PASS  # `logging 172.16.1.5` (old syntax)
    assert status("cisco_ios", {"running": IOS}, "AC-01", intent)[0] == PASS
    assert status("cisco_ios", {"running": IOS}, "DRIFT-HOSTNAME", intent)[0] == PASS
    st, ev = status("cisco_ios", {"running": IOS}, "DRIFT-HOSTNAME", ios_intent(hostname="sch001-rt01"))
    assert st == FAIL and "missing sch001-rt01" in ev and "unexpected Foo" in ev
    st, ev = status("cisco_ios", {"running": IOS}, "IPS-02", intent)  # no access-class on the VTYs
    assert st == FAIL and "line vty 0 4" in ev
    st, ev = status("cisco_ios", {"running": IOS}, "AUD-02", ios_intent(loghosts=["10.0.0.51"]))
    assert st == FAIL and "missing 10.0.0.51" in ev


def test_ios_secrets_masked_and_volatile_lines_dropped() -> None:
    pb = load_playbook("cisco_ios")
    masked = pb.mask(IOS)
    for secret in ("$1$Q0Zl$LN7ONybETL5LJZF1", "107D3D232342041E3A", "SoMeThaNGwIErd", "023530612D5319347A"):
        assert secret in IOS and secret not in masked
    assert "enable secret 5 $removed" in masked and "snmp-server community $removed RW 99" in masked
    assert "snmp-server host 172.16.1.5 version 2c $removed" in masked
    a = "Building configuration...\n\nCurrent configuration : 4200 bytes\n!\n! Last configuration change at 10:00\nhostname x\n"
    b = "Building configuration...\n\nCurrent configuration : 4260 bytes\n!\n! Last configuration change at 11:00\nhostname x\n"
    assert pb.stable(a) == pb.stable(b) and "hostname x" in pb.stable(a)


# ---------------------------------------------------------------- Comware 7 (real full config)


@pytest.mark.parametrize(("check", "bad", "good"), [
    ("AUTH-05", " telnet server enable\n", ""),
    ("AUTH-04", " idle-timeout 60 0\n", " idle-timeout 10 0\n"),
    ("BND-01", " rule 0 comment hello world\n", " rule 0 comment hello world\n rule 100 deny\n"),
])
def test_comware_real_config(check: str, bad: str, good: str) -> None:
    assert bad in COMWARE
    st, ev = status("hp_comware", {"running": COMWARE}, check)
    assert st == FAIL, ev
    st, ev = status("hp_comware", {"running": COMWARE.replace(bad, good)}, check)
    assert st == PASS, ev


def test_comware_real_config_details() -> None:
    intent = Intent(hostname="NTC123456", model="x", loghosts=["192.0.2.132", "192.0.2.227", "192.0.2.18", "192.0.2.195"])
    assert status("hp_comware", {"running": COMWARE}, "IPS-02")[0] == PASS  # ssh server acl 1234
    assert status("hp_comware", {"running": COMWARE}, "IPS-03")[0] == PASS  # read community with an ACL
    assert status("hp_comware", {"running": COMWARE}, "DATA-01")[0] == PASS  # password hash
    assert status("hp_comware", {"running": COMWARE}, "AUD-02", intent)[0] == PASS  # loghosts in a VPN instance
    st, ev = status("hp_comware", {"running": COMWARE}, "AUTH-02")  # password-control off: the Comware default
    assert st == FAIL and "password-control" in ev
    pb = load_playbook("hp_comware")
    assert "$c$3$123456789012345678901234567890" not in pb.mask(COMWARE)
    assert "password hash $removed" in pb.mask(COMWARE)
    # blocks: `line vty 0 4` holds its own children only
    (vty,) = blocks(COMWARE, r"^line vty")
    assert " idle-timeout 60 0" in vty[1] and not any("15 0" in x for x in vty[1])


# ---------------------------------------------------------------- napalm-ce (Huawei CE) users


def test_huawei_local_users_from_napalm_ce() -> None:
    """napalm-ce's real `display aaa local-user`: `admin` is a factory account (AC-01 evidence)."""
    text = (CLI / "napalm-ce" / "test_get_users" / "display_aaa_local_user.txt").read_text(encoding="utf-8")
    users = json.loads((CLI / "napalm-ce" / "test_get_users" / "expected_result.json").read_text(encoding="utf-8"))
    assert "admin" in users
    as_config = "".join(f" local-user {u} password irreversible-cipher $1a$x$\n" for u in
                        re.findall(r"^(\w+)\s+Active", text, re.M))
    st, ev = status("huawei_vrp", {"running": as_config}, "AC-01")
    assert st == FAIL and "local-user admin" in ev
    st, ev = status("huawei_vrp", {"running": as_config}, "AUTH-01", Intent(hostname="x", model="x", accounts=["ftp", "reader"]))
    assert st == FAIL and "admin" in ev


# ---------------------------------------------------------------- evaluation rules


def test_na_when_evidence_missing_and_exceptions_expire() -> None:
    from datetime import date

    from emanwatch.config import ComplianceException

    st, ev = status("cisco_ios", {"version": "x"}, "AUTH-05")
    assert st == NA and "show running-config" in ev
    pb = load_playbook("cisco_ios")
    exc = [ComplianceException(check="IPS-01", device="Foo", reason="HTTP needed by the legacy NMS", expires=date(2027, 1, 1))]
    (r,) = [r for r in evaluate(pb, "cisco", {"running": IOS}, None, exceptions=exc, device="Foo", today=date(2026, 11, 22))
            if r.check == "IPS-01"]
    assert r.status == NA and "legacy NMS" in r.exception
    (r,) = [r for r in evaluate(pb, "cisco", {"running": IOS}, None, exceptions=exc, device="Foo", today=date(2027, 1, 2))
            if r.check == "IPS-01"]
    assert r.status == FAIL  # expired: the failure is back


def test_running_vs_saved() -> None:
    a = IOS
    b = IOS.replace("ntp server 1.1.1.1", "ntp server 2.2.2.2")
    assert status("cisco_ios", {"running": a, "saved": a}, "BAK-01")[0] == PASS
    st, ev = status("cisco_ios", {"running": b, "saved": a}, "BAK-01")
    assert st == FAIL and "ntp server" in ev
