"""SSH collection: netmiko sessions that gather a playbook's evidence (collectors/ssh/session.py).

Host keys are checked against emanwatch's own known_hosts store: pinning a device's first key is
an explicit, logged choice (config `ssh.host_keys: pin-first-use`); a changed key is an error, and
with `strict` an unknown key is one too. Every session returns a CliCapture, failure included.
"""

from .session import CliCapture, HostKeys, capture, capture_many

__all__ = ["CliCapture", "HostKeys", "capture", "capture_many"]
