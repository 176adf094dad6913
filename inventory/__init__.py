"""The inventory: the district's source of truth (sites, devices, links, intent)."""

from .loader import Inventory, load_inventory
from .model import (
    Admin,
    Device,
    District,
    End,
    HardwareModel,
    Intent,
    Interface,
    Link,
    LinkKind,
    Role,
    Site,
    SiteKind,
    Status,
    Vendor,
)
from .select import Selector, select
from .source import InputError, Problem

DEMO_PATH = __import__("pathlib").Path(__file__).parent / "demo"

__all__ = [
    "DEMO_PATH", "Admin", "Device", "District", "End", "HardwareModel", "InputError", "Intent",
    "Interface", "Inventory", "Link", "LinkKind", "Problem", "Role", "Selector", "Site", "SiteKind",
    "Status", "Vendor", "load_inventory", "select",
]
