"""Render the Prometheus rule templates (rules/templates/*.j2) with config.yaml's thresholds."""

from __future__ import annotations

from pathlib import Path

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from .config import Config

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"


def render_rules(cfg: Config) -> dict[str, str]:
    """{file name: rendered YAML}, checked to parse."""
    # [[ ]] and [% %]: Prometheus' own {{ }} templates in the annotations pass through untouched
    env = Environment(loader=FileSystemLoader(str(RULES_DIR / "templates")), undefined=StrictUndefined,
                      keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                      variable_start_string="[[", variable_end_string="]]", block_start_string="[%",
                      block_end_string="%]", comment_start_string="[#", comment_end_string="#]")
    out = {}
    for t in sorted((RULES_DIR / "templates").glob("*.j2")):
        text = env.get_template(t.name).render(alerting=cfg.alerting)
        yaml.safe_load(text)  # a template that renders broken YAML fails here, not in Prometheus
        out[t.name.removesuffix(".j2")] = text
    return out


def write_rules(cfg: Config, folder: Path | None = None) -> list[Path]:
    """Rendered rules into the state folder, plus the static rule files; all the paths to load."""
    folder = folder or cfg.state_dir / "rules"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in render_rules(cfg).items():
        p = folder / name
        p.write_text(text, encoding="utf-8")
        paths.append(p)
    paths += sorted(RULES_DIR.glob("*.rules.yml"))
    return paths
