"""Reference-tool configuration for the lab: snmp_exporter's snmp.yml with numeric OIDs.

Debian's snmp_exporter ships no snmp.yml (MIB licences), and the lab has no MIB files, so the
IF-MIB module is written here by OID, in snmp_exporter 0.21's format (auth inside the module).
"""

from __future__ import annotations

from typing import Any

import yaml

IF_COLUMNS = [
    ("ifOperStatus", "1.3.6.1.2.1.2.2.1.8", "gauge"),
    ("ifInErrors", "1.3.6.1.2.1.2.2.1.14", "counter"),
    ("ifHCInOctets", "1.3.6.1.2.1.31.1.1.1.6", "counter"),
    ("ifHCOutOctets", "1.3.6.1.2.1.31.1.1.1.10", "counter"),
    ("ifHighSpeed", "1.3.6.1.2.1.31.1.1.1.15", "gauge"),
]
IFNAME = "1.3.6.1.2.1.31.1.1.1.1"
IFALIAS = "1.3.6.1.2.1.31.1.1.1.18"


def snmp_exporter_config(community: str, v3: dict[str, str] | None = None) -> str:
    def module(auth: dict[str, Any], version: int) -> dict[str, Any]:
        metrics: list[dict[str, Any]] = [{"name": "sysUpTime", "oid": "1.3.6.1.2.1.1.3", "type": "gauge"}]
        for name, oid, typ in IF_COLUMNS:
            metrics.append({
                "name": name, "oid": oid, "type": typ,
                "indexes": [{"labelname": "ifIndex", "type": "gauge"}],
                "lookups": [{"labels": ["ifIndex"], "labelname": "ifName", "oid": IFNAME, "type": "DisplayString"},
                            {"labels": ["ifIndex"], "labelname": "ifAlias", "oid": IFALIAS, "type": "DisplayString"}],
            })
        return {"walk": [IFNAME, IFALIAS] + [oid for _, oid, _ in IF_COLUMNS], "get": ["1.3.6.1.2.1.1.3.0"],
                "metrics": metrics, "version": version, "auth": auth, "max_repetitions": 25,
                "retries": 1, "timeout": "5s"}

    modules = {"if_mib": module({"community": community}, 2)}
    if v3:
        modules["if_mib_v3"] = module({"security_level": "authPriv", "username": v3["username"],
                                       "auth_protocol": "SHA", "password": v3["auth_password"],
                                       "priv_protocol": "AES", "priv_password": v3["priv_password"]}, 3)
    return yaml.safe_dump(modules, sort_keys=False)
