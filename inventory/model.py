"""Inventory records: the district's intended state, one vocabulary from inventory to alert.

Records are pydantic models validated at load time; defaults (per site kind and role) and the
model catalogue are merged explicitly by the loader, so a Device carries every value it needs and
no attribute is looked up lazily.
"""

from __future__ import annotations

import re
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator


class SiteKind(StrEnum):
    SCHOOL = "school"
    VOCATIONAL = "vocational"
    KINDERGARTEN = "kindergarten"
    CENTRE = "centre"  # the network centre and backbone points of presence


class Role(StrEnum):
    RING_NODE = "ring-node"
    CORE = "core"
    EGRESS = "egress"
    FIREWALL = "firewall"
    SCHOOL_ROUTER = "school-router"
    CORE_SWITCH = "core-switch"
    ACCESS_SWITCH = "access-switch"
    AC = "ac"
    AP = "ap"


BACKBONE_ROLES = frozenset({Role.RING_NODE, Role.CORE, Role.EGRESS, Role.FIREWALL})


class LinkKind(StrEnum):
    RING_A = "ring-a"
    RING_B = "ring-b"
    EGRESS = "egress"  # carrier uplink; the far end is the carrier's, outside the inventory
    UPLINK = "uplink"  # a site's router to its ring node (1 Gbit/s to every school)
    CORE = "core"  # inside the network centre: core, firewall, egress router, ring attachment
    ACCESS = "access"  # inside a campus: switches, AC, APs


RING_KINDS = (LinkKind.RING_A, LinkKind.RING_B)


class Status(StrEnum):
    """Lifecycle, as in netbox: only active and maintenance devices are polled."""

    PLANNED = "planned"
    STAGED = "staged"
    ACTIVE = "active"
    MAINTENANCE = "maintenance"  # polled, alerts silenced
    OFFLINE = "offline"
    DECOMMISSIONING = "decommissioning"

    @property
    def polled(self) -> bool:
        return self in (Status.ACTIVE, Status.MAINTENANCE)


class Vendor(StrEnum):
    HUAWEI = "huawei"
    H3C = "h3c"
    RUIJIE = "ruijie"
    CISCO = "cisco"
    LINUX = "linux"


# platform (netmiko device type where there is one) -> the vendor that ships it
PLATFORM_VENDOR: dict[str, Vendor | None] = {
    "huawei_vrp": Vendor.HUAWEI,
    "hp_comware": Vendor.H3C,
    "ruijie_os": Vendor.RUIJIE,
    "cisco_ios": Vendor.CISCO,
    "cisco_wlc": Vendor.CISCO,
    "linux": Vendor.LINUX,
    "thin_ap": None,  # managed through its AC; any vendor
}

# how Cisco, Ruijie and others abbreviate port names (ifName, `show lldp neighbors`)
SHORT_IFNAMES = [("TenGigabitEthernet", "Te"), ("Ten-GigabitEthernet", "XGE"), ("XGigabitEthernet", "XGE"),
                 ("GigabitEthernet", "Gi"), ("FastEthernet", "Fa")]


def short_name(name: str) -> str:
    """GigabitEthernet 0/1 -> Gi0/1."""
    for long, short in SHORT_IFNAMES:
        if name.startswith(long):
            return short + name[len(long):].replace(" ", "")
    return name.replace(" ", "")


NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")

_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:bit/s|bps|b/s)?\s*$")


def parse_bps(value: Any) -> Any:
    """'10G', '2.5G', '100M', 1000000000 -> bit/s as int."""
    if isinstance(value, bool):
        raise ValueError("expected a rate such as 1G, 100M or 10000000000")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        m = _RATE_RE.match(value)
        if m:
            return int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    raise ValueError(f"expected a rate such as 1G, 100M or 10000000000, got {value!r}")


Bps = Annotated[int, BeforeValidator(parse_bps), Field(ge=0)]
Name = Annotated[str, Field(pattern=NAME_RE.pattern)]


class Record(BaseModel):
    # unknown fields are typos until proven otherwise
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


# ---------------------------------------------------------------- district and sites


class District(Record):
    name: str
    city: str = "上海市"
    egress_capacity_bps: Bps
    ring_capacity_bps: Bps = 10 * 10**9


class Admin(Record):
    """A 网管员 from the site's roster (台账); receives that site's alerts and nobody else's."""

    name: str
    username: str | None = None  # local account on the site's devices (drift check: accounts vs roster)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 -]{5,19}$")
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    wecom_webhook: str | None = None
    dingtalk_webhook: str | None = None
    duty: str | None = None  # full-time / part-time

    @field_validator("wecom_webhook", "dingtalk_webhook")
    @classmethod
    def _url_or_ref(cls, v: str | None) -> str | None:
        # robot webhooks embed a key: allow a secret reference instead of the URL
        if v is None or v.startswith(("http://", "https://", "env:", "file:")):
            return v
        raise ValueError("expected an http(s) URL or a secret reference (env:NAME / file:PATH)")


class Site(Record):
    name: Name
    display_name: str
    kind: SiteKind
    district: str | None = None
    street: str | None = None  # 街道 / 镇
    address: str | None = None
    admins: list[Admin] = []
    tags: list[str] = []


# ---------------------------------------------------------------- models (hardware catalogue)


class PortGroup(Record):
    """`names` is one interface name or a range on its last number: GigabitEthernet0/0/1-48."""

    names: str
    speed: Bps

    def expand(self) -> list[str]:
        m = re.match(r"^(.*?)(\d+)-(\d+)$", self.names)
        if not m:
            return [self.names]
        prefix, lo, hi = m.group(1), int(m.group(2)), int(m.group(3))
        if hi < lo:
            raise ValueError(f"port range {self.names!r} runs backwards")
        return [f"{prefix}{i}" for i in range(lo, hi + 1)]

    @model_validator(mode="after")
    def _check_range(self) -> PortGroup:
        self.expand()
        return self


class HardwareModel(Record):
    vendor: Vendor
    platform: str
    ports: list[PortGroup] = []
    sys_object_id: str | None = Field(default=None, pattern=r"^1(\.\d+)+$")
    firmware: str | None = None  # what the model ships with; intent says what is approved

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, v: str) -> str:
        if v not in PLATFORM_VENDOR:
            raise ValueError(f"unknown platform {v!r}; known: {', '.join(PLATFORM_VENDOR)}")
        return v


class Interface(Record):
    name: str
    speed_bps: int = 0


# ---------------------------------------------------------------- devices


class DeviceDefaults(Record):
    """What defaults (global, per site kind, per role) may set on a device."""

    snmp_auth: str | None = None
    ssh_auth: str | None = None
    status: Status | None = None
    tags: list[str] | None = None


class Device(Record):
    name: Name
    site: str
    role: Role
    model: str
    mgmt_address: IPv4Address
    vendor: Vendor | None = None  # filled from the model catalogue when omitted
    platform: str | None = None
    snmp_auth: str | None = None  # name in config.yaml auths.snmp; None = not polled by SNMP
    ssh_auth: str | None = None  # name in config.yaml auths.ssh
    status: Status = Status.ACTIVE
    parent: str | None = None  # a thin AP's controller
    serial: str | None = None
    asset_id: str | None = None
    firmware: str | None = None  # running version if known (ledger); else the model's
    extra_interfaces: list[Interface] = []  # beyond the model's ports: LoopBack0, Vlanif100...
    tags: list[str] = []
    # resolved by the loader from the model catalogue + extra_interfaces
    interfaces: tuple[Interface, ...] = ()

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, v: str | None) -> str | None:
        if v is not None and v not in PLATFORM_VENDOR:
            raise ValueError(f"unknown platform {v!r}; known: {', '.join(PLATFORM_VENDOR)}")
        return v

    def interface(self, name: str) -> Interface | None:
        for i in self.interfaces:
            if i.name == name:
                return i
        return None


# ---------------------------------------------------------------- links


class End(Record):
    device: str
    interface: str
    external: bool = False  # carrier side of an egress link: not ours, not in the inventory

    def __str__(self) -> str:
        return f"{self.device}:{self.interface}"


def _parse_end(v: Any) -> Any:
    # shorthand "device:interface" keeps per-site files readable
    if isinstance(v, str):
        dev, sep, ifname = v.partition(":")
        if not sep or not dev or not ifname:
            raise ValueError(f"expected 'device:interface' or a mapping, got {v!r}")
        return {"device": dev.strip(), "interface": ifname.strip()}
    return v


EndField = Annotated[End, BeforeValidator(_parse_end)]


class Link(Record):
    """A Link is an object with two ends (netbox)."""

    a: EndField
    b: EndField
    kind: LinkKind
    capacity_bps: Bps
    carrier: str | None = None  # egress links: China Telecom / Unicom / Mobile / CERNET
    description: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Link:
        if self.kind == LinkKind.EGRESS and not self.carrier:
            raise ValueError("an egress link needs a carrier")
        if self.kind != LinkKind.EGRESS and self.carrier:
            raise ValueError(f"carrier is only for egress links, not {self.kind.value}")
        if self.a.external:
            raise ValueError("end a must be our own device; put the carrier side in b")
        if self.b.external and self.kind != LinkKind.EGRESS:
            raise ValueError("only egress links may have an external end")
        return self

    @property
    def name(self) -> str:
        return f"{self.a}--{self.b}"

    def other(self, device: str) -> End:
        return self.b if self.a.device == device else self.a


# ---------------------------------------------------------------- intent (what drift checks expect)


class SnmpIntent(Record):
    v3_users: list[str] = []
    allowed_communities: list[str] = []  # v1/v2c communities allowed to exist (an allow-list)
    trap_hosts: list[IPv4Address] = []
    acl: str | None = None  # the ACL the agent must be bound to


class Intent(Record):
    ntp_servers: list[IPv4Address] = []
    loghosts: list[IPv4Address] = []
    log_level: str = "informational"
    snmp: SnmpIntent = SnmpIntent()
    management_acl: list[IPv4Network] = []  # golden ACL: bastion + NMS subnets
    aaa_servers: list[IPv4Address] = []
    firmware: dict[str, list[str]] = {}  # model -> approved versions
    admin_accounts: list[str] = []  # network-centre accounts allowed on every device
    hostname_pattern: str = NAME_RE.pattern

    @field_validator("hostname_pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"not a valid regular expression: {e}") from None
        return v
