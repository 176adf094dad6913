"""config.yaml: validated settings; credentials only as references, resolved at run time.

A secret is written `env:NAME` (an environment variable) or `file:PATH` (a file holding only the
secret; relative paths are from config.yaml's folder). A literal password in the file is refused,
and a reference that cannot be resolved is an error naming the key, never a silent default.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from ipaddress import IPv4Network, ip_address
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from inventory.model import Record, Role
from inventory.source import InputError, Problem, load_yaml, problems_from_validation

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "config.yaml"


# ---------------------------------------------------------------- value types


def _secret_ref(v: Any) -> str:
    if not isinstance(v, str) or not re.match(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$", v):
        raise ValueError("credentials are never literal in config.yaml: write env:NAME or file:PATH")
    return v


SecretRef = Annotated[str, AfterValidator(_secret_ref)]

_DUR_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DUR_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(v: Any) -> Any:
    """'30s', '2m', '500ms', 60 -> seconds (float)."""
    if isinstance(v, bool):
        raise ValueError("expected a duration such as 30s, 2m or 1h")
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        m = _DUR_RE.match(v)
        if m:
            return float(m.group(1)) * _DUR_UNIT[m.group(2)]
    raise ValueError(f"expected a duration such as 30s, 2m or 1h, got {v!r}")


Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]


def _host_port(v: Any) -> Any:
    if not isinstance(v, str) or ":" not in v:
        raise ValueError(f"expected HOST:PORT such as 127.0.0.1:9810, got {v!r}")
    host, _, port = v.rpartition(":")
    try:
        ip_address(host.strip("[]"))
    except ValueError:
        raise ValueError(f"{host!r} is not an IP address") from None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{port!r} is not a TCP port")
    return v


HostPort = Annotated[str, AfterValidator(_host_port)]


class Cfg(Record):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- sections


class SnmpAuth(Cfg):
    """Credentials apart from profiles, as snmp_exporter keeps auths apart from modules."""

    version: Literal["2c", "3"]
    community: SecretRef | None = None
    username: str | None = None
    security_level: Literal["noAuthNoPriv", "authNoPriv", "authPriv"] = "authPriv"
    auth_protocol: Literal["MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"] = "SHA"
    auth_password: SecretRef | None = None
    priv_protocol: Literal["DES", "AES", "AES192", "AES256"] = "AES"
    priv_password: SecretRef | None = None
    context: str = ""

    @field_validator("version", mode="before")
    @classmethod
    def _v(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v  # `version: 3` in YAML is an int

    @model_validator(mode="after")
    def _complete(self) -> SnmpAuth:
        if self.version == "2c":
            if self.community is None:
                raise ValueError("SNMP v2c needs 'community'")
        else:
            if not self.username:
                raise ValueError("SNMP v3 needs 'username'")
            if self.security_level != "noAuthNoPriv" and self.auth_password is None:
                raise ValueError(f"{self.security_level} needs 'auth_password'")
            if self.security_level == "authPriv" and self.priv_password is None:
                raise ValueError("authPriv needs 'priv_password'")
        return self


class SshAuth(Cfg):
    username: str
    password: SecretRef | None = None
    key_file: str | None = None  # a private key file path (a file is a reference already)
    enable_secret: SecretRef | None = None

    @model_validator(mode="after")
    def _one(self) -> SshAuth:
        if self.password is None and self.key_file is None:
            raise ValueError("SSH auth needs 'password' or 'key_file'")
        return self


class Auths(Cfg):
    snmp: dict[str, SnmpAuth] = {}
    ssh: dict[str, SshAuth] = {}


class InventoryCfg(Cfg):
    path: str = "inventory/demo"
    ledgers: list[str] = []  # CSV asset ledgers (台账) merged into the inventory
    allowed_ranges: list[IPv4Network] = [IPv4Network("127.0.0.0/8")]


DEFAULT_INTERVALS = {
    Role.RING_NODE: 30.0, Role.CORE: 30.0, Role.EGRESS: 30.0, Role.FIREWALL: 30.0,
    Role.SCHOOL_ROUTER: 60.0, Role.CORE_SWITCH: 60.0, Role.ACCESS_SWITCH: 60.0, Role.AC: 120.0,
}


class Polling(Cfg):
    intervals: dict[Role, Duration] = DEFAULT_INTERVALS
    timeout: Duration = 2.0
    retries: int = Field(default=1, ge=0, le=5)
    snmp_port: int = Field(default=161, ge=1, le=65535)
    concurrency: int = Field(default=256, ge=1, le=4096)
    jitter: bool = True  # spread polls over the interval instead of a thundering herd


def _shard(v: Any) -> Any:
    if isinstance(v, str):
        m = re.match(r"^\s*(\d+)\s+of\s+(\d+)\s*$", v)
        if not m:
            raise ValueError(f"expected 'K of N' such as '0 of 1', got {v!r}")
        k, n = int(m.group(1)), int(m.group(2))
        if n < 1 or not 0 <= k < n:
            raise ValueError(f"shard {k} of {n}: K must be in 0..N-1 and N >= 1")
        return (k, n)
    raise ValueError(f"expected 'K of N' such as '0 of 1', got {v!r}")


Shard = Annotated[tuple[int, int], BeforeValidator(_shard)]


class Listen(Cfg):
    exporter: HostPort = "127.0.0.1:9810"
    notifier: HostPort = "127.0.0.1:9811"
    prometheus: HostPort = "127.0.0.1:9090"
    alertmanager: HostPort = "127.0.0.1:9093"


class ServiceCheck(Cfg):
    """A platform schools must reach, checked from the centre: tcp HOST:PORT, dns SERVER + name, http URL."""

    name: str
    kind: Literal["tcp", "dns", "http"]
    target: str
    query: str | None = None  # dns: the name to resolve
    expect: int = 200  # http: the status that means up


class Probes(Cfg):
    enabled: bool = True
    interval: Duration = 30.0
    count: int = Field(default=3, ge=1, le=20)  # echo requests per address per sweep
    timeout: Duration = 1.0
    rate: float = Field(default=20000.0, gt=0)  # packets per second
    # probes go to 127.0.0.0/8 only, unless a range is named here explicitly (network safety)
    allowed_ranges: list[IPv4Network] = []
    services: list[ServiceCheck] = []


class Levels(Cfg):
    warning: float
    critical: float
    for_: Duration = Field(default=600.0, alias="for")


DEFAULT_UTILISATION = {
    "ring-a": {"warning": 0.7, "critical": 0.9}, "ring-b": {"warning": 0.7, "critical": 0.9},
    "core": {"warning": 0.7, "critical": 0.9}, "uplink": {"warning": 0.8, "critical": 0.95},
    "egress": {"warning": 0.8, "critical": 0.95},
}


class Alerting(Cfg):
    """Thresholds rendered into the Prometheus rules (rules/templates/*.j2): change them here."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    utilisation: dict[str, Levels] = {k: Levels(**v) for k, v in DEFAULT_UTILISATION.items()}  # type: ignore[arg-type]
    egress_total: Levels = Levels(warning=0.7, critical=0.9, **{"for": 900})
    egress_forecast_days: int = Field(default=30, ge=1, le=365)  # warn when 80% is reached within N days
    cpu: Levels = Levels(warning=70, critical=90)
    memory: Levels = Levels(warning=80, critical=90)
    ap_offline_ratio: float = Field(default=0.5, gt=0, le=1)  # AP mass offline: this share of a site's APs down
    interface_errors_per_second: float = Field(default=5.0, ge=0)
    rebooted_within: Duration = 900.0
    rate_window: Duration = Field(default=300.0, ge=1.0)  # rate() window of utilisation and error alerts
    outage_for: Duration = 60.0  # DeviceDown, LinkDown, RingDegraded, SiteIsolated, EgressRedundancyLost
    # a root cause (root="yes") keeps firing this long after it recovers, so that what it cut off
    # resolves first (about two poll intervals: the dependents must be polled again)
    root_hold: Duration = 120.0
    ap_offline_for: Duration = 300.0
    errors_for: Duration = 300.0  # InterfaceErrors
    collection_for: Duration = 300.0  # SnmpAgentProblem, PollFailing, ServiceUnreachable
    drift_for: Duration = 60.0  # ConfigDrift (the audit runs hours apart: its result holds until the next)

    @field_validator("utilisation")
    @classmethod
    def _kinds(cls, v: dict[str, Levels]) -> dict[str, Levels]:
        from inventory import LinkKind

        bad = set(v) - {k.value for k in LinkKind}
        if bad:
            raise ValueError(f"unknown link kind(s) {', '.join(sorted(bad))}; known: {', '.join(k.value for k in LinkKind)}")
        return v


class Smtp(Cfg):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = "emanwatch@localhost"
    starttls: bool = False
    username: str | None = None
    password: str | None = None  # env:/file: reference

    @field_validator("password")
    @classmethod
    def _ref(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("env:", "file:")):
            raise ValueError("must be a secret reference (env:NAME or file:PATH), not the secret itself")
        return v


class ChangeWindow(Cfg):
    """When configuration changes are approved: days (mon..sun) and a CST time range (may cross midnight)."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = ["sat", "sun"]
    start: str = Field(default="22:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(default="06:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class ComplianceException(Cfg):
    """A failed check accepted for a device or a whole site, with the reason, until `expires`."""

    check: str
    device: str | None = None
    site: str | None = None
    reason: str = Field(min_length=4)
    expires: date

    @model_validator(mode="after")
    def _scope(self) -> ComplianceException:
        if not self.device and not self.site:
            raise ValueError("an exception names a 'device' or a 'site'")
        return self


class Ssh(Cfg):
    """SSH collection (netmiko): config backup and the 等保 audit."""

    port: int = Field(default=22, ge=1, le=65535)
    timeout: Duration = 20.0  # connect, login and each command's output
    concurrency: int = Field(default=32, ge=1, le=512)
    # pin-first-use: a device's first key is stored (logged); strict: unknown keys are refused.
    # A key that differs from the stored one is refused either way.
    host_keys: Literal["pin-first-use", "strict"] = "pin-first-use"
    known_hosts: str | None = None  # default STATE/ssh/known_hosts
    audit_every: Duration | None = 21600.0  # serve: backup + audit of every device with an ssh_auth; null: off
    roles: list[Role] = []  # limit the scheduled audit to these roles (empty: all with an ssh_auth)
    sites: list[str] = []  # and to these sites (empty: all)
    change_windows: list[ChangeWindow] = [ChangeWindow()]
    changed_hold: Duration = 86400.0  # a change outside the windows is reported this long
    exceptions: list[ComplianceException] = []


class Influx(Cfg):
    """InfluxDB v2 writes of every poll result (exporters/influx.py), through a disk spool."""

    enabled: bool = False
    url: str = Field(default="http://127.0.0.1:8428", pattern=r"^https?://")  # the demo's VictoriaMetrics
    org: str = "emanwatch"
    bucket: str = "emanwatch"
    token: SecretRef | None = None
    batch_lines: int = Field(default=5000, ge=1, le=1_000_000)
    timeout: Duration = 10.0
    retry_backoff: Duration = 1.0
    max_backoff: Duration = 60.0
    spool_max_bytes: int = Field(default=512 * 2**20, ge=2**20)  # past this the oldest batches are dropped, counted


class Reports(Cfg):
    """The weekly capacity report and the daily zero-report, made by serve on schedule (CST)."""

    scheduled: bool = True
    prometheus: str | None = None  # the query API (Prometheus or VictoriaMetrics); default listen.prometheus
    weekly_at: str = Field(default="mon 07:00", pattern=r"^(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):[0-5]\d$")
    daily_at: str = Field(default="08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class Notify(Cfg):
    """Who hears about what: Alertmanager's routes are generated from the inventory's rosters; these
    are the timings and the delivery settings of emanwatch's notifier."""

    language: Literal["zh", "en"] = "zh"
    dashboard_url: str = "http://127.0.0.1:3000/d/emanwatch-district"  # the link in every message
    group_wait: Duration = 30.0
    group_interval: Duration = 300.0
    repeat_interval: Duration = 14400.0
    resolve_timeout: Duration = 300.0
    smtp: Smtp | None = None  # no SMTP: email addresses in the roster are not used
    retries: int = Field(default=8, ge=0, le=100)  # per message and channel, with doubling backoff
    retry_backoff: Duration = 5.0
    timeout: Duration = 10.0  # per delivery attempt
    # the demo's stand-ins for the robots and the mail server: /sink on listen.notifier, SMTP on notify.smtp
    local_sinks: bool = False


class LabCfg(Cfg):
    """The simulated district (`emanwatch lab up`): which auths its agents accept, where it listens."""

    control: HostPort = "127.0.0.1:9820"  # the lab's control API (faults)
    snmp_port: int = Field(default=161, ge=1, le=65535)
    ssh_port: int = Field(default=22, ge=1, le=65535)
    time_factor: float = Field(default=1.0, ge=1.0, le=100000.0)  # 1008: a week of traffic shape in 10 minutes
    snmp_v2c_auth: str = "lab-v2c"
    snmp_v3_auth: str = "lab-v3"
    ssh_auth: str = "lab-netops"


class Paths(Cfg):
    state: str = "var"


class Config(Cfg):
    inventory: InventoryCfg = InventoryCfg()
    auths: Auths = Auths()
    polling: Polling = Polling()
    shard: Shard = (0, 1)
    listen: Listen = Listen()
    paths: Paths = Paths()
    lab: LabCfg = LabCfg()
    probes: Probes = Probes()
    alerting: Alerting = Alerting()
    notify: Notify = Notify()
    ssh: Ssh = Ssh()
    influx: Influx = Influx()
    reports: Reports = Reports()
    # where the file was read from; relative paths are taken from its folder
    _base_dir: Path = PrivateAttr(default=REPO_ROOT)
    _source: str = PrivateAttr(default="config.yaml")

    @model_validator(mode="after")
    def _window_holds_polls(self) -> Config:
        # the utilisation rules average the poller's per-poll rates over the window: a window shorter
        # than two polls of the slowest role would hold one sample or none (no utilisation, no alert)
        slowest = max(self.polling.intervals.values(), default=0.0)
        if self.alerting.rate_window < 2 * slowest:
            raise ValueError(f"alerting.rate_window ({self.alerting.rate_window:g}s) must hold at least two polls "
                             f"of the slowest polling.intervals entry ({slowest:g}s): make it >= {2 * slowest:g}s")
        return self

    @property
    def known_hosts(self) -> Path:
        return self.path(self.ssh.known_hosts) if self.ssh.known_hosts else self.state_dir / "ssh" / "known_hosts"

    @property
    def base_dir(self) -> Path:
        return self._base_dir

    @property
    def source(self) -> str:
        return self._source

    def path(self, p: str | Path) -> Path:
        p = Path(p)
        return p if p.is_absolute() else self.base_dir / p

    @property
    def state_dir(self) -> Path:
        return self.path(self.paths.state)

    def auth_names(self) -> dict[str, set[str]]:
        return {"snmp": set(self.auths.snmp), "ssh": set(self.auths.ssh)}

    def secret(self, ref: str, key: str) -> str:
        return resolve_secret(ref, self.base_dir, key, self.source)

    def secret_refs(self) -> list[tuple[str, str]]:
        """(key path, reference) for every credential in the file."""
        out = []
        for kind, table in (("snmp", self.auths.snmp), ("ssh", self.auths.ssh)):
            for name, auth in table.items():
                for fld in ("community", "auth_password", "priv_password", "password", "enable_secret"):
                    ref = getattr(auth, fld, None)
                    if ref is not None:
                        out.append((f"auths.{kind}.{name}.{fld}", ref))
        if self.influx.token:
            out.append(("influx.token", self.influx.token))
        if self.notify.smtp and self.notify.smtp.password:
            out.append(("notify.smtp.password", self.notify.smtp.password))
        return out


class SecretError(Exception):
    pass


def resolve_secret(ref: str, base_dir: Path, key: str, source: str = "config.yaml") -> str:
    kind, _, what = ref.partition(":")
    if kind == "env":
        value = os.environ.get(what)
        if value is None:
            raise SecretError(f"{source}: {key}: environment variable {what} is not set")
    elif kind == "file":
        p = Path(what)
        p = p if p.is_absolute() else base_dir / p
        try:
            value = p.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise SecretError(f"{source}: {key}: secret file {p} does not exist") from None
        except OSError as e:
            raise SecretError(f"{source}: {key}: cannot read secret file {p}: {e.strerror}") from None
    else:
        raise SecretError(f"{source}: {key}: not a secret reference: {ref!r}")
    if value == "":
        raise SecretError(f"{source}: {key}: secret {ref} is empty")
    return value


@dataclass(frozen=True)
class ResolvedSnmpAuth:
    name: str
    version: str
    community: str | None = None
    username: str | None = None
    security_level: str = "authPriv"
    auth_protocol: str = "SHA"
    auth_password: str | None = None
    priv_protocol: str = "AES"
    priv_password: str | None = None
    context: str = ""


def resolve_snmp_auth(cfg: Config, name: str) -> ResolvedSnmpAuth:
    a = cfg.auths.snmp.get(name)
    if a is None:
        raise SecretError(f"{cfg.source}: no auths.snmp.{name} (known: {', '.join(sorted(cfg.auths.snmp)) or 'none'})")
    key = f"auths.snmp.{name}"
    get = lambda f: None if getattr(a, f) is None else cfg.secret(getattr(a, f), f"{key}.{f}")  # noqa: E731
    return ResolvedSnmpAuth(name, a.version, get("community"), a.username, a.security_level, a.auth_protocol,
                            get("auth_password"), a.priv_protocol, get("priv_password"), a.context)


def resolve_ssh_auth(cfg: Config, name: str) -> tuple[str, str, str]:
    """(username, password, enable secret) of auths.ssh.NAME; SecretError names the key."""
    a = cfg.auths.ssh.get(name)
    if a is None:
        raise SecretError(f"{cfg.source}: no auths.ssh.{name} (known: {', '.join(sorted(cfg.auths.ssh)) or 'none'})")
    get = lambda f: "" if getattr(a, f) is None else cfg.secret(getattr(a, f), f"auths.ssh.{name}.{f}")  # noqa: E731
    return a.username, get("password"), get("enable_secret")


def find_config(explicit: str | Path | None = None) -> Path:
    """--config, else $EMANWATCH_CONFIG, else ./config.yaml, else the repository's."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("EMANWATCH_CONFIG")
    if env:
        return Path(env)
    local = Path.cwd() / "config.yaml"
    return local if local.is_file() else DEFAULT_CONFIG


def load_config(path: str | Path | None = None) -> Config:
    p = find_config(path)
    name = str(p)
    raw = load_yaml(p, name)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError([Problem(name, 1, "", "config must be a mapping of sections")], name)
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as e:
        raise InputError(problems_from_validation(e, raw, name, ""), name) from None
    cfg._base_dir = p.resolve().parent
    cfg._source = name
    return cfg
