"""Prometheus rules: promtool checks them and runs their unit tests (fire, not fire, resolve)."""

from __future__ import annotations

import shutil
import subprocess

from .conftest import REPO

RULES = REPO / "rules"


def promtool(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("promtool")
    assert exe, "promtool missing: ./dev installs Debian's prometheus"
    return subprocess.run([exe, *args], capture_output=True, text=True, cwd=RULES)


def test_rendered_rules_are_valid_and_their_unit_tests_pass(tmp_path) -> None:
    """The templated rules, rendered with config.yaml's thresholds (what Prometheus loads)."""
    from emanwatch.config import load_config
    from emanwatch.rules import write_rules

    paths = write_rules(load_config(REPO / "config.yaml"), tmp_path)
    rendered = tmp_path / "emanwatch.rules.yml"
    r = promtool("check", "rules", *map(str, paths))
    assert r.returncode == 0, r.stdout + r.stderr
    test = tmp_path / "emanwatch_test.yml"
    test.write_text((RULES / "tests" / "emanwatch_test.yml").read_text(encoding="utf-8").replace("RENDERED", str(rendered)), encoding="utf-8")
    r = promtool("test", "rules", str(test))
    assert r.returncode == 0, r.stdout + r.stderr


def test_thresholds_come_from_config(tmp_path) -> None:
    import yaml

    from emanwatch.config import load_config
    from emanwatch.rules import render_rules

    doc = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    doc["alerting"] = {"utilisation": {"ring-a": {"warning": 0.55, "critical": 0.75, "for": "5m"}}, "cpu": {"warning": 60, "critical": 85}}
    p = tmp_path / "config.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    text = render_rules(load_config(p))["emanwatch.rules.yml"]
    assert '> 0.55' in text and 'for: 300s' in text and "emanwatch_cpu_percent > 85" in text
    assert "[300s]" in text  # the default rate window
    assert 'link_kind="ring-b"' not in text  # only the kinds configured
    doc["alerting"] = {"utilisation": {"ring-c": {"warning": 0.5, "critical": 0.6}}}
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    import pytest

    from inventory import InputError

    with pytest.raises(InputError, match="alerting.utilisation"):
        load_config(p)


def test_a_wrong_expectation_fails(tmp_path) -> None:
    """The unit tests can fail: an expectation flipped must make promtool say so."""
    from emanwatch.config import load_config
    from emanwatch.rules import write_rules

    write_rules(load_config(REPO / "config.yaml"), tmp_path)
    text = (RULES / "tests" / "emanwatch_test.yml").read_text(encoding="utf-8").replace("RENDERED", str(tmp_path / "emanwatch.rules.yml"))
    flipped = "{eval_time: 1m, alertname: DeviceDown, exp_alerts: []}"
    assert flipped in text
    bad = tmp_path / "bad_test.yml"
    bad.write_text(text.replace(flipped, "{eval_time: 1m, alertname: DeviceDown, exp_alerts: [{exp_labels: {device: x}}]}"), encoding="utf-8")
    r = promtool("test", "rules", str(bad))
    assert r.returncode != 0 and "DeviceDown" in r.stdout + r.stderr
