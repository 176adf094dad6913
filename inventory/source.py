"""YAML reading that remembers where each record came from, and problems that say so.

Every mapping loaded here is a `Located` dict carrying its file and line (and the line of each
key), so an error can name "file:line: device 'x': field 'y': ..." instead of a bare traceback.
YAML's silent last-one-wins on duplicate keys is turned into an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster


class Located(dict):
    __slots__ = ("file", "line", "key_lines")

    def __init__(self, *args: Any, file: str = "", line: int = 0, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.file = file
        self.line = line
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    where: str  # the record: "device 'sch001-rt01'", "link sch001-rt01:Gi0/0/0--ring02:..."
    message: str
    field: str = ""

    def __str__(self) -> str:
        loc = f"{self.file}:{self.line}" if self.line else self.file
        fld = f"field '{self.field}': " if self.field else ""
        where = f"{self.where}: " if self.where else ""
        return f"{loc}: {where}{fld}{self.message}"


class InputError(Exception):
    """One or more problems in an input file; str() lists them all."""

    def __init__(self, problems: list[Problem], what: str = "input") -> None:
        self.problems = problems
        self.what = what
        n = len(problems)
        super().__init__(f"{n} problem{'s' if n != 1 else ''} in {what}:\n" + "\n".join(f"  {p}" for p in problems))


def _make_loader(file: str) -> type:
    class Loader(_BaseLoader):  # type: ignore[misc, valid-type]
        pass

    def construct_mapping(loader: Any, node: yaml.MappingNode) -> Located:
        loader.flatten_mapping(node)
        out = Located(file=file, line=node.start_mark.line + 1)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            kline = key_node.start_mark.line + 1
            if key in out:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {out.key_lines[key]})", key_node.start_mark
                )
            out[key] = loader.construct_object(value_node, deep=True)
            out.key_lines[key] = kline
        return out

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return Loader


def load_yaml(path: Path, display: str | None = None) -> Any:
    """Parse one YAML file; raises InputError naming file and line on syntax errors."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError([Problem(name, 0, "", "file not found")], name) from None
    except UnicodeDecodeError as e:
        raise InputError([Problem(name, 0, "", f"not UTF-8 text ({e.reason} at byte {e.start})")], name) from None
    try:
        return yaml.load(text, Loader=_make_loader(name))  # noqa: S506 - safe loader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 0
        msg = " ".join(str(x) for x in (e.context, e.problem) if x)
        raise InputError([Problem(name, line, "", f"YAML syntax: {msg}")], name) from None
    except yaml.YAMLError as e:
        raise InputError([Problem(name, 0, "", f"YAML: {e}")], name) from None


def problems_from_validation(err: ValidationError, raw: Any, file: str, where: str, prefix: str = "") -> list[Problem]:
    """Turn pydantic's errors into Problems pointing at the line of the offending key."""
    out = []
    for e in err.errors(include_url=False):
        loc = [x for x in e["loc"] if not (isinstance(x, str) and x.startswith("function-"))]
        field = ".".join(str(x) for x in loc)
        if prefix:
            field = f"{prefix}.{field}" if field else prefix
        line = _line_for(raw, loc)
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field (a typo?)"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif "input" in e and not isinstance(e["input"], dict | list) and repr(e["input"]) not in msg:
            msg = f"{msg} (got {e['input']!r})"
        out.append(Problem(file, line, where, msg, field))
    return out


def _line_for(raw: Any, loc: list[Any]) -> int:
    line = getattr(raw, "line", 0)
    node = raw
    for part in loc:
        if isinstance(node, Located) and part in node:
            line = node.line_of(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            line = getattr(node, "line", line)
        else:
            break
    return line
