"""Playbooks: one small declarative file per platform (playbooks/<platform>.yaml) saying which
commands gather the evidence for the audit and the config backup, how each output is parsed
(ntc-templates where a template exists, else our own TextFSM file in playbooks/templates/), which
secrets are masked and which lines are volatile. Adding a platform is adding a file.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import textfsm
import yaml
from ntc_templates.parse import parse_output
from pydantic import BaseModel, ConfigDict, field_validator

HERE = Path(__file__).parent
MASK = "$removed"


class Evidence(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    command: str
    parse: str | None = None  # "ntc" or a TextFSM file in playbooks/templates
    complete: str | None = None  # a line every whole output has (a config's last line): else it was cut

    def whole(self, text: str) -> bool:
        return self.complete is None or re.search(self.complete, text, re.M) is not None


class Firmware(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    evidence: str
    format: str  # str.format over the parsed row (lower-case field names)
    pattern: str | None = None  # then this regex's group 1, if given


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    platform: str
    netmiko: str
    evidence: dict[str, Evidence]
    firmware: Firmware | None = None
    backup: list[str] = ["running"]
    secrets: list[str] = []
    volatile: list[str] = []

    @field_validator("secrets", "volatile")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        for x in v:
            try:
                re.compile(x)
            except re.error as e:
                raise ValueError(f"{x!r} is not a valid regular expression: {e}") from None
        return v

    def command(self, name: str) -> str:
        return self.evidence[name].command

    def name_of(self, command: str) -> str | None:
        """The evidence name of a command as typed (abbreviations allowed: `disp cur`)."""
        words = command.split()
        for name, ev in self.evidence.items():
            full = ev.command.split()
            if len(full) == len(words) and all(f.startswith(w) for w, f in zip(words, full, strict=True)):
                return name
        return None

    def mask(self, text: str) -> str:
        """Secrets replaced by $removed, keyword kept: `password irreversible-cipher $removed`."""
        for rx in _compiled(tuple(self.secrets)):
            text = rx.sub(lambda m: m.group(1) + MASK, text)
        return text

    def stable(self, text: str) -> str:
        """Volatile lines (timestamps, byte counts) dropped, trailing blanks trimmed: equal configs compare equal."""
        rxs = _compiled(tuple(self.volatile))
        lines = [x.rstrip() for x in text.replace("\r\n", "\n").split("\n")]
        return "\n".join(x for x in lines if not any(r.search(x) for r in rxs)).strip("\n") + "\n"

    def parse(self, name: str, text: str) -> list[dict[str, Any]]:
        """Rows from the output of evidence `name`; raises ParseError naming the command."""
        ev = self.evidence[name]
        if ev.parse is None:
            return []
        try:
            if ev.parse == "ntc":
                return parse_output(platform=self.platform, command=ev.command, data=text)
            with (HERE / "templates" / ev.parse).open(encoding="utf-8") as f:
                fsm = textfsm.TextFSM(f)
            return [{k.lower(): v for k, v in zip(fsm.header, row, strict=True)} for row in fsm.ParseText(text)]
        except Exception as e:  # noqa: BLE001 - any template failure is reported per command
            raise ParseError(f"`{ev.command}` ({self.platform}): cannot parse: {e}") from None

    def firmware_of(self, outputs: dict[str, str]) -> str | None:
        fw = self.firmware
        if fw is None or fw.evidence not in outputs:
            return None
        rows = self.parse(fw.evidence, outputs[fw.evidence])
        if not rows:
            raise ParseError(f"`{self.command(fw.evidence)}` ({self.platform}): no version found in the output")
        try:
            value = fw.format.format(**rows[0]).strip()
        except KeyError as e:
            raise ParseError(f"playbook {self.platform}: firmware format names {e}, not a parsed field") from None
        if fw.pattern:
            m = re.search(fw.pattern, value)
            value = m.group(1) if m else value
        return value


class ParseError(ValueError):
    pass


@cache
def _compiled(rxs: tuple[str, ...]) -> list[re.Pattern]:
    return [re.compile(x, re.M) for x in rxs]


@cache
def load_playbook(platform: str) -> Playbook:
    path = HERE / f"{platform}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in HERE.glob("*.yaml")))
        raise KeyError(f"no playbook for platform {platform!r} (playbooks/{platform}.yaml); known: {known}")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Playbook(platform=platform, **doc)


@cache
def platforms() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in HERE.glob("*.yaml")))
