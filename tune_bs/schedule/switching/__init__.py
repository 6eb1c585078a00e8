"""The batch-size switching policy of the extrapolation scheduler, as a pure function (no Ray).

This docstring is the one statement of the rule; the scheduler
(:mod:`tune_bs.schedule.extrapolation`) and the documentation (``docs/guide/scheduler.md``, the
API reference's "The switching rule") link here.

:func:`decide` maps a trial's history, its peers' histories and :class:`SwitchSettings` to a
:class:`Decision` (``continue`` / ``switch`` / ``stop``). It keeps no state: replaying the same
history recomputes the same decision, and each decision carries the ``report_index`` it belongs
to, so a restarted scheduler can refuse to apply one twice.

Units: ``samples_seen`` in training samples; ``time_s`` in the trial's own seconds of training
and evaluation (its float ``trial_time_s``); ``val_loss`` in loss units, lower is better and
comparable across batch sizes (the training loss is not). Batch sizes are *effective* (loader
batch × accumulation steps). *Rivals* are every other trial of the search: all report the same
metric on the same x-axis, whatever their other hyperparameters (a search over ``lr`` and more
is the common case), each with a samples budget of its own. *Peers* are the rivals that *pool*
with this trial (``Peer.pools``): configs that differ only in the batch size (the scheduler
chooses it), the accumulation steps and the seed; their curves inform this trial's estimates,
pace and exploration (rules 6–9); stopped ones still count as evidence. A rival's reports after
this trial's last one (on the shared float clock ``wall_time``) are ignored, so a replay sees the
population as it was. A *segment* is a maximal
run of reports at one batch size; its curve is fitted with
:func:`tune_bs.schedule.curves.fit_curve` on ``x`` = samples since the report before the segment.
*Pace*: seconds per training sample at a loader batch ``b``, from the cost model of
:mod:`tune_bs.schedule.switching.throughput` (``a + c₀/b`` fitted over all report intervals of the
trial and its peers; a loader's own median once it has 3 intervals).
*Floor*: no fitted curve goes below ``curve_floor`` (every family's asymptote is fitted at or
above it, the band's lower end is cut there: :mod:`tune_bs.schedule.curves`); the scheduler
states it from the metric's range — 0 for a loss, −1 for a maximised accuracy (negated) —
unless the user does (``ReportKeys.val_loss_range``); a metric of unknown range is unbounded.
*Samples left*: the trial's ``budget_samples`` less ``samples_seen``. *Switch cost*: the median
measured over the trial's own switches (on its own clock, plus the overhead beyond a usual
interval on the shared clock; each only beyond 2 robust standard deviations of the trial's other
intervals, so one slow interval is not a cost), else its peers', else ``switch_cost_s`` (default
0.001 s in place, 2 s by restart).
*Band*: a curve extrapolated to ``x`` gives a mean and ``mean ± band_z·std``, its ``std``
widened by ``1 + band_depth_gain·depth`` (``depth``: sample ranges of its own data it is carried
beyond its last point; :meth:`tune_bs.schedule.curves.CurveFit.extrapolate`). The default gain
1.5 makes the ±2 std band hold the final ``val_loss`` of 96 % of the development seeds' grid
trials, in every depth bin (78 % without it); on the held-out seeds 98 % (87 %).
*Flat* (budget objective, ``flat_when_unfitted``, default on): a current segment of at least
``segment_reports`` reports whose fit is refused (no family decreases beyond its noise) is taken
as level — its loss is the mean of its last ``segment_reports`` reports, its expected end that
mean, its *reach* (rule 3) that mean less ``band_z`` standard deviations of those reports. Such
a trial can be stopped and left like any other; it gives no curve to its peers.

*Objective* (``objective``). ``"budget"`` (default): each trial runs to a budget of samples, so
a size is worth what it leaves at the end of that budget — the lowest ``val_loss`` the trial can
reach in its samples left first, then the fewest seconds to get there. ``"speed"``: the size
that lowers the loss fastest per second, for a user who asks how soon a loss is reached and
whose budgets do not bind. Without a known budget (``budget_samples``) the speed rules apply.
Why the default: in the stored grid runs of the real-data benchmark
(``benchmarks/schedulers.py``, seeds 0–4), a trial's curve fitted on 5 of its 16 reports and
extrapolated to the end of its budget ranks two trials' final ``val_loss`` right in 71 of 137
pairs (8 reports: 82/136; 11 reports: 99/125): the speed objective's early stops at equal
compute killed the trials that end best, and its choice per second left the sample-efficient
sizes.

The rule, on the trial's ``n``-th report (``report_index = n``), first match wins:

Each decision names its rule (:class:`Rule`; callers branch on it, never on the text of
``Decision.reason``, which states the figures compared).

1. **Diverged.** The last ``val_loss`` is NaN or ±inf → ``stop`` (``Rule.DIVERGED``).
2. **Grace.** ``n < grace_reports`` (default 2) → ``continue``.
3. **Stop a trial that cannot end well.** *Budget objective* (the default): the trial's
   *reach* — its current curve at the end of its **own** budget, lower end of the ``band_z``
   band (so the deeper the extrapolation, the wider; *Band*), or a *flat* segment's mean less
   ``band_z`` stds — is compared with each rival's *expected end*: the rival's current curve at
   the end of **its** budget (point estimate), else its last loss; rivals are the live ones and
   those that finished their budget (a trial stopped early stops no one). The trial is stopped
   when its reach is above a rival's expected end by more than
   ``max(stop_margin·(L_ref − end), floor) + drop`` (for a peer at the same batch size, a
   duplicate, ``floor + drop``) **and** it is behind that rival at equal compute (as in the
   speed objective below) by as much: a rival's expected end may be a deep extrapolation's
   optimism, its loss at equal compute is not (on the development replay of TaskSet curves this
   kept the chosen trial's regret at ASHA's, at 0.19–0.21× of fifo's compute against 0.17–0.19×
   without it and ASHA's 0.29–0.32×); ``L_ref`` is the *median* first-reported loss of the trial
   and its rivals (the highest let one exploding learning rate widen the margin until nothing
   was stopped), ``floor`` = ``stop_noise_z`` × the median residual standard deviation of their
   current-segment fits (``inf``, so no stop, while none can be fitted), and ``drop`` the *late
   drop*: the median, over rivals that finished their budget, of how far each ended below its
   own curve fitted up to the fraction of its budget this trial has run (0 without one). Curves
   may fall late, when a decaying learning rate ends — no family foresees that; a search whose
   finished trials did so widens the margin by as much. Evidence first: no stop before the
   trial's current size has a curve or is flat (``segment_reports`` reports at it), nor within
   ``grace_reports``; ``min_alive`` rivals must beat it on each of the last
   ``stop_confirm_reports`` reports.
   *Speed objective*: the trial is dominated by a live rival ``j`` that is ahead at equal
   compute: if ``j`` has run no longer (``t_j ≤ t``), ``j``'s loss at ``t_j`` against this
   trial's at ``t_j`` (each the current segment's fitted curve inside that segment, else the
   reports interpolated); otherwise ``j``'s loss at ``τ = min(t_j, t·(1+stop_horizon))`` against
   this trial's *extrapolation* to ``τ`` (its curve advanced at its pace, lower end of the
   band); worse by more than ``max(stop_margin·(L_ref − L_j), floor)`` (``floor`` for a peer at
   the same size). Stop when ``min_alive`` rivals dominate it.
4. **Measure.** Fewer than ``segment_reports`` (default 5) reports at the current size →
   ``continue``.
5. **Judge the last switch**, during its first ``2·segment_reports`` reports (the *window*),
   unless it was a switch back. The curve left behind (its last ``judge_window`` reports) is
   extrapolated over the training time spent since (samples at the new pace, converted to the
   old pace; the one-off switch cost is sunk) — under the *budget objective* over the same
   samples, since the budget is in samples — and compared with the new segment's fitted loss,
   report by report: below it by ``judge_z`` combined standard deviations (the extrapolation's
   widened as in *Band*) keeps the size (*good*); above it by as much switches back (*bad*); in
   between the switch is *pending* → ``continue``, and at the end of the window the sign of the
   last comparison decides (below the extrapolation: kept; not below: back). Under the budget
   objective a switch to a faster loader is also good when it ends within ``end_margin`` of the
   decrease the old curve makes over those samples (it was made for speed). When it cannot be
   judged at all (a curve cannot be fitted, a pace is unknown) it is kept unless, at the end of
   the window, the loss is not below the loss at the switch — then back. A size switched back
   from is *tabu* for ``tabu_reports·2^(k−1)`` reports after its ``k``-th revert, and a switch
   there by rules 8–9 is made only while the samples left hold ``segment_reports + 1`` reports
   (so a new verdict on it can still be acted on): a trial never ends at a size its own judged
   evidence says ends worse.
6. **Explore**, on evidence. (``explore``, default on) A candidate size nothing covers — not one
   of the trial's own segments of ``segment_reports`` reports, not a size any peer has reported
   at (a peer stopped early at a size is evidence against it) or a waiting peer starts at — is
   visited, one at a time: the nearest the current size (in log₂ of the size; larger first on a
   tie), for one segment, and **judged** by rule 5 like any switch (no visit follows another
   before its verdict: no ramp). The trial's own verdicts rule sizes out: a size it switched
   back from and every candidate beyond it (seen from the size it returned to) is never
   visited, nor the size it left by a switch it kept and every candidate beyond that. A visit
   starts only while ``samples_seen ≤ explore_until · budget_samples`` (default half the
   budget), when the samples left hold ``segment_reports + 1`` reports (a verdict that can
   still be acted on before the end), and
   when two switches (there and back) cost less than ``switch_margin`` of the seconds left. A
   grid over the candidate sizes explores nothing.
7. **Estimates.** For each candidate size ``B`` with a usable curve — the trial's own or a
   peer's (curves at one size share one autonomous law ``dL/dS = −g_B(L)``, so a peer's curve
   informs this trial), the one extrapolated least deep: *depth* = how far beyond its last
   point, in units of its own ``x`` range, it reaches the current level ``L`` (the current
   segment's fitted loss; ≤ 0 is interpolation; curves above ``L`` or deeper than
   ``max_depth`` do not count) — the expected loss decrease per second over the next
   ``T`` seconds, ``T`` the time the current loader takes for one segment's worth of samples
   (``segment_reports`` report intervals, at most the samples left):
   ``v_B = [L − L_B(L, T / pace(B))] / T``, with ``L_B(L, s)`` the loss after ``s`` more
   samples along ``B``'s law (:meth:`CurveFit.advance`; for a candidate, the most pessimistic
   family of Akaike weight ≥ ``plausible_weight``; for the current size its own current curve).
   Equal seconds, not equal samples, and a short look-ahead, not the whole budget: the size
   that lowers the loss fastest at each level is the one that reaches any target soonest
   (``T → 0`` is the instantaneous speed ``g_B(L)/pace(B)``), and over a long budget every size
   nears the asymptote, so the fastest loader would win whatever its sample efficiency.
8. **Switch.** The best non-tabu candidate beats the current size's ``v`` by more than
   ``switch_margin`` (relative) → ``switch``, when its estimate is *fresh* (depth ≤
   ``fresh_depth`` for a larger batch; interpolation, depth ≤ 0, for a smaller one); a deeper
   estimate for a larger batch is a hint that triggers a probe (a switch judged by rule 5)
   after ``probe_every`` reports at the current size. Either only when the seconds it saves
   over the seconds left, ``H·(1 − v_now/v_best)`` (``H`` = samples left × the current pace),
   exceed the switch cost (twice it for a probe, which may be reverted). Extrapolating a curve
   far below its range ignores the growth of the gradient-noise scale, hence the caution, and
   smaller batches need evidence.
   *Budget objective* (rules 7–8 instead; a *flat* current size expects no decrease): each
   candidate's (and the current size's) expected *end* — the loss after the samples left along its
   law from ``L`` — and the seconds those samples take at its pace. A size *reaches* the best end
   ``E*`` (the lowest of them) when it ends at most ``end_margin`` (default 0.05) × ``(L − E*)``
   above it; the current size reaches it when the lower end of its ``band_z`` band does (it is left
   only on clear evidence). The target is the fastest reaching candidate with a fresh estimate (no
   probes): taken when the current size does not reach ``E*`` and a switch costs less than
   ``switch_margin`` of the seconds left, or when it does and the target finishes faster by more
   than ``switch_margin`` (relative) and by more seconds than a switch costs.
9. **Probe.** The next larger candidate has no usable curve, the trial has run ``probe_every``
   reports at its size and the current curve's relative progress per sample
   ``−(dL/dS)/(L − c)`` has fallen by ``probe_slowdown`` (default 1.4×) since the segment began
   (under the empirical model of large-batch training, McCandlish et al. 2018, that is the
   growth of ``B + B_noise``), two switches cost less than ``switch_margin`` of the seconds
   left, and (``probe_gate``, default on) the noise-scale estimate does not say the larger size
   is slower → ``switch`` to it. (Speed objective only.) *The gate*: in that model
   ``r_B(L) = −(dL/dS)/(L − c) = η/(B + B_noise(L))`` with ``η`` shared by the group, so two
   fitted segments at different sizes (the trial's or its peers') over a common loss range give
   ``η = (B₁ − B₂)/(1/r₁ − 1/r₂)`` at its middle (the median over all such pairs), the trial's own
   current curve gives ``B_noise = η/r_b(L) − b``, and the larger size ``t`` lowers the loss
   faster per second when ``(b + B_noise)·pace(b) > (t + B_noise)·pace(t)``; the probe is
   skipped when it does not, and made as before when no pair overlaps
   (:mod:`~tune_bs.schedule.switching.noise_scale`). Chosen on the simulator's tuning settings,
   where it raised ``gain_over_best_fixed`` from 1.000 to 1.007 (``benchmarks/simulator.py``).
10. Otherwise ``continue``.

``switching: false`` (an ablation, not a policy: it tells the switching rules' effect from the
stopping rule's) applies rules 1–3 only: a trial keeps its size to the end unless stopped.

A switch that would move this trial to a batch size where a live peer is already ahead at equal
compute (by more than ``floor``) stops the trial instead (it would only duplicate that peer).
Budget objective: a peer there, ahead at equal compute and expected to end lower than this
trial's expected end at that size, by more than ``floor``.

Second action (``action="accumulation"``): effective size ``B`` runs as loader batch
``b = min(B, max_loader_batch_size)`` (default: the trial's first loader batch) with
``accumulation_steps = B // b``; decisions carry both numbers.

Cost: one warm-started curve fit per new report of a segment (~0.3–0.5 ms), the cost model and
a few closed-form curve evaluations per candidate; everything reusable lives in the
:class:`FitCache` (:mod:`tune_bs.schedule.switching.memo`).

Modules: :mod:`~tune_bs.schedule.switching.types` (reports, peers, decisions, settings, segments),
:mod:`~tune_bs.schedule.switching.memo`, :mod:`~tune_bs.schedule.switching.throughput` (pace and
switch costs), :mod:`~tune_bs.schedule.switching.view` (one decision's view),
:mod:`~tune_bs.schedule.switching.stopping` (rule 3), :mod:`~tune_bs.schedule.switching.judging`
(rule 5), :mod:`~tune_bs.schedule.switching.exploring` (rules 6, 9),
:mod:`~tune_bs.schedule.switching.noise_scale` (rule 9's gate),
:mod:`~tune_bs.schedule.switching.choosing` (rules 7, 8), :mod:`~tune_bs.schedule.switching.decide`.
"""

from tune_bs.schedule.switching.decide import decide
from tune_bs.schedule.switching.memo import FitCache
from tune_bs.schedule.switching.types import (
    INPLACE_SWITCH_COST_S,
    RESTART_SWITCH_COST_S,
    Decision,
    Peer,
    Report,
    Rule,
    Segment,
    SwitchSettings,
)

__all__ = [
    "INPLACE_SWITCH_COST_S",
    "RESTART_SWITCH_COST_S",
    "Decision",
    "FitCache",
    "Peer",
    "Report",
    "Rule",
    "Segment",
    "SwitchSettings",
    "decide",
]
