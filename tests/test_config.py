"""config.yaml: validation names the key; credentials are references resolved at run time."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml

from emanwatch.config import SecretError, load_config, resolve_snmp_auth
from inventory import InputError


def write(tmp_path: Path, doc: dict | str) -> Path:
    p = tmp_path / "config.yaml"
    p.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc), encoding="utf-8")
    return p


def test_repository_config_is_valid() -> None:
    cfg = load_config(Path(__file__).resolve().parent.parent / "config.yaml")
    assert cfg.shard == (0, 1)
    assert cfg.listen.exporter.startswith("127.")
    assert cfg.polling.intervals["ring-node"] == 30.0
    assert set(cfg.auths.snmp) == {"lab-v2c", "lab-v3"}


def test_defaults_when_sections_are_missing(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, {}))
    assert cfg.shard == (0, 1) and cfg.inventory.path == "inventory/demo"
    assert cfg.path("var") == tmp_path / "var"


@pytest.mark.parametrize(("doc", "needles"), [
    ({"polling": {"intervls": {}}}, ["polling.intervls", "unknown field"]),
    ({"auths": {"snmp": {"x": {"version": "2c", "community": "public"}}}}, ["auths.snmp.x.community", "never literal"]),
    ({"auths": {"ssh": {"x": {"username": "a", "password": "hunter22"}}}}, ["auths.ssh.x.password", "never literal"]),
    ({"auths": {"snmp": {"x": {"version": "3", "username": "u", "auth_password": "env:A"}}}}, ["auths.snmp.x", "priv_password"]),
    ({"shard": "3 of 2"}, ["shard", "K must be in 0..N-1"]),
    ({"shard": "half"}, ["shard", "K of N"]),
    ({"polling": {"intervals": {"ring-node": "fast"}}}, ["polling.intervals.ring-node", "duration"]),
    ({"polling": {"intervals": {"router": "30s"}}}, ["polling.intervals.router", "school-router"]),
    ({"listen": {"exporter": "localhost"}}, ["listen.exporter", "HOST:PORT"]),
    ({"inventory": {"allowed_ranges": ["127.0.0.0/33"]}}, ["inventory.allowed_ranges.0"]),
    ("inventory:\n  path: [\n", ["config.yaml:3", "YAML syntax"]),
    ({"alerting": {"rate_window": "2m"}}, ["alerting.rate_window", "two polls", "120s"]),
])
def test_bad_config_names_the_key(tmp_path: Path, doc, needles: list[str]) -> None:
    with pytest.raises(InputError) as exc:
        load_config(write(tmp_path, doc))
    text = str(exc.value)
    assert "config.yaml" in text
    for n in needles:
        assert n in text, text


def test_line_of_bad_key(tmp_path: Path) -> None:
    p = write(tmp_path, "polling:\n  timeout: 2s\n  retries: many\n")
    with pytest.raises(InputError) as exc:
        load_config(p)
    (prob,) = exc.value.problems
    assert prob.line == 3 and prob.field == "polling.retries"


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_config(tmp_path / "nope.yaml")


def test_secrets_resolved_at_run_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(write(tmp_path, {"auths": {"snmp": {
        "v2": {"version": "2c", "community": "env:EMW_TEST_COMMUNITY"},
        "v3": {"version": 3, "username": "u", "auth_password": "file:s/auth", "priv_password": "file:s/priv"}}}}))
    monkeypatch.delenv("EMW_TEST_COMMUNITY", raising=False)
    with pytest.raises(SecretError, match=r"auths.snmp.v2.community: environment variable EMW_TEST_COMMUNITY is not set"):
        resolve_snmp_auth(cfg, "v2")
    monkeypatch.setenv("EMW_TEST_COMMUNITY", "s3cret-ro")
    assert resolve_snmp_auth(cfg, "v2").community == "s3cret-ro"
    with pytest.raises(SecretError, match=r"auths.snmp.v3.auth_password: secret file .*s/auth does not exist"):
        resolve_snmp_auth(cfg, "v3")
    (tmp_path / "s").mkdir()
    (tmp_path / "s/auth").write_text("authpass123\n")
    (tmp_path / "s/priv").write_text("")
    with pytest.raises(SecretError, match="is empty"):
        resolve_snmp_auth(cfg, "v3")
    (tmp_path / "s/priv").write_text("privpass123")
    a = resolve_snmp_auth(cfg, "v3")
    assert (a.version, a.auth_password, a.priv_password) == ("3", "authpass123", "privpass123")
    with pytest.raises(SecretError, match="no auths.snmp.v9"):
        resolve_snmp_auth(cfg, "v9")


def test_lab_secrets_created_private_and_kept(tmp_path: Path) -> None:
    from lab.secrets import LAB_COMMUNITY, ensure_lab_secrets

    cfg = load_config(write(tmp_path, {"auths": {
        "snmp": {"v2": {"version": "2c", "community": "file:var/secrets/c"},
                 "v3": {"version": "3", "username": "u", "auth_password": "file:var/secrets/a", "priv_password": "file:var/secrets/p"}},
        "ssh": {"o": {"username": "netops", "password": "env:NOT_A_FILE"}}}}))
    created = ensure_lab_secrets(cfg)
    assert sorted(p.name for p in created) == ["a", "c", "p"]
    assert (tmp_path / "var/secrets/c").read_text().strip() == LAB_COMMUNITY
    a = (tmp_path / "var/secrets/a").read_text()
    assert len(a.strip()) >= 8  # SNMPv3 keys need 8+ characters
    assert stat.S_IMODE(os.stat(tmp_path / "var/secrets/a").st_mode) == 0o600
    assert ensure_lab_secrets(cfg) == []  # kept: the lab and the collector keep agreeing
    assert (tmp_path / "var/secrets/a").read_text() == a
