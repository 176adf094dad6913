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


def test_rules_are_valid() -> None:
    files = sorted(str(p) for p in RULES.glob("*.rules.yml"))
    assert files
    r = promtool("check", "rules", *files)
    assert r.returncode == 0, r.stdout + r.stderr


def test_rule_unit_tests_pass() -> None:
    tests = sorted(str(p) for p in (RULES / "tests").glob("*_test.yml"))
    assert tests
    r = promtool("test", "rules", *tests)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_wrong_expectation_fails(tmp_path) -> None:
    """The unit tests can fail: an expectation flipped must make promtool say so."""
    text = (RULES / "tests" / "reachability_test.yml").read_text()
    bad = tmp_path / "bad_test.yml"
    bad.write_text(text.replace("rule_files: [../reachability.rules.yml]", f"rule_files: [{RULES / 'reachability.rules.yml'}]")
                   .replace("{eval_time: 1m, alertname: DeviceDown, exp_alerts: []}",
                            "{eval_time: 1m, alertname: DeviceDown, exp_alerts: [{exp_labels: {device: x}}]}"))
    r = promtool("test", "rules", str(bad))
    assert r.returncode != 0
