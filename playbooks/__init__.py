"""Playbooks: per-vendor evidence gathering for the 等保 audit (which commands, which parsers).

Declarative files per platform land here with the SSH collection and audit work (issue 6); the
LLDP evidence for the topology checks is already gathered by collectors/ssh_lldp.py.
"""
