"""Collectors: SNMP, SSH and probes. Each poll returns a result; a device's fault never raises."""
