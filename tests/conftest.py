from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

# A small district that passes every check; tests break one thing at a time.
MINI: dict[str, dict[str, Any]] = {
    "district.yaml": {"district": {"name": "迷你区", "egress_capacity_bps": "4G"}},
    "models.yaml": {"models": {
        "RN-1": {"vendor": "huawei", "platform": "huawei_vrp",
                 "ports": [{"names": "XGigabitEthernet0/0/1-8", "speed": "10G"}, {"names": "GigabitEthernet0/0/1-8", "speed": "1G"}]},
        "EG-1": {"vendor": "h3c", "platform": "hp_comware", "ports": [{"names": "Ten-GigabitEthernet1/0/1-4", "speed": "10G"}]},
        "RT-1": {"vendor": "ruijie", "platform": "ruijie_os", "ports": [{"names": "GigabitEthernet 0/0-3", "speed": "1G"}]},
        "AC-1": {"vendor": "cisco", "platform": "cisco_ios", "ports": [{"names": "GigabitEthernet0/0/0-1", "speed": "1G"}]},
        "AP-1": {"vendor": "cisco", "platform": "thin_ap", "ports": [{"names": "GigabitEthernet0", "speed": "1G"}]},
    }},
    "defaults.yaml": {"defaults": {"device": {"snmp_auth": "v2", "ssh_auth": "ops"}, "role": {"ap": {"snmp_auth": None, "ssh_auth": None}}}},
    "intent.yaml": {"intent": {"ntp_servers": ["127.10.0.123"], "loghosts": ["127.10.0.51"]}},
    "backbone.yaml": {
        "sites": [{"name": "nc", "display_name": "网络中心", "kind": "centre"}],
        "devices": [
            {"name": "nc-rn01", "site": "nc", "role": "ring-node", "model": "RN-1", "mgmt_address": "127.10.0.11"},
            {"name": "nc-rn02", "site": "nc", "role": "ring-node", "model": "RN-1", "mgmt_address": "127.10.0.12"},
            {"name": "nc-rn03", "site": "nc", "role": "ring-node", "model": "RN-1", "mgmt_address": "127.10.0.13"},
            {"name": "nc-eg01", "site": "nc", "role": "egress", "model": "EG-1", "mgmt_address": "127.10.0.4"},
        ],
        "links": [
            {"a": "nc-rn01:XGigabitEthernet0/0/1", "b": "nc-rn02:XGigabitEthernet0/0/2", "kind": "ring-a", "capacity_bps": "10G"},
            {"a": "nc-rn02:XGigabitEthernet0/0/1", "b": "nc-rn03:XGigabitEthernet0/0/2", "kind": "ring-a", "capacity_bps": "10G"},
            {"a": "nc-rn03:XGigabitEthernet0/0/1", "b": "nc-rn01:XGigabitEthernet0/0/2", "kind": "ring-a", "capacity_bps": "10G"},
            {"a": "nc-rn01:XGigabitEthernet0/0/3", "b": "nc-rn02:XGigabitEthernet0/0/4", "kind": "ring-b", "capacity_bps": "10G"},
            {"a": "nc-rn02:XGigabitEthernet0/0/3", "b": "nc-rn03:XGigabitEthernet0/0/4", "kind": "ring-b", "capacity_bps": "10G"},
            {"a": "nc-rn03:XGigabitEthernet0/0/3", "b": "nc-rn01:XGigabitEthernet0/0/4", "kind": "ring-b", "capacity_bps": "10G"},
            {"a": "nc-eg01:Ten-GigabitEthernet1/0/1", "b": "nc-rn01:XGigabitEthernet0/0/5", "kind": "core", "capacity_bps": "10G"},
            {"a": "nc-eg01:Ten-GigabitEthernet1/0/2", "b": {"device": "ct-pe", "interface": "Gi0/0/1", "external": True},
             "kind": "egress", "capacity_bps": "2G", "carrier": "中国电信"},
            {"a": "nc-eg01:Ten-GigabitEthernet1/0/3", "b": {"device": "cu-pe", "interface": "Gi0/0/1", "external": True},
             "kind": "egress", "capacity_bps": "2G", "carrier": "中国联通"},
        ],
    },
    "sites/sch001.yaml": {
        "sites": [{"name": "sch001", "display_name": "迷你第一小学", "kind": "school", "street": "东湖街道",
                   "admins": [{"name": "王伟", "username": "sch001-na1", "email": "na1@sch001.example.cn", "phone": "13900001234"}]}],
        "devices": [
            {"name": "sch001-rt01", "site": "sch001", "role": "school-router", "model": "RT-1", "mgmt_address": "127.100.1.1"},
            {"name": "sch001-ac01", "site": "sch001", "role": "ac", "model": "AC-1", "mgmt_address": "127.100.1.20"},
            {"name": "sch001-ap001", "site": "sch001", "role": "ap", "model": "AP-1", "mgmt_address": "127.100.1.101", "parent": "sch001-ac01"},
        ],
        "links": [
            {"a": "sch001-rt01:GigabitEthernet 0/0", "b": "nc-rn02:GigabitEthernet0/0/1", "kind": "uplink", "capacity_bps": "1G"},
            {"a": "sch001-ac01:GigabitEthernet0/0/0", "b": "sch001-rt01:GigabitEthernet 0/1", "kind": "access", "capacity_bps": "1G"},
            {"a": "sch001-ap001:GigabitEthernet0", "b": "sch001-rt01:GigabitEthernet 0/2", "kind": "access", "capacity_bps": "1G"},
        ],
    },
}

MINI_CONFIG: dict[str, Any] = {
    "inventory": {"path": "inv", "allowed_ranges": ["127.0.0.0/8"]},
    "auths": {"snmp": {"v2": {"version": "2c", "community": "env:EMW_TEST_COMMUNITY"}},
              "ssh": {"ops": {"username": "netops", "password": "file:secrets/ops"}}},
}


class MiniDistrict:
    """Writes MINI (after the test's edits) to a folder; `load()` validates it like the CLI does."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = copy.deepcopy(MINI)
        self.config = copy.deepcopy(MINI_CONFIG)

    @property
    def inv_dir(self) -> Path:
        return self.root / "inv"

    def write(self) -> Path:
        for name, doc in self.files.items():
            p = self.inv_dir / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
        (self.root / "config.yaml").write_text(yaml.safe_dump(self.config, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return self.inv_dir

    def load(self, **kw: Any):
        from ipaddress import ip_network

        from inventory import load_inventory

        self.write()
        kw.setdefault("allowed_ranges", [ip_network("127.0.0.0/8")])
        kw.setdefault("auth_names", {"snmp": {"v2"}, "ssh": {"ops"}})
        return load_inventory(self.inv_dir, **kw)

    def device(self, name: str) -> dict[str, Any]:
        for doc in self.files.values():
            for d in doc.get("devices", []):
                if d["name"] == name:
                    return d
        raise KeyError(name)


@pytest.fixture
def mini(tmp_path: Path) -> MiniDistrict:
    return MiniDistrict(tmp_path)


@pytest.fixture(scope="session")
def demo():
    from inventory import DEMO_PATH, load_inventory

    return load_inventory(DEMO_PATH)


@pytest.fixture(scope="session")
def lab_env(tmp_path_factory):
    """One private lab (spare ports) for every test module that needs it: (config, client, config path)."""
    from emanwatch.config import load_config
    from lab.client import LabClient

    from .lab_helpers import lab_config

    tmp = tmp_path_factory.mktemp("lab")
    path = lab_config(tmp)
    cfg = load_config(path)
    client = LabClient(cfg)
    st = client.up(path, timeout=90)
    assert st["snmp_agents"] >= 500 and st["ssh_listeners"] >= 500
    yield cfg, client, path
    client.down()


@pytest.fixture(scope="session")
def lab(lab_env):
    return lab_env[:2]


@pytest.fixture
def faults(lab):
    _, client = lab
    yield client
    client.clear()
