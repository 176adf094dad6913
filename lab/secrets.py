"""The lab's credentials: created once, random, in the files config.yaml references.

The lab agents and emanwatch's collectors read the same files, so the demo runs with real
authentication and no password is ever written into the repository.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from emanwatch.config import Config

LAB_COMMUNITY = "emanwatch-lab"  # not `public`: that one is itself a 等保 finding (IPS-03)


def ensure_lab_secrets(cfg: Config) -> list[Path]:
    """Create every missing `file:` secret the config references; return the files created."""
    created = []
    for key, ref in cfg.secret_refs():
        kind, _, what = ref.partition(":")
        if kind != "file":
            continue
        path = cfg.path(what)
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        value = LAB_COMMUNITY if key.endswith(".community") else secrets.token_urlsafe(12)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
        created.append(path)
    return created
