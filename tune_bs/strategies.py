"""Registry of batch strategies (DESIGN §2), selected by the trial config key ``strategy``.

Implemented so far: ``fixed`` — a fixed batch size for the whole trial (changed only by a
scheduler's switch). The other strategies of the design (``cluster_count``, ``stratified``,
``accumulate``, ``weighted``) are added here as they land; until then their names are refused
with the list of valid ones.
"""

from __future__ import annotations

STRATEGIES: dict[str, str] = {
    "fixed": "a fixed batch size for the whole trial",
}
