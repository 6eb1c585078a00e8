"""The restart-free switch path: a named Ray actor that carries switch decisions to running trials.

The extrapolation scheduler (in the driver) posts a decision for a trial; the trial's trainable
takes it right after its next ``tune.report`` returns and continues at the new batch size,
without a pause or a checkpoint restore (docs/design.md §7, restart-free variant).

Why the trainable always sees a decision in time: Tune's function trainables report
synchronously — ``tune.report`` blocks until the driver has processed the result (the scheduler's
``on_trial_result`` included) and asks for the next one. The scheduler posts with a blocking call
before it returns, so the decision is on the board before the trainable wakes up.

Rules:

- One board per Ray namespace, named :data:`BOARD_NAME` (a driver's jobs and their trial actors
  share the driver's namespace); it lives as long as the driver (not detached) and is pinned to
  the driver's node (``NodeAffinitySchedulingStrategy``, not soft): a lost worker node never
  takes it along, and it needs no CPU.
- A decision is ``(batch_size, accumulation_steps, report_index)``; the trainable applies it only
  when ``report_index`` equals its own number of reports (decided on its latest report), so a
  stale decision is dropped and none is applied twice (:meth:`SwitchBoard.take` removes it).
- The decision is persisted by the trial itself: the new batch size enters its schedule
  (``batch_size_schedule``, ``switches``), its checkpoint and every later report; the scheduler
  also writes it into the trial's config, so a trial restarted for any reason (retry, resume)
  continues with it.
- **Losing the board** (killed, its process dead, or hung) never fails a trial. Every call waits
  at most ``CALL_TIMEOUT_S`` (the errors of :func:`board_errors` are caught). The scheduler's
  :class:`BoardHost` then kills what is left of the board, creates a new one under the same name
  and posts again; if that fails too, the switch goes the restart path (pause, restore with the
  new config). The trainable's :class:`BoardClient` looks the board up again by name (finding
  the new one) and asks once more; a switch it still cannot get is missed, the trial trains on
  at its size, and the scheduler — seeing the old size in the next report — carries the switch
  out by a restart.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

logger = logging.getLogger(__name__)

#: Name of the board actor in the driver's Ray namespace.
BOARD_NAME = "tune_bs_switch_board"
#: Trial-config key naming the board a trial takes its switches from. The scheduler no longer
#: sets it (a trainable finds the board by name: :func:`running_board`); a config that has it
#: (an experiment started before) is still honoured.
BOARD_KEY = "_switch_board"
#: Trial-config key: the report index of the last switch applied to the trial (idempotency key).
SWITCH_AT = "_switch_at"

Switch = tuple[int, int, int]  # (batch_size, accumulation_steps, report_index)


class SwitchBoard:
    """Pending switch decisions by trial id (the actor's class; also usable as a plain object).

    Besides the pending switches it keeps, per trial, the report index the scheduler last
    decided on (a switch or not): :meth:`take_decided` — asked by the trainable *before* it
    reports — answers as soon as the decision on that report is in, so the trainable finds its
    answer waiting when ``tune.report`` returns (module rules: latency).
    """

    def __init__(self) -> None:
        self._pending: dict[str, Switch] = {}
        self._decided: dict[str, int] = {}
        self._waiting: dict[str, tuple[int, Any]] = {}  # trial id -> (report, asyncio.Event)

    def post(
        self, trial_id: str, batch_size: int, accumulation_steps: int, report_index: int
    ) -> bool:
        """Record the switch decided for ``trial_id`` after its ``report_index``-th report."""
        self._pending[trial_id] = (int(batch_size), int(accumulation_steps), int(report_index))
        self.decided(trial_id, report_index)
        return True

    def decided(self, trial_id: str, report_index: int) -> None:
        """The scheduler has decided on the trial's ``report_index``-th report (a switch is
        posted before this); a trainable waiting for that decision gets its answer."""
        self._decided[trial_id] = int(report_index)
        waiting = self._waiting.get(trial_id)
        if waiting is not None and waiting[0] == int(report_index):
            waiting[1].set()

    def take(self, trial_id: str, reports: int) -> Switch | None:
        """The trial's pending switch if it was decided on its report number ``reports``
        (removed either way: an older one is stale), else ``None``."""
        switch = self._pending.pop(trial_id, None)
        if switch is None or switch[2] != reports:
            return None
        return switch

    async def take_decided(self, trial_id: str, reports: int, wait_s: float) -> Switch | str | None:
        """:meth:`take`, once the decision on report ``reports`` is in; :data:`UNDECIDED` when
        it is not within ``wait_s`` seconds (the caller then asks :meth:`take` itself)."""
        import asyncio

        if self._decided.get(trial_id) != int(reports):
            event = asyncio.Event()
            self._waiting[trial_id] = (int(reports), event)
            try:
                await asyncio.wait_for(event.wait(), wait_s)
            except asyncio.TimeoutError:
                return UNDECIDED
            finally:
                if self._waiting.get(trial_id, (0, None))[1] is event:
                    del self._waiting[trial_id]
        return self.take(trial_id, reports)

    def forget(self, trial_id: str) -> None:
        """Drop what the board holds for a trial that (re)starts (an earlier run's decisions)."""
        self._pending.pop(trial_id, None)
        self._decided.pop(trial_id, None)

    def node(self) -> str:
        """The id of the Ray node this board runs on (as an actor: the driver's node)."""
        import ray

        return ray.get_runtime_context().get_node_id()


#: What :meth:`SwitchBoard.take_decided` answers when the decision did not come in time.
UNDECIDED = "undecided"
#: Seconds a call to the board may take before the caller treats the board as lost.
CALL_TIMEOUT_S = 10.0
#: Notices (BoardHost.decided) sent between two checks that they arrived.
NOTICES_CHECKED_EVERY = 64
#: Seconds a new board may take to start.
START_TIMEOUT_S = 60.0
#: Seconds to wait for a killed board's name to be free before a new board takes it.
RENAME_TIMEOUT_S = 10.0
#: Seconds the board waits for a decision a trainable asked for before it reported (longer
#: than a report's round through the driver; the trainable stops waiting after CALL_TIMEOUT_S
#: from the moment its report returns).
DECISION_WAIT_S = 120.0


def board_errors() -> tuple[type[BaseException], ...]:
    """Ray's errors of a lost or hung board: the actor died (``RayActorError``, including
    ``ActorDiedError``), cannot be reached (``ActorUnavailableError``) or did not answer in
    time (``GetTimeoutError``)."""
    from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError

    return (RayActorError, ActorUnavailableError, GetTimeoutError)


def running_board(name: str = BOARD_NAME) -> str | None:
    """``name`` when a board actor of that name runs in this Ray namespace (a scheduler that
    switches in place opens it before any trial starts), else ``None`` (no Ray here, or no such
    scheduler): how a trainable finds out that its switches come in place, without a key in
    its config."""
    try:
        import ray

        if not ray.is_initialized():
            return None
        ray.get_actor(name)
    except Exception:  # no such actor (ValueError), or no Ray here
        return None
    return name


def board_actor(name: str = BOARD_NAME) -> Any:
    """The board actor of this Ray namespace, created on first use on the caller's node."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    actor_class = ray.remote(num_cpus=0, max_restarts=0)(SwitchBoard)
    return actor_class.options(name=name, get_if_exists=True, scheduling_strategy=here).remote()


class BoardHost:
    """The scheduler's side (in the driver): creates the board, posts decisions, and replaces a
    lost board (module rules).

    Args:
        name: the board's actor name.
        timeout_s: seconds a post may take (a hung board counts as lost after that).
    """

    def __init__(self, name: str = BOARD_NAME, timeout_s: float = CALL_TIMEOUT_S) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self.replaced = 0  # boards created after a loss
        self._actor: Any = None
        self._notices: list[Any] = []  # decided() calls not yet known to have arrived

    def open(self) -> Any:
        """The board's actor handle (created on first use, and running when this returns: a
        new actor's start is not counted against ``timeout_s``)."""
        if self._actor is None:
            import ray

            actor = board_actor(self.name)
            ray.get(actor.node.remote(), timeout=START_TIMEOUT_S)
            self._actor = actor
        return self._actor

    def post(
        self, trial_id: str, batch_size: int, accumulation_steps: int, report_index: int
    ) -> bool:
        """Put a decision on the board (blocking); on a lost board, replace it and post once
        more. False when that fails too (the caller then switches by a restart)."""
        import ray

        args = (trial_id, batch_size, accumulation_steps, report_index)
        for attempt in (1, 2):
            try:
                return bool(ray.get(self.open().post.remote(*args), timeout=self.timeout_s))
            except board_errors() as exc:
                logger.warning(
                    "the switch board is lost (%s)%s",
                    _first_line(exc),
                    "; replacing it." if attempt == 1 else "",
                )
                self._replace()
        return False

    def decided(self, trial_id: str, report_index: int) -> None:
        """Tell the board, without waiting, that the decision on this report is no switch (a
        trainable that asked ahead gets its answer). Every ``NOTICES_CHECKED_EVERY`` notices
        the earlier ones are collected (a Ray call each time would cost more than the notice);
        a board found lost then (a notice failed) is replaced now."""
        import ray

        try:
            if len(self._notices) >= NOTICES_CHECKED_EVERY:  # collect the ones that arrived
                done, self._notices = ray.wait(
                    self._notices, num_returns=len(self._notices), timeout=0
                )
                ray.get(done, timeout=0)  # an error shows a lost board
            self._notices.append(self.open().decided.remote(trial_id, report_index))
        except board_errors() as exc:
            logger.warning("the switch board is lost (%s); replacing it.", _first_line(exc))
            self._replace()
            self._notices = []

    def _replace(self) -> None:
        """Kill what is left of the board, wait until its name is free, create a new one."""
        import ray

        if self._actor is not None:
            with contextlib.suppress(Exception):
                ray.kill(self._actor, no_restart=True)
        self._actor = None
        deadline = time.monotonic() + RENAME_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                ray.get_actor(self.name)
            except ValueError:
                break
            time.sleep(0.05)
        self.replaced += 1


class BoardClient:
    """The trainable's side: ask the board, after each report, for a switch of this trial.

    Args:
        name: the board's actor name (the trial config's ``_switch_board``).
        trial_id: this trial's id.
        timeout_s: seconds a call may take (a hung board counts as lost after that).
    """

    def __init__(self, name: str, trial_id: str, timeout_s: float = CALL_TIMEOUT_S) -> None:
        import ray

        self._ray = ray
        self._name = name
        self._trial_id = trial_id
        self._timeout_s = timeout_s
        self._actor: Any = None
        self._warned = False
        self._asked: tuple[int, Any] | None = None
        actor = self._find(quiet=True)
        if actor is not None:  # a restarted trial: nothing of its earlier run applies
            # Waited for: the board is an async actor, which may run calls out of submission
            # order, so a forget not yet done could let the next ask take an earlier decision.
            try:
                ray.get(actor.forget.remote(trial_id), timeout=timeout_s)
            except board_errors() as exc:
                self._actor = None
                self._warn(f"the switch board is lost ({_first_line(exc)})")

    def ask(self, reports: int) -> None:
        """Ask, before reporting, for the decision on this trial's ``reports``-th report; the
        answer is collected by :meth:`take` (no round trip after the report)."""
        self._asked = None
        actor = self._find()
        if actor is not None:
            try:
                ref = actor.take_decided.remote(self._trial_id, reports, DECISION_WAIT_S)
            except board_errors():
                self._actor = None
                return
            self._asked = (reports, ref)

    def take(self, reports: int) -> Switch | None:
        """The switch decided on this trial's ``reports``-th report, if any.

        The answer to :meth:`ask` when it asked for this report (waiting at most ``timeout_s``
        for it), else a plain request. ``None`` while the board cannot be found or reached (the
        trial keeps its size; see the module rules); a lost board is looked up again by name
        and asked once more.
        """
        asked, self._asked = self._asked, None
        if asked is not None and asked[0] == reports:
            try:
                answer = self._ray.get(asked[1], timeout=self._timeout_s)
            except board_errors() as exc:
                self._actor = None  # the scheduler replaces a lost board: look it up again
                self._warn(f"the switch board is lost ({_first_line(exc)})")
            else:
                if answer != UNDECIDED:
                    self._warned = False
                    return None if answer is None else tuple(answer)
        for _ in (1, 2):
            actor = self._find()
            if actor is None:
                return None
            try:
                switch = self._ray.get(
                    actor.take.remote(self._trial_id, reports), timeout=self._timeout_s
                )
            except board_errors() as exc:
                self._actor = None  # the scheduler replaces a lost board: look it up again
                self._warn(f"the switch board is lost ({_first_line(exc)})")
                continue
            self._warned = False
            return None if switch is None else tuple(switch)
        return None

    def _find(self, quiet: bool = False) -> Any:
        if self._actor is None:
            try:
                self._actor = self._ray.get_actor(self._name)
            except ValueError:
                if not quiet:
                    self._warn(f"switch board {self._name!r} not found")
        return self._actor

    def _warn(self, what: str) -> None:
        if not self._warned:
            logger.warning(
                "%s; this trial keeps its batch size until the board answers again "
                "(the scheduler switches it by a restart meanwhile).",
                what,
            )
            self._warned = True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
