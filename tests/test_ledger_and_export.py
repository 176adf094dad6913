"""CSV asset ledger (台账) import and round trip; Prometheus service-discovery export."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from inventory import InputError, Selector, select
from inventory.ledger import COLUMNS, read_ledger, write_ledger
from inventory.sd import target_groups

from .conftest import MiniDistrict


def _devices_of(inv) -> dict[str, dict]:
    return {n: d.model_dump() for n, d in inv.devices.items()}


def test_ledger_round_trip(mini: MiniDistrict, tmp_path: Path) -> None:
    """Devices -> CSV -> devices gives the same records (defaults and model data resolved again)."""
    inv = mini.load()
    buf = io.StringIO()
    write_ledger(inv.devices.values(), buf)
    campus = mini.files["sites/sch001.yaml"]
    backbone = mini.files["backbone.yaml"]
    ledger_devices = backbone.pop("devices") + campus.pop("devices")
    assert len(ledger_devices) == len(inv.devices)
    csv_path = tmp_path / "台账.csv"
    csv_path.write_text(buf.getvalue(), encoding="utf-8-sig")  # as Excel saves it
    again = mini.load(ledgers=[csv_path])
    assert _devices_of(again) == _devices_of(inv)


def test_ledger_in_gb18030_with_field_headers(mini: MiniDistrict, tmp_path: Path) -> None:
    inv = mini.load()
    buf = io.StringIO()
    write_ledger([inv.devices["sch001-rt01"]], buf, chinese_headers=False)
    mini.files["sites/sch001.yaml"]["devices"] = [d for d in mini.files["sites/sch001.yaml"]["devices"] if d["name"] != "sch001-rt01"]
    p = tmp_path / "ledger-gbk.csv"
    p.write_bytes(buf.getvalue().encode("gb18030"))
    again = mini.load(ledgers=[p])
    assert again.devices["sch001-rt01"] == inv.devices["sch001-rt01"]


def test_ledger_errors_name_line_and_column(mini: MiniDistrict, tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("设备名称,所属单位,设备角色,型号,管理地址,颜色\nx,sch001,ap,AP-1,127.1.1.1,红\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.csv:1: column 6: unknown column '颜色'"):
        read_ledger(p)
    p.write_text("设备名称,所属单位,型号\nx,sch001,AP-1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"missing column\(s\): 设备角色 \(role\), 管理地址 \(mgmt_address\)"):
        read_ledger(p)
    header = ",".join(COLUMNS.values())
    p.write_text(f"{header}\nsch001-ap009,sch001,ap,,AP-1,127.100.1.999,,,,,sch001-ac01,,,\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        mini.load(ledgers=[p])
    text = str(exc.value)
    assert "bad.csv:2: device 'sch001-ap009': field 'mgmt_address'" in text, text
    p.write_text(f"{header}\nsch001-ap009,sch001,ap,,AP-1,127.100.1.99,,,,,sch001-ac01,,,,extra\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.csv:2: row 2: 15 cells but the header has 14"):
        read_ledger(p)


def test_file_sd_and_http_sd(mini: MiniDistrict) -> None:
    inv = mini.load()
    devs = select(inv, Selector(roles=("ring-node",)))
    fsd = target_groups(inv, devs, "file_sd")
    assert [g["targets"] for g in fsd] == [["127.10.0.11"], ["127.10.0.12"], ["127.10.0.13"]]
    assert fsd[0]["labels"] == {"device": "nc-rn01", "site": "nc", "site_kind": "centre", "role": "ring-node",
                                "vendor": "huawei", "platform": "huawei_vrp", "model": "RN-1", "status": "active"}
    hsd = target_groups(inv, devs, "http_sd", port=161)
    assert hsd[0]["targets"] == ["127.10.0.11:161"]
    assert all(k.startswith("__meta_emanwatch_") for g in hsd for k in g["labels"])
    assert all(isinstance(v, str) for g in fsd + hsd for v in g["labels"].values())
    with pytest.raises(ValueError):
        target_groups(inv, devs, "consul")


def test_promtool_accepts_file_sd(demo, tmp_path: Path) -> None:
    """Prometheus' own checker reads the exported file_sd file (promtool: Debian prometheus, installed by ./dev)."""
    assert shutil.which("promtool"), "promtool missing: run ./dev test, which installs Debian's prometheus"
    groups = target_groups(demo, select(demo, Selector(sites=("sch00*",))), "file_sd", port=161)
    (tmp_path / "targets.json").write_text(json.dumps(groups, ensure_ascii=False))
    (tmp_path / "prometheus.yml").write_text(
        "scrape_configs:\n- job_name: emanwatch-sd\n  file_sd_configs:\n  - files: [targets.json]\n")
    r = subprocess.run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout + r.stderr
    # and a broken file is refused, so the check above means something
    (tmp_path / "targets.json").write_text(json.dumps([{"targets": "127.0.0.1", "labels": {}}]))
    r = subprocess.run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True)
    assert r.returncode != 0
