"""Peer groups: which trials inform and may stop each other under the extrapolation scheduler.

Peers: the trials whose config equals this trial's apart from ``batch_size``,
``accumulation_steps``, ``seed`` and keys starting with ``_`` (stopped ones count as evidence;
only live ones can stop a trial). Trials that differ in anything else (e.g. ``lr``) never inform
or stop each other.

:class:`PeerGroups` is a mixin of
:class:`~tune_bs.schedule.extrapolation.ExtrapolationScheduler` and works on its state:
``_keys``, ``_trials``, ``_histories``, ``_finished``, ``_groups``, ``_peer_memo``,
``_last_metric``, ``_metric``, ``_mode`` and ``_curve_metric``.
"""

from __future__ import annotations

import json

from ray.tune.experiment import Trial

from tune_bs.schedule.switching import Peer
from tune_bs.schedule.trial_results import finite, start_size

#: Config keys that do not separate peers besides the batch size and accumulation steps (see the
#: module docstring).
NOT_GROUPING = frozenset({"seed"})


class PeerGroups:
    """Group trials by their config (less the keys a schedule changes) and build their peers."""

    def _group(self, trial: Trial) -> str:
        """The trial's config without the keys that do not separate peers (memoised: a switch
        changes only such keys)."""
        group = self._groups.get(trial.trial_id)
        if group is None:
            own = {self._keys.config_batch_size, self._keys.config_accumulation_steps}
            config = {
                k: v
                for k, v in trial.config.items()
                if k not in NOT_GROUPING | own and not str(k).startswith("_")
            }
            group = self._groups[trial.trial_id] = json.dumps(config, sort_keys=True, default=str)
        return group

    def _peers(self, trial: Trial) -> dict[str, Peer]:
        """The trial's group (trials yet to report included: they show the size they start at)."""
        group = self._group(trial)
        peers = {}
        for trial_id, other in self._trials.items():
            if trial_id == trial.trial_id or self._group(other) != group:
                continue
            history = self._histories.get(trial_id, ())
            alive = trial_id not in self._finished and other.status != Trial.ERROR
            start = start_size(other.config, self._keys)
            state = (len(history), history[-1] if history else None, alive, start)
            memo = self._peer_memo.get(trial_id)
            if memo is None or memo[0] != state:  # a Peer per new report, reused until then
                memo = (state, Peer(tuple(history), alive, start))
                self._peer_memo[trial_id] = memo
            peers[trial_id] = memo[1]
        return peers

    def _leads(self, trial: Trial) -> bool:
        """The trial's last value of the experiment's metric is the best of its group's (ties
        included) — when that metric is not the fitted curve's (rule 3's exception)."""
        if self._metric in (None, self._curve_metric):
            return False
        own = finite(self._last_metric.get(trial.trial_id))
        if own is None:
            return False
        group = self._group(trial)
        sign = 1.0 if self._mode == "max" else -1.0
        others = (
            finite(self._last_metric.get(trial_id))
            for trial_id, other in self._trials.items()
            if trial_id != trial.trial_id and self._group(other) == group
        )
        return all(v is None or sign * own >= sign * v for v in others)
