"""The random-search workloads of the scheduler benchmark (``schedulers.py --suite random``).

Most Ray Tune users run a random or Bayesian search over the learning rate and more, not a grid
over the batch size (issue #31, item 7). Two workloads, each a search-space file whose
``schedulers`` sections name the methods:

- ``search_spaces/random_search.yaml``: GunPoint, 12 trials sampling ``lr`` (log-uniform
  1e-4–1e-1), ``temperature`` (log-uniform 0.05–1), ``hidden`` (16, 32, 64) and ``batch_size``
  (4–32), 40 epochs in 16 reports;
- ``search_spaces/random_search_synthetic.yaml``: the synthetic generator (1 843 training series,
  4 modes), the same parameters (batch sizes 8–64), 8 000 samples in 16 reports.

Methods (:data:`METHODS`): ``fifo`` (every trial runs its budget), ``asha``, ``median`` (the
median stopping rule) and ``extrapolation``, each the file's section. On each (workload, seed)
every method runs the same trials: the search's seed, the trials' ``seed`` and the data draw are
the benchmark seed. **A seed draws new data**: ``dataset.seed`` is set to it, which draws the
validation split (and, for the synthetic set, the generator's series) anew
(:func:`tune_bs.data.load_dataset`); the files themselves, run with ``tune-bs run``, keep seed 0.

Figures per experiment come from ``schedulers.measure``: the total compute in the trials' own
seconds, the samples trained (each trial's last ``samples_seen``, summed) and the reports made;
the selected trial's ``val_loss`` and its ``test_probe_acc`` (read for the trial chosen on
validation, never used to choose). :func:`summary_table` gives, per workload and method, the
medians over seeds; :func:`goals` the goals of issue #31 for the candidate against ASHA, per
workload: median compute ≤ ASHA's, and median selected ``val_loss`` no worse than ASHA's.

Compute in the goals is **samples trained**, not seconds: on the shared 2-core machine the
seconds of identical work vary by tens of percent with the load (in one smoke run fifo and the
extrapolation scheduler trained the same 360 samples, with no stop and no switch, in 9.8 and 13.7
trial seconds, at a load average of 10), while on a CPU the FCN trains about as many series per
second at every batch size (docs/design.md §8) and every report's evaluation is the same work in
every method, so samples and reports count the work. Seconds are shown beside them; they also
hold what samples do not, such as the restarts of trials the median stopping rule pauses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scheduler_figures import Goal

from tune_bs.search.space import SearchSpace, parse_space

SPACES = Path(__file__).resolve().parents[1] / "search_spaces"
METHODS = ("fifo", "asha", "median", "extrapolation")
CANDIDATE = "extrapolation"
BASELINE = "asha"
#: ``--smoke-test``: trials and budget of every experiment.
SMOKE_TRIALS = 3
SMOKE_BUDGET = {"epochs": 3, "reports": 3}


@dataclass(frozen=True)
class RandomWorkload:
    """A random-search file, the data set it runs on and its default number of seeds."""

    file: str
    dataset: str
    seeds: int


WORKLOADS = {
    "random_gunpoint": RandomWorkload("random_search.yaml", "GunPoint", 5),
    "random_synthetic": RandomWorkload("random_search_synthetic.yaml", "synthetic", 5),
}
SMOKE_WORKLOAD = "random_gunpoint"


def method_space(
    workload: RandomWorkload,
    seed: int,
    method: str,
    smoke: bool = False,
    overrides: dict[str, Any] | None = None,
) -> SearchSpace:
    """The search space of one experiment: ``workload``'s file with ``method``'s scheduler
    section, the search's seed, the trials' seed and the data draw (``dataset.seed``) all set to
    ``seed``; ``overrides`` change options of the ``extrapolation`` section only."""
    raw = yaml.safe_load((SPACES / workload.file).read_text())
    sections = {section["name"]: section for section in raw.pop("schedulers")}
    sections[CANDIDATE] = {**sections[CANDIDATE], **(overrides or {})}
    if method not in sections:
        raise ValueError(f"unknown method {method!r}; the methods are {', '.join(sections)}")
    raw["scheduler"] = sections[method]
    raw["name"] = f"{method}-random-{workload.dataset}-s{seed}"
    raw["seed"] = raw["param_space"]["seed"] = seed
    raw["dataset"] = {**raw["dataset"], "seed": seed}
    if smoke:
        raw["num_samples"] = SMOKE_TRIALS
        raw["budget"] = dict(SMOKE_BUDGET)
    return parse_space(raw, source=workload.file)


def plan(
    smoke: bool, seeds: int | None, first_seed: int, datasets: Sequence[str] | None
) -> list[tuple[RandomWorkload, str, int]]:
    """(workload, data set, seed) of every experiment group to run."""
    if smoke:
        workload = WORKLOADS[SMOKE_WORKLOAD]
        return [(workload, workload.dataset, 0)]
    out = []
    for workload in WORKLOADS.values():
        if datasets and workload.dataset not in datasets:
            continue
        count = workload.seeds if seeds is None else seeds
        out += [(workload, workload.dataset, s) for s in range(first_seed, first_seed + count)]
    return out


# --- figures ------------------------------------------------------------------------------------
def with_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (one row per experiment) with, per row, its samples trained ÷ fifo's and ÷
    ASHA's and its seconds ÷ ASHA's on the same data set and seed, and its selected validation
    value less ASHA's (``val vs asha``); NaN where that experiment is missing."""
    keyed = frame.set_index(["dataset", "seed", "method"])

    def of(row: Any, method: str, column: str) -> float:
        key = (row.dataset, row.seed, method)
        return float(keyed.at[key, column]) if key in keyed.index else np.nan

    out = frame.copy()
    rows = list(frame.itertuples())
    out["samples / fifo"] = [r.total_samples / of(r, "fifo", "total_samples") for r in rows]
    out["samples / asha"] = [r.total_samples / of(r, BASELINE, "total_samples") for r in rows]
    out["seconds / asha"] = [r.total_compute / of(r, BASELINE, "total_compute") for r in rows]
    out["val vs asha"] = [r.selected_val - of(r, BASELINE, "selected_val") for r in rows]
    return out


def summary_table(frame: pd.DataFrame, methods: Sequence[str]) -> pd.DataFrame:
    """Per data set (then over all) and method: the seeds, then medians over the seeds of the
    samples trained, of their ratio to fifo's and to ASHA's on the same seed
    (:func:`with_pairs`), of the reports, of the total trial seconds and their ratio to ASHA's,
    of the selected trial's ``val_loss`` and its difference to ASHA's selected one (negative:
    lower), of the selected trial's ``test_probe_acc`` (reported only), of the trials stopped
    and of the switches."""
    frame = with_pairs(frame)
    rows = []
    groups = [*dict.fromkeys(frame["dataset"]), "all"]
    for dataset in groups:
        part = frame if dataset == "all" else frame[frame["dataset"] == dataset]
        for method in methods:
            runs = part[part["method"] == method]
            if runs.empty:
                continue
            rows.append(
                {
                    "dataset": dataset,
                    "method": method,
                    "seeds": len(runs),
                    "median samples trained": runs["total_samples"].median(),
                    "median samples / fifo": runs["samples / fifo"].median(),
                    "median samples / asha": runs["samples / asha"].median(),
                    "median reports": runs["reports"].median(),
                    "median trial seconds": runs["total_compute"].median(),
                    "median seconds / asha": runs["seconds / asha"].median(),
                    "median selected val_loss": runs["selected_val"].median(),
                    "median selected val vs asha": runs["val vs asha"].median(),
                    "median selected test_probe_acc": runs["selected_test"].median(),
                    "median trials stopped": runs["trials_stopped"].median(),
                    "median switches": runs["switches"].median(),
                }
            )
    return pd.DataFrame(rows)


def goals(frame: pd.DataFrame, mode: str = "min", candidate: str = CANDIDATE) -> list[Goal]:
    """Per data set, the candidate against ASHA: median samples trained over the seeds ≤ ASHA's
    (module docstring: why samples), and median selected validation value no worse than ASHA's
    (``mode``: which way is better)."""
    out = []
    for dataset, part in frame.groupby("dataset", sort=False):
        mine = part[part["method"] == candidate]
        asha = part[part["method"] == BASELINE]
        if mine.empty or asha.empty:
            continue
        seeds = f"median over {len(mine)} seeds"
        c_mine, c_asha = mine["total_compute"].median(), asha["total_compute"].median()
        s_mine, s_asha = mine["total_samples"].median(), asha["total_samples"].median()
        out.append(
            Goal(
                f"{dataset}: compute (samples trained) <= ASHA's",
                f"{candidate} {s_mine:.0f} samples ({c_mine:.1f} trial-s), asha {s_asha:.0f} "
                f"samples ({c_asha:.1f} trial-s), {seeds}",
                bool(s_mine <= s_asha),
            )
        )
        v_mine, v_asha = mine["selected_val"].median(), asha["selected_val"].median()
        no_worse = v_mine <= v_asha if mode == "min" else v_mine >= v_asha
        out.append(
            Goal(
                f"{dataset}: selected trial's validation metric no worse than ASHA's",
                f"{candidate} {v_mine:.4f}, asha {v_asha:.4f}, {seeds}",
                bool(no_worse),
            )
        )
    return out


# --- outputs ------------------------------------------------------------------------------------
CSV_FILE, MARKDOWN_FILE = "schedulers_random.csv", "schedulers_random.md"


def write_outputs(
    frame: pd.DataFrame,
    methods: Sequence[str],
    out: Path,
    cpus: int,
    timing: str,
    notes: Sequence[str] = (),
) -> tuple[list[Path], pd.DataFrame, list[str]]:
    """Write :data:`CSV_FILE` (one row per experiment, with :func:`with_pairs`' columns) and
    :data:`MARKDOWN_FILE` (a header, :func:`summary_table`, the goals) to ``out``; return the
    paths, the table and the goal lines."""
    table = summary_table(frame, methods)
    goal_lines = [goal.line() for goal in goals(frame)]
    header = [
        "# Scheduler benchmark, random searches (benchmarks/schedulers.py --suite random)",
        "",
        f"{len(frame)} experiments, {cpus} CPUs (one per trial), metric val_loss (min); every "
        "method runs the same trials on each seed, and each seed draws its own data (validation "
        "split; synthetic series). Compute = the trials' own seconds of work (trial_time_s "
        "increments; Ray's time_this_iter_s for a restart); samples trained = each trial's last "
        "samples_seen, summed. The selected trial is chosen on val_loss; its test_probe_acc is "
        f"only reported. {timing}",
        *notes,
    ]
    from tune_bs.report.formats import render

    out.mkdir(parents=True, exist_ok=True)
    csv, markdown = out / CSV_FILE, out / MARKDOWN_FILE
    with_pairs(frame).to_csv(csv, index=False)
    markdown.write_text(
        "\n".join(
            [*header, "", render(table, "markdown"), "", *[f"- {line}" for line in goal_lines], ""]
        )
    )
    return [csv, markdown], table, goal_lines
