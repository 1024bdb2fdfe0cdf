"""Verdict cache keyed by (fragment key, candidate source, verifier settings): a fragment candidate seen
before -- in this program, another program, or an earlier run -- costs nothing.

An in-memory dict, optionally backed by an append-only JSON-lines file under --cache-dir (one record
per line; a torn last line from a killed run is skipped on load).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

CACHE_FILE = "verdicts.jsonl"


def candidate_key(fragment_key: str, source: str, settings: str) -> str:
    h = hashlib.sha256()
    for part in (fragment_key, source, settings):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


class VerdictCache:
    """Maps a candidate key to a verdict record (the verdict's JSON plus the fragment key)."""

    def __init__(self, folder: Path | None = None):
        self._mem: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._path = Path(folder) / CACHE_FILE if folder else None
        self.hits = 0
        self.misses = 0
        if self._path and self._path.exists():
            for line in self._path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                    self._mem[rec["key"]] = rec["verdict"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a torn line from a killed run

    def get(self, key: str) -> dict | None:
        with self._lock:
            rec = self._mem.get(key)
            if rec is None:
                self.misses += 1
            else:
                self.hits += 1
            return rec

    def put(self, key: str, verdict_json: dict) -> None:
        with self._lock:
            self._mem[key] = verdict_json
            if self._path:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                # Appending one short line is atomic enough for a cache: readers skip a torn tail.
                with open(self._path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"key": key, "verdict": verdict_json}) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())

    def __len__(self) -> int:
        return len(self._mem)
