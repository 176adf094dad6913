"""The CSV asset ledger (台账): the spreadsheet every district keeps, imported as device records.

Headers may be the Chinese ones a district's spreadsheet has or the field names; files saved by
Excel come as UTF-8 with a BOM or as GB18030 (GBK), and both are read. Rows become device records
that pass through the same defaults and validation as YAML records, with the CSV line as location.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from .model import Device
from .source import InputError, Located, Problem

# field -> header in a district's ledger
COLUMNS: dict[str, str] = {
    "name": "设备名称",
    "site": "所属单位",
    "role": "设备角色",
    "vendor": "厂商",
    "platform": "平台",
    "model": "型号",
    "mgmt_address": "管理地址",
    "snmp_auth": "SNMP凭据",
    "ssh_auth": "SSH凭据",
    "status": "状态",
    "parent": "上级设备",
    "serial": "序列号",
    "asset_id": "资产编号",
    "firmware": "软件版本",
}
HEADER_TO_FIELD = {**{v: k for k, v in COLUMNS.items()}, **{k: k for k in COLUMNS}}
REQUIRED = ("name", "site", "role", "model", "mgmt_address")


def _decode(path: Path) -> str:
    data = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise InputError([Problem(str(path), 0, "", "neither UTF-8 nor GB18030 text")], str(path))


def read_ledger(path: Path) -> list[Located]:
    name = str(path)
    if not path.is_file():
        raise InputError([Problem(name, 0, "", "ledger file not found")], name)
    reader = csv.reader(io.StringIO(_decode(path), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError([Problem(name, 1, "", "empty ledger: no header row")], name) from None
    problems: list[Problem] = []
    fields: list[str | None] = []
    for col, h in enumerate(header, 1):
        fld = HEADER_TO_FIELD.get(h.strip())
        if fld is None and h.strip():
            problems.append(Problem(name, 1, f"column {col}", f"unknown column {h.strip()!r} (known: {', '.join(COLUMNS.values())})"))
        fields.append(fld)
    missing = [f for f in REQUIRED if f not in fields]
    if missing:
        problems.append(Problem(name, 1, "header", "missing column(s): " + ", ".join(f"{COLUMNS[f]} ({f})" for f in missing)))
    if problems:
        raise InputError(problems, name)
    rows: list[Located] = []
    for row in reader:
        line = reader.line_num
        if not any(c.strip() for c in row):
            continue
        if len(row) > len(fields):
            problems.append(Problem(name, line, f"row {line}", f"{len(row)} cells but the header has {len(fields)} columns"))
            continue
        rec = Located(file=name, line=line)
        for fld, cell in zip(fields, row, strict=False):
            if fld is not None and cell.strip() != "":
                rec[fld] = cell.strip()
                rec.key_lines[fld] = line
        rows.append(rec)
    if problems:
        raise InputError(problems, name)
    return rows


def write_ledger(devices: Iterable[Device], out: TextIO, chinese_headers: bool = True) -> None:
    """Resolved device records as a ledger; read_ledger() of this gives the same devices back."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow([COLUMNS[f] if chinese_headers else f for f in COLUMNS])
    for d in devices:
        row = []
        for f in COLUMNS:
            v = getattr(d, f)
            row.append("" if v is None else str(v.value if hasattr(v, "value") else v))
        w.writerow(row)
