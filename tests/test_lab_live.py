"""The lab as a user and the reference tools see it: real UDP/TCP on 127.x, real servers.

Needs: net-snmp's C tools (snmpbulkwalk, snmpget), prometheus-snmp-exporter, root for the ICMP
faults (iptables) — ./dev installs them and CI runs as root. The lab runs on spare ports
(SNMP 10161, SSH 10022) so a demo lab on the standard ports can keep running beside it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from netmiko import ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException, ReadTimeout

from collectors.snmp import ber
from emanwatch.config import resolve_snmp_auth
from inventory.model import short_name
from lab.client import LabError
from lab.reference import snmp_exporter_config

from .lab_helpers import SNMP_PORT, SSH_PORT, ping, snmp_get

pytestmark = [pytest.mark.server, pytest.mark.root, pytest.mark.slow]

SYSNAME, UPTIME = "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.3.0"
NETMIKO = {"huawei": "huawei", "h3c": "hp_comware", "ruijie": "ruijie_os", "cisco": "cisco_ios"}


def community(cfg) -> str:
    return resolve_snmp_auth(cfg, "lab-v2c").community


def v3(cfg):
    return resolve_snmp_auth(cfg, "lab-v3")


def one_per_vendor_and_role(demo, roles=("school-router", "core-switch", "access-switch", "ac", "ring-node")):
    picked = {}
    for d in demo.devices.values():
        key = (d.vendor.value, d.role.value)
        if d.role.value in roles and d.status.polled and key not in picked:
            picked[key] = d
    return list(picked.values())


def start_snmp_exporter(exe: str, conf: Path, port: int) -> subprocess.Popen:
    """The reference exporter on loopback, returned once it answers HTTP."""
    proc = subprocess.Popen([exe, f"--config.file={conf}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc


def bulkwalk(cfg, addr: str, oid: str, *extra: str) -> list[str]:
    r = subprocess.run(["snmpbulkwalk", "-v2c", "-c", community(cfg), "-On", "-t", "3", "-r", "1", *extra,
                        f"{addr}:{SNMP_PORT}", oid], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


# ---------------------------------------------------------------- SNMP conformance


def test_every_agent_answers_with_its_name(lab, demo) -> None:
    cfg, _ = lab
    agents = [d for d in demo.devices.values() if d.role.value != "ap" and d.status.polled]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    vb = ber.enc_varbind(ber.oid_body(SYSNAME), ber.NULL_TLV)
    for n, d in enumerate(agents):
        s.sendto(ber.enc_message_v2c(community(cfg).encode(), ber.enc_pdu(ber.GET, n, 0, 0, vb)), (str(d.mgmt_address), SNMP_PORT))
    names = {}
    try:
        while len(names) < len(agents):
            data, src = s.recvfrom(65535)
            _, _, pdu = ber.decode_v2c(data)
            names[src[0]] = pdu.varbinds[0][2].decode()
    except TimeoutError:
        pass
    assert {str(d.mgmt_address): d.name for d in agents} == names


def test_net_snmp_c_tools_walk_every_vendor(lab, demo) -> None:
    cfg, _ = lab
    for d in one_per_vendor_and_role(demo):
        addr = str(d.mgmt_address)
        lines = bulkwalk(cfg, addr, "1.3.6.1.2.1.31.1.1.1.1", "-Cr25")
        names = [x.split(" = STRING: ", 1)[1].strip('"') for x in lines]
        short = d.vendor.value in ("cisco", "ruijie")  # their ifName is the short form, as on real gear
        want = {short_name(i.name) if short else i.name for i in d.interfaces}
        assert want <= set(names), (d.name, sorted(want - set(names))[:3])
        system = bulkwalk(cfg, addr, "1.3.6.1.2.1.1")
        assert any(f'STRING: "{d.name}"' in x for x in system), d.name
        model = demo.models[d.model]
        if model.sys_object_id:
            assert any(x.endswith("OID: ." + model.sys_object_id) for x in system), (d.name, system[:3])
        full = bulkwalk(cfg, addr, ".")  # the whole tree, in order, to endOfMibView
        assert len(full) > 200
        hc = [x for x in full if x.startswith(".1.3.6.1.2.1.31.1.1.1.6.")]
        assert len(hc) == len(names) and all("Counter64" in x for x in hc)


def test_c_tool_and_snmp_exporter_read_every_lab_device(lab, demo, tmp_path: Path) -> None:
    """All 532 agents: snmpbulkwalk (C) walks ifName + ifHCInOctets, snmp_exporter scrapes IF-MIB."""
    from concurrent.futures import ThreadPoolExecutor

    cfg, _ = lab
    agents = [d for d in demo.devices.values() if d.role.value != "ap" and d.status.polled]

    def c_tool(d) -> tuple[str, int, int]:  # noqa: ANN001
        names = bulkwalk(cfg, str(d.mgmt_address), "1.3.6.1.2.1.31.1.1.1.1", "-Cr50")
        octets = bulkwalk(cfg, str(d.mgmt_address), "1.3.6.1.2.1.31.1.1.1.6", "-Cr50")
        return d.name, len(names), len(octets)

    with ThreadPoolExecutor(8) as pool:
        for name, n_names, n_octets in pool.map(c_tool, agents):
            want = len(demo.devices[name].interfaces)
            assert n_names >= want and n_octets == n_names, name

    exe = shutil.which("prometheus-snmp-exporter")
    assert exe, "prometheus-snmp-exporter missing: ./dev installs it"
    conf = tmp_path / "snmp.yml"
    conf.write_text(snmp_exporter_config(community(cfg)))
    port = 19117
    proc = start_snmp_exporter(exe, conf, port)
    try:

        def scrape(d) -> tuple[str, int]:  # noqa: ANN001
            r = httpx.get(f"http://127.0.0.1:{port}/snmp", params={"target": f"{d.mgmt_address}:{SNMP_PORT}", "module": "if_mib"}, timeout=30)
            assert r.status_code == 200, (d.name, r.text[:200])
            return d.name, sum(1 for x in r.text.splitlines() if x.startswith("ifHCInOctets{"))

        with ThreadPoolExecutor(8) as pool:
            for name, n in pool.map(scrape, agents):
                assert n >= len(demo.devices[name].interfaces), name
    finally:
        proc.terminate()
        proc.wait(10)


def test_vendor_health_and_ap_tables(lab, demo) -> None:
    cfg, _ = lab
    health = {"huawei": "1.3.6.1.4.1.2011.5.25.31.1.1.1.1.5", "h3c": "1.3.6.1.4.1.25506.2.6.1.1.1.1.6",
              "ruijie": "1.3.6.1.4.1.4881.1.1.10.2.36.1.1.3", "cisco": "1.3.6.1.4.1.9.9.109.1.1.1.1.8"}
    aps = {"huawei": "1.3.6.1.4.1.2011.6.139.13.3.3.1.4", "h3c": "1.3.6.1.4.1.25506.2.75.2.1.2.1.8",
           "ruijie": "1.3.6.1.4.1.4881.1.1.10.2.56.2.1.1.1.2", "cisco": "1.3.6.1.4.1.14179.2.2.1.1.3"}
    for d in one_per_vendor_and_role(demo, roles=("ac",)):
        cpu = bulkwalk(cfg, str(d.mgmt_address), health[d.vendor.value])
        assert cpu and 0 <= int(cpu[0].rsplit(": ", 1)[1]) <= 100
        names = {x.split('STRING: "')[1].rstrip('"') for x in bulkwalk(cfg, str(d.mgmt_address), aps[d.vendor.value], "-Cr30")}
        want = {a.name for a in demo.devices.values() if a.parent == d.name and a.status.polled}
        assert names == want, d.name


def test_lldp_neighbours_match_inventory_links(lab, demo) -> None:
    cfg, _ = lab
    node = demo.devices["pop03-rn03"]
    lines = bulkwalk(cfg, str(node.mgmt_address), "1.0.8802.1.1.2.1.4.1.1.9")
    seen = {x.split('STRING: "')[1].rstrip('"') for x in lines}
    want = {lk.other(node.name).device for lk in demo.links_by_device[node.name]}
    assert seen == want


def test_snmpv3_authpriv_with_c_tools(lab, demo) -> None:
    cfg, _ = lab
    a = v3(cfg)
    d = demo.devices["nc-rn01"]
    base = ["snmpget", "-v3", "-l", "authPriv", "-u", a.username, "-a", "SHA", "-x", "AES", "-On", "-t", "2", "-r", "0"]
    r = subprocess.run([*base, "-A", a.auth_password, "-X", a.priv_password, f"{d.mgmt_address}:{SNMP_PORT}", SYSNAME],
                       capture_output=True, text=True)
    assert r.returncode == 0 and '"nc-rn01"' in r.stdout, r.stderr
    r = subprocess.run([*base, "-A", "wrong-password", "-X", a.priv_password, f"{d.mgmt_address}:{SNMP_PORT}", SYSNAME],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Authentication failure" in r.stderr
    # a wrong v2c community gets silence, like a real agent
    assert snmp_get(str(d.mgmt_address), [SYSNAME], "public", timeout=1) is None


def test_snmp_exporter_reads_the_lab(lab, demo, tmp_path: Path) -> None:
    cfg, _ = lab
    exe = shutil.which("prometheus-snmp-exporter")
    assert exe, "prometheus-snmp-exporter missing: ./dev installs it"
    a = v3(cfg)
    conf = tmp_path / "snmp.yml"
    conf.write_text(snmp_exporter_config(community(cfg), {"username": a.username, "auth_password": a.auth_password,
                                                          "priv_password": a.priv_password}))
    port = 19116
    proc = start_snmp_exporter(exe, conf, port)
    try:
        for d in one_per_vendor_and_role(demo, roles=("school-router", "ring-node")):
            for module in ("if_mib", "if_mib_v3"):
                r = httpx.get(f"http://127.0.0.1:{port}/snmp", params={"target": f"{d.mgmt_address}:{SNMP_PORT}", "module": module}, timeout=30)
                assert r.status_code == 200, r.text[:300]
                series = [x for x in r.text.splitlines() if x.startswith("ifHCInOctets{")]
                assert len(series) >= len(d.interfaces), (d.name, module)
                up_line = next(x for x in r.text.splitlines() if x.startswith("snmp_scrape_pdus_returned"))
                assert float(up_line.split()[-1]) > 0
                # every linked port shows up under its ifName (short form on Cisco / Ruijie, as on real gear)
                short = d.vendor.value in ("cisco", "ruijie")
                for lk in demo.links_by_device[d.name]:
                    ifname = lk.a.interface if lk.a.device == d.name else lk.b.interface
                    assert f'ifName="{short_name(ifname) if short else ifname}"' in r.text, (d.name, ifname)
    finally:
        proc.terminate()
        proc.wait(10)


# ---------------------------------------------------------------- SSH


def test_netmiko_runs_the_audit_commands_on_each_platform(lab, demo) -> None:
    cfg, _ = lab
    pw = cfg.secret(cfg.auths.ssh["lab-netops"].password, "ssh")
    commands = {
        "huawei": ["display version", "display current-configuration", "display saved-configuration", "display interface brief",
                   "display lldp neighbor", "display ntp-service status", "display ssh server status", "display local-user",
                   "display info-center", "display snmp-agent community"],
        "h3c": ["display version", "display current-configuration", "display saved-configuration", "display interface brief",
                "display lldp neighbor-information list", "display ntp-service status", "display ssh server status",
                "display local-user", "display info-center", "display snmp-agent community"],
        "cisco": ["show version", "show running-config", "show startup-config", "show ip interface brief", "show lldp neighbors",
                  "show ntp status", "show ip ssh", "show users", "show logging", "show snmp community"],
    }
    commands["ruijie"] = commands["cisco"]
    for d in one_per_vendor_and_role(demo, roles=("school-router",)):
        c = ConnectHandler(device_type=NETMIKO[d.vendor.value], host=str(d.mgmt_address), port=SSH_PORT,
                           username="netops", password=pw, timeout=20)
        try:
            assert d.name in c.find_prompt()
            outputs = {cmd: c.send_command(cmd, read_timeout=20) for cmd in commands[d.vendor.value]}
        finally:
            c.disconnect()
        for cmd, text in outputs.items():
            assert text.strip() and "Unrecognized" not in text and "Invalid input" not in text, (d.name, cmd)
        running = outputs[commands[d.vendor.value][1]]
        assert d.name in running and str(demo.intent.loghosts[0]) in running
        assert d.model in outputs[commands[d.vendor.value][0]]


# ---------------------------------------------------------------- faults


def test_device_down_stops_snmp_ssh_and_ping(lab, faults, demo) -> None:
    cfg, _ = lab
    d = demo.devices["sch003-rt01"]
    behind = demo.devices["sch003-cs01"]
    addr = str(d.mgmt_address)
    assert snmp_get(addr, [SYSNAME], community(cfg))
    assert ping(addr), "lab addresses answer ping before the fault"
    faults.fault("device-down", d.name)
    assert snmp_get(addr, [SYSNAME], community(cfg), timeout=1) is None
    assert snmp_get(str(behind.mgmt_address), [SYSNAME], community(cfg), timeout=1) is None  # cut off behind it
    assert not ping(addr) and not ping(str(behind.mgmt_address))
    with pytest.raises(OSError):
        socket.create_connection((addr, SSH_PORT), timeout=1).close()
    assert snmp_get(str(demo.devices["sch004-rt01"].mgmt_address), [SYSNAME], community(cfg))  # others unaffected
    faults.clear()
    assert snmp_get(addr, [SYSNAME], community(cfg)) and ping(addr)


def _oper(cfg, dev, ifname) -> int:
    ld = dev
    lines = bulkwalk(cfg, str(ld.mgmt_address), "1.3.6.1.2.1.31.1.1.1.1")
    idx = next(x.split(" = ")[0].rsplit(".", 1)[1] for x in lines if x.endswith(f'"{ifname}"'))
    (_, _, v), = snmp_get(str(ld.mgmt_address), [f"1.3.6.1.2.1.2.2.1.8.{idx}"], community(cfg))
    return v


def _rate(cfg, dev, ifname, column: int = 10, seconds: float = 2.0) -> float:
    lines = bulkwalk(cfg, str(dev.mgmt_address), "1.3.6.1.2.1.31.1.1.1.1")
    idx = next(x.split(" = ")[0].rsplit(".", 1)[1] for x in lines if x.endswith(f'"{ifname}"'))
    oid = f"1.3.6.1.2.1.31.1.1.1.{column}.{idx}"
    (_, _, a), = snmp_get(str(dev.mgmt_address), [oid], community(cfg))
    time.sleep(seconds)
    (_, _, b), = snmp_get(str(dev.mgmt_address), [oid], community(cfg))
    return (b - a) * 8 / seconds


def test_link_down_both_ends_and_traffic_moves(lab, faults, demo) -> None:
    cfg, _ = lab
    rn02, rn03 = demo.devices["nc-rn02"], demo.devices["pop03-rn03"]
    other_ring = _rate(cfg, rn02, "XGigabitEthernet1/0/3")
    faults.fault("link-down", "nc-rn02:XGigabitEthernet1/0/1")
    assert _oper(cfg, rn02, "XGigabitEthernet1/0/1") == 2 and _oper(cfg, rn03, "XGigabitEthernet1/0/2") == 2
    assert _rate(cfg, rn02, "XGigabitEthernet1/0/3") > other_ring  # ring-b takes over
    faults.clear()
    assert _oper(cfg, rn02, "XGigabitEthernet1/0/1") == 1


def test_carrier_down_and_egress_saturation(lab, faults, demo) -> None:
    cfg, _ = lab
    eg = demo.devices["nc-eg01"]
    faults.fault("carrier-down", "中国电信")
    assert _oper(cfg, eg, "Ten-GigabitEthernet3/0/2") == 2
    faults.clear()
    assert _oper(cfg, eg, "Ten-GigabitEthernet3/0/2") == 1
    faults.fault("egress-saturation", "", level=0.98)
    util = _rate(cfg, eg, "Ten-GigabitEthernet3/0/3", column=6) / 2e9
    assert 0.9 < util <= 1.0
    faults.clear()
    assert _rate(cfg, eg, "Ten-GigabitEthernet3/0/3", column=6) / 2e9 < 0.85  # the school-day shape again


def test_ring_node_down_isolates_only_with_both_paths_gone(lab, faults, demo) -> None:
    cfg, _ = lab
    node = demo.devices["pop05-rn05"]
    school = next(demo.devices[f"{s}-rt01"] for s in demo.sites if any(lk.b.device == node.name for lk in demo.uplink_of(s)))
    faults.fault("ring-node-down", node.name)
    assert snmp_get(str(node.mgmt_address), [SYSNAME], community(cfg), timeout=1) is None
    assert snmp_get(str(school.mgmt_address), [SYSNAME], community(cfg), timeout=1) is None  # hangs off the dead node
    assert snmp_get(str(demo.devices["pop06-rn06"].mgmt_address), [SYSNAME], community(cfg))  # reached the other way
    assert not ping(str(school.mgmt_address))
    faults.clear()
    assert snmp_get(str(school.mgmt_address), [SYSNAME], community(cfg)) and ping(str(school.mgmt_address))


def test_cpu_high_counter_wrap_reboot_errors(lab, faults, demo) -> None:
    cfg, _ = lab
    d = demo.devices["sch005-rt01"]
    addr, c = str(d.mgmt_address), community(cfg)
    oid_cpu = {"huawei": "1.3.6.1.4.1.2011.5.25.31.1.1.1.1.5.67108873", "h3c": "1.3.6.1.4.1.25506.2.6.1.1.1.1.6.42",
               "ruijie": "1.3.6.1.4.1.4881.1.1.10.2.36.1.1.3.0", "cisco": "1.3.6.1.4.1.9.9.109.1.1.1.1.8.1"}[d.vendor.value]
    faults.fault("cpu-high", d.name)
    assert snmp_get(addr, [oid_cpu], c)[0][2] >= 94
    descr = bulkwalk(cfg, addr, "1.3.6.1.2.1.2.2.1.2")
    x = next(line.split(" = ")[0].rsplit(".", 1)[1] for line in descr if line.endswith(f'"{d.interfaces[0].name}"'))
    faults.fault("counter-wrap", d.name)
    hc, low = snmp_get(addr, [f"1.3.6.1.2.1.31.1.1.1.6.{x}", f"1.3.6.1.2.1.2.2.1.10.{x}"], c)
    assert hc[1] in (ber.NO_SUCH_OBJECT, ber.NO_SUCH_INSTANCE) and low[1] == ber.COUNTER32
    (_, _, before), = snmp_get(addr, [UPTIME], c)
    faults.fault("agent-reboot", d.name)
    (_, _, after), = snmp_get(addr, [UPTIME], c)
    assert after < 500 < before
    faults.clear()
    hc, = snmp_get(addr, [f"1.3.6.1.2.1.31.1.1.1.6.{x}"], c)
    assert hc[1] == ber.COUNTER64
    faults.fault("interface-errors", f"{d.name}:{d.interfaces[0].name}", rate=200)
    lines = bulkwalk(cfg, addr, "1.3.6.1.2.1.2.2.1.14")
    first = sum(int(x.rsplit(": ", 1)[1]) for x in lines)
    time.sleep(1.5)
    second = sum(int(x.rsplit(": ", 1)[1]) for x in bulkwalk(cfg, addr, "1.3.6.1.2.1.2.2.1.14"))
    assert second - first >= 200


def test_slow_malformed_truncated_agents(lab, faults, demo) -> None:
    cfg, _ = lab
    d = demo.devices["sch006-rt01"]
    addr, c = str(d.mgmt_address), community(cfg)
    faults.fault("slow-agent", d.name, seconds=2)
    assert snmp_get(addr, [SYSNAME], c, timeout=1) is None
    assert snmp_get(addr, [SYSNAME], c, timeout=4)
    faults.clear()
    for kind in ("malformed", "truncated"):
        faults.fault(kind, d.name)
        raw = snmp_get(addr, [SYSNAME], c, raw=True)
        assert raw is not None
        with pytest.raises(ber.BERError):
            ber.decode_v2c(raw)
        faults.clear()
    assert snmp_get(addr, [SYSNAME], c)


def test_ap_group_offline(lab, faults, demo) -> None:
    cfg, _ = lab
    ac = next(d for d in demo.devices.values() if d.role.value == "ac" and d.vendor.value == "huawei")
    state_oid = "1.3.6.1.4.1.2011.6.139.13.3.3.1.6"
    states = [int(x.rsplit(": ", 1)[1]) for x in bulkwalk(cfg, str(ac.mgmt_address), state_oid)]
    assert states and set(states) == {8}
    faults.fault("ap-group-offline", ac.name)
    states = [int(x.rsplit(": ", 1)[1]) for x in bulkwalk(cfg, str(ac.mgmt_address), state_oid)]
    assert set(states) == {4}
    ap = next(a for a in demo.devices.values() if a.parent == ac.name)
    assert not ping(str(ap.mgmt_address))
    faults.clear()
    assert {int(x.rsplit(": ", 1)[1]) for x in bulkwalk(cfg, str(ac.mgmt_address), state_oid)} == {8}
    assert ping(str(ap.mgmt_address))


def test_config_drift_ssh_faults_and_lldp_mismatch(lab, faults, demo) -> None:
    cfg, _ = lab
    pw = cfg.secret(cfg.auths.ssh["lab-netops"].password, "ssh")
    d = next(x for x in demo.devices.values() if x.role.value == "school-router" and x.vendor.value == "cisco")
    addr = str(d.mgmt_address)
    for drift in ("telnet", "loghost-removed", "public-community", "idle-timeout-0", "unknown-user"):
        faults.fault("config-drift", d.name, drift=drift)
    assert snmp_get(addr, [SYSNAME], "public")  # the drifted agent now answers `public`
    c = ConnectHandler(device_type="cisco_ios", host=addr, port=SSH_PORT, username="netops", password=pw)
    running = c.send_command("show running-config")
    saved = c.send_command("show startup-config")
    c.disconnect()
    for line in ("transport input telnet ssh", "snmp-server community public RO", "exec-timeout 0 0", "username temp01"):
        assert line in running and line not in saved
    assert f"logging host {demo.intent.loghosts[0]}" not in running and f"logging host {demo.intent.loghosts[0]}" in saved
    faults.clear()
    faults.fault("ssh-auth-fail", d.name)
    with pytest.raises(NetmikoAuthenticationException):
        ConnectHandler(device_type="cisco_ios", host=addr, port=SSH_PORT, username="netops", password=pw)
    faults.clear()
    faults.fault("stuck-pager", d.name)
    c = ConnectHandler(device_type="cisco_ios", host=addr, port=SSH_PORT, username="netops", password=pw)
    with pytest.raises(ReadTimeout):
        c.send_command("show running-config", read_timeout=4)
    c.disconnect()
    faults.clear()
    rn = demo.devices["pop04-rn04"]
    port = next(i.name for i in rn.interfaces if i.name == "Ten-GigabitEthernet1/0/1")
    faults.fault("lldp-mismatch", f"{rn.name}:{port}", device="pop06-rn06", interface="Ten-GigabitEthernet1/0/2")
    descr = bulkwalk(cfg, str(rn.mgmt_address), "1.3.6.1.2.1.2.2.1.2")
    x = next(line.split(" = ")[0].rsplit(".", 1)[1] for line in descr if line.endswith(f'"{port}"'))
    (_, _, name), (_, _, rport) = snmp_get(str(rn.mgmt_address), [f"1.0.8802.1.1.2.1.4.1.1.9.0.{x}.1", f"1.0.8802.1.1.2.1.4.1.1.7.0.{x}.1"], community(cfg))
    assert (name, rport) == (b"pop06-rn06", b"Ten-GigabitEthernet1/0/2")  # the inventory says pop05-rn05 is there


def test_fault_api_refuses_bad_requests(lab) -> None:
    _, client = lab
    for args, msg in ((("bogus", "x"), "unknown fault"), (("device-down", "nope"), "no lab device"),
                      (("link-down", "sch001-rt01"), "DEVICE:INTERFACE"), (("carrier-down", "电信"), "unknown carrier"),
                      (("ring-node-down", "sch001-rt01"), "not a ring-node"), (("config-drift", "sch001-rt01"), "drift must be")):
        with pytest.raises(LabError, match=msg):
            client.fault(*args)
    with pytest.raises(LabError, match="unknown parameter"):
        client.fault("cpu-high", "sch001-rt01", level=3)
