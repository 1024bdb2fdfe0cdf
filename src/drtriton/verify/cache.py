"""Verdict cache: SQLite keyed by sha256(problem, candidate, config, versions).

    cache = VerdictCache(Path("~/.cache/drtriton/verdicts.sqlite").expanduser())
A candidate already verified under the same config and versions gets the stored verdict back.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

from drtriton.util.provenance import Provenance
from drtriton.verify.config import VerifyConfig
from drtriton.verify.verdict import Verdict


def cache_key(problem_src: str, candidate_src: str, config: VerifyConfig) -> str:
    prov = Provenance.here()
    versions = [prov.drtriton, prov.torch, prov.triton, prov.numpy, prov.python, prov.device]
    h = hashlib.sha256()
    for part in (
        problem_src,
        candidate_src,
        json.dumps(config.to_json(), sort_keys=True),
        json.dumps(versions),
    ):
        data = part.encode()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


class VerdictCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, verdict TEXT NOT NULL)"
            )

    def get(self, key: str) -> Verdict | None:
        with self._lock:
            row = self._db.execute("SELECT verdict FROM verdicts WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        data["cached"] = True
        return Verdict.from_json(data)

    def put(self, key: str, verdict: Verdict) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO verdicts (key, verdict) VALUES (?, ?)",
                (key, json.dumps(verdict.to_json())),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
