"""LLDP neighbours over SSH (netmiko drives the CLI, ntc-templates parse it): the second source
for the topology checks, and the one that works where SNMP's LLDP-MIB is not exposed.

Ruijie's RGOS prints `show lldp neighbors detail` in Cisco's layout and ntc-templates has no
Ruijie template for it: the Cisco one parses it. Cisco-style outputs name local ports in short
form (Gi1/0/1): they are mapped back to the inventory's names.
"""

from __future__ import annotations

from dataclasses import dataclass

from netmiko import ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException, ReadTimeout
from ntc_templates.parse import parse_output

from inventory import Device
from inventory.model import short_name

# platform -> (netmiko device type, command, ntc-templates platform, neighbour-port field)
LLDP = {
    "huawei_vrp": ("huawei", "display lldp neighbor", "huawei_vrp", "neighbor_port_id"),
    "hp_comware": ("hp_comware", "display lldp neighbor-information verbose", "hp_comware", "neighbor_interface"),
    "cisco_ios": ("cisco_ios", "show lldp neighbors detail", "cisco_ios", "neighbor_port_id"),
    "ruijie_os": ("ruijie_os", "show lldp neighbors detail", "cisco_ios", "neighbor_port_id"),
}


@dataclass
class SshLldp:
    device: str
    ok: bool
    neighbors: dict[str, tuple[str, str]]  # local port (inventory name) -> (neighbour, its port)
    error: str = ""


def _full_name(device: Device, local: str) -> str:
    names = {i.name for i in device.interfaces}
    if local in names:
        return local
    for i in device.interfaces:
        if short_name(i.name) == local.replace(" ", ""):
            return i.name
    return local


def lldp_over_ssh(device: Device, username: str, password: str, port: int = 22, timeout: float = 20) -> SshLldp:
    spec = LLDP.get(device.platform or "")
    if spec is None:
        return SshLldp(device.name, False, {}, f"{device.name}: no LLDP command known for platform {device.platform}")
    dtype, command, ntc_platform, port_field = spec
    try:
        with ConnectHandler(device_type=dtype, host=str(device.mgmt_address), port=port, username=username,
                            password=password, timeout=timeout, auth_timeout=timeout) as c:
            text = c.send_command(command, read_timeout=timeout)
    except NetmikoAuthenticationException:
        return SshLldp(device.name, False, {}, f"{device.name}: SSH authentication failed")
    except (NetmikoTimeoutException, ReadTimeout, OSError) as e:
        return SshLldp(device.name, False, {}, f"{device.name}: SSH {e.__class__.__name__}: {str(e)[:120]}")
    try:
        rows = parse_output(platform=ntc_platform, command=command if dtype != "ruijie_os" else "show lldp neighbors detail", data=text)
    except Exception as e:  # noqa: BLE001 - a template that cannot parse is reported, per device
        return SshLldp(device.name, False, {}, f"{device.name}: cannot parse `{command}`: {e}")
    out = {}
    for r in rows:
        local = _full_name(device, r.get("local_interface", ""))
        out[local] = (r.get("neighbor_name", ""), r.get(port_field, ""))
    return SshLldp(device.name, True, out)
