"""Configuration backup: running configs kept with history in a local git repository.

Before a config is stored its secrets are masked (the playbook's `secrets`) and its volatile lines
dropped (`volatile`: timestamps, byte counts), so an unchanged device makes no commit and a diff
shows only real changes. One commit per backup run names the devices that changed. A change seen
outside every change window (config.yaml `ssh.change_windows`, China Standard Time) is flagged;
running vs saved is compared by the audit (BAK-01) on the same evidence.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from playbooks import Playbook

CST = timezone(timedelta(hours=8))
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class BackupError(RuntimeError):
    pass


@dataclass
class Backup:
    device: str
    site: str
    path: str  # in the repository
    changed: bool  # differs from the last stored version (a first backup is not a change)
    first: bool
    diff: str = ""  # unified diff, masked
    outside_window: bool = False


def in_window(t: float, windows: list[Any]) -> bool:
    """Is time t (epoch) inside one of the change windows (days + HH:MM range, CST; may cross midnight)?"""
    dt = datetime.fromtimestamp(t, CST)
    hm = dt.strftime("%H:%M")
    for w in windows:
        day, prev = DAYS[dt.weekday()], DAYS[(dt.weekday() - 1) % 7]
        if w.start <= w.end:
            if day in w.days and w.start <= hm < w.end:
                return True
        elif (day in w.days and hm >= w.start) or (prev in w.days and hm < w.end):
            return True  # a night window: Saturday 22:00 -> Sunday 06:00 belongs to Saturday
    return False


def changed_outside(since: float, now: float, windows: list[Any], step: float = 300.0) -> bool:
    """A change happened somewhere in (since, now]: was every moment of that span outside the windows?
    (If the span touches a window the change may have been approved: no alarm.)"""
    t = now
    while t > since:
        if in_window(t, windows):
            return False
        t -= step
    return not in_window(since, windows)


class ConfigHistory:
    """var/configs: <site>/<device>.cfg under git, and an index of when each last changed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.Lock()
        root.mkdir(parents=True, exist_ok=True)
        if not (root / ".git").exists():
            self._git("init", "-q")
            (root / ".gitignore").write_text("index.json\n", encoding="utf-8")  # bookkeeping, not history
        self.index_path = root / "index.json"
        self.index: dict[str, dict[str, Any]] = (
            json.loads(self.index_path.read_text(encoding="utf-8")) if self.index_path.exists() else {})

    def _git(self, *args: str) -> str:
        env = {**os.environ, "GIT_AUTHOR_NAME": "emanwatch", "GIT_AUTHOR_EMAIL": "emanwatch@localhost",
               "GIT_COMMITTER_NAME": "emanwatch", "GIT_COMMITTER_EMAIL": "emanwatch@localhost"}
        r = subprocess.run(["git", "-C", str(self.root), *args], capture_output=True, text=True, env=env, check=False)
        if r.returncode != 0:
            raise BackupError(f"git {' '.join(args[:2])} in {self.root}: {r.stderr.strip()[:300]}")
        return r.stdout

    def store(self, items: list[tuple[str, str, Playbook, str]], now: float, windows: list[Any]) -> list[Backup]:
        """items: (device, site, playbook, running config as read). Writes, commits once, returns per device."""
        out = []
        with self.lock:
            for device, site, pb, running in items:
                text = pb.stable(pb.mask(running))
                rel = f"{site}/{device}.cfg"
                p = self.root / rel
                old = p.read_text(encoding="utf-8") if p.exists() else None
                entry = self.index.setdefault(device, {"site": site, "last_backup": None, "last_change": None})
                b = Backup(device, site, rel, changed=old is not None and old != text, first=old is None)
                if old != text:
                    p.parent.mkdir(parents=True, exist_ok=True)
                    p.write_text(text, encoding="utf-8")
                if b.changed:
                    b.diff = "".join(difflib.unified_diff(old.splitlines(True), text.splitlines(True),  # type: ignore[union-attr]
                                                          f"a/{rel}", f"b/{rel}", n=1))
                    since = entry["last_backup"] or now
                    b.outside_window = changed_outside(since, now, windows)
                    entry.update(last_change=now, outside_window=b.outside_window, diff=b.diff[:4000])
                entry["last_backup"] = now
                out.append(b)
            self.index_path.write_text(json.dumps(self.index, ensure_ascii=False, indent=1), encoding="utf-8")
            changed = [b.device for b in out if b.changed or b.first]
            if changed:
                self._git("add", "-A")
                when = datetime.fromtimestamp(now, CST).strftime("%Y-%m-%d %H:%M CST")
                names = ", ".join(changed[:20]) + (f" and {len(changed) - 20} more" if len(changed) > 20 else "")
                self._git("commit", "-q", "-m", f"backup {when}: {len(changed)} device(s): {names}")
        return out

    def log(self, device: str, site: str, limit: int = 5) -> str:
        """`git log -p` of one device's config: what changed, when."""
        return self._git("log", f"-{limit}", "-p", "--date=iso", "--", f"{site}/{device}.cfg")

    def flagged(self, device: str, now: float, hold: float) -> bool:
        e = self.index.get(device, {})
        return bool(e.get("outside_window")) and e.get("last_change") is not None and now - e["last_change"] < hold
