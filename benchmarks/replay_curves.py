"""Pools of public learning curves for the replay benchmark (``benchmarks/replay.py``).

A *pool* is what one random search of a user would have trained: ``n`` configurations of one
task, each with its validation curve (one value per report) and the hyperparameters that made
it. :class:`CurvePool` holds one; :func:`load_pools` reads the committed file
``benchmarks/data/taskset_pools.npz``; :func:`build_taskset_pools` made it (``python
benchmarks/replay_curves.py --from-git DIR``) from a clone of the public repository
``machinelearningnuremberg/DPL`` (its ``data/taskset/*.json``; ``benchmarks/data/README.md``
names the commit, the paths and the licence).

The TaskSet curves (Metz et al. 2020, "Using a thousand optimization tasks to learn
hyperparameter search strategies", as the DPL authors exported them): 12 text-classification
RNN tasks on IMDB, 1,000 Adam configurations each (8 hyperparameters, drawn at random from a wide
range by TaskSet's authors), 51 validation-loss values per configuration (cross-entropy in nats,
lower is better; the mean of 5 replicas), over 10,000 training steps at the task's batch size (the
``bsNN`` in its name). The first value is taken as the loss before training (step 0); a replay
reports the other 50, one every 200 steps. Some curves diverge (NaN, inf or values of 1e17 and
more): they are kept, as a real search has them.

File format (``numpy.savez_compressed``, no pickled objects): ``task`` [P] (str), ``curves``
[P, n, 51] float32, ``config_index`` [P, n] (the configuration's position in the task's JSON
file), ``hyperparameters`` [P, n, H] float64, ``hp_names`` [H] (str), ``batch_size`` [P],
``steps_per_point`` (scalar), ``source`` (str: repository, commit, folder); optionally
``metric`` (str, default ``val_loss``) and ``mode`` (``min`` or ``max``, default ``min``) for
curves of another metric, e.g. an accuracy (``val_acc``, ``max``).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
POOLS_FILE = DATA / "taskset_pools.npz"
REPOSITORY = "machinelearningnuremberg/DPL"
FOLDER = "data/taskset"
#: TaskSet's Adam search space, in the order the DPL loader keeps (benchmarks/taskset.py there).
HP_NAMES = (
    "learning_rate",
    "beta1",
    "beta2",
    "epsilon",
    "l1",
    "l2",
    "linear_decay",
    "exponential_decay",
)
#: TaskSet evaluates every 200 of its 10,000 training steps (51 points, the first at step 0).
STEPS_PER_POINT = 200


@dataclass(frozen=True)
class CurvePool:
    """One pool: ``curves[i, k]`` is configuration ``i``'s validation value at point ``k``
    (point 0: before training; a replay reports points ``1 ..``), ``hyperparameters[i]`` its
    configuration. ``metric`` names the value in the trials' results and ``mode`` says which way
    is better. ``point_costs[i, k]`` is the cost of the
    training between points ``k − 1`` and ``k`` (wall seconds where the source has them; the
    TaskSet curves have none, so one unit per point: every configuration of a task trains the
    same model at the same batch size, so a step costs the same)."""

    name: str
    curves: np.ndarray
    hyperparameters: tuple[dict[str, float], ...]
    batch_size: int
    samples_per_point: int
    mode: str = "min"
    metric: str = "val_loss"
    point_costs: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.curves.ndim != 2 or self.curves.shape[1] < 3:
            raise ValueError(f"curves must be [configs, points >= 3], got {self.curves.shape}")
        if len(self.hyperparameters) != self.curves.shape[0]:
            raise ValueError("one hyperparameter mapping per curve is needed")
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', but got mode={self.mode!r}")

    @property
    def n_configs(self) -> int:
        return int(self.curves.shape[0])

    @property
    def reports(self) -> int:
        """Reports a configuration makes when it runs to the end (points after the first)."""
        return int(self.curves.shape[1]) - 1

    def cost(self, config: int, report: int) -> float:
        """Cost of the training that ends with report ``report`` (1-based) of ``config``."""
        return 1.0 if self.point_costs is None else float(self.point_costs[config, report])


def _text(value: object) -> str:
    return str(np.asarray(value).item())


def load_pools(path: Path = POOLS_FILE) -> list[CurvePool]:
    """The pools stored in ``path`` (module docstring: file format), in file order."""
    with np.load(path, allow_pickle=False) as data:
        names = [str(n) for n in data["hp_names"]]
        steps = int(data["steps_per_point"])
        metric = _text(data["metric"]) if "metric" in data else "val_loss"
        mode = _text(data["mode"]) if "mode" in data else "min"
        pools = []
        for p, task in enumerate(data["task"]):
            batch = int(data["batch_size"][p])
            hps = tuple(
                dict(zip(names, (float(v) for v in row), strict=True))
                for row in data["hyperparameters"][p]
            )
            pools.append(
                CurvePool(
                    name=f"{task}#{p}",
                    curves=np.asarray(data["curves"][p], dtype=float),
                    hyperparameters=hps,
                    batch_size=batch,
                    samples_per_point=steps * batch,
                    mode=mode,
                    metric=metric,
                )
            )
    return pools


def source_of(path: Path = POOLS_FILE) -> str:
    """Where the pools of ``path`` come from (repository, commit, folder)."""
    with np.load(path, allow_pickle=False) as data:
        return _text(data["source"])


# --- building the committed subset from the public repository --------------------------------
def batch_size_of(task: str) -> int:
    """The batch size in a TaskSet task's name (``..._bs128`` → 128)."""
    found = re.search(r"_bs(\d+)$", task)
    if found is None:
        raise ValueError(f"no _bsNN batch size in the task name {task!r}")
    return int(found.group(1))


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def draw_pools(n_total: int, pools: int, size: int, seed: int) -> list[np.ndarray]:
    """``pools`` disjoint sets of ``size`` configuration indices out of ``n_total``, drawn
    without replacement by ``numpy.random.default_rng(seed)``, each sorted."""
    if pools * size > n_total:
        raise ValueError(f"{pools} pools of {size} need {pools * size} of {n_total} configs")
    order = np.random.default_rng(seed).permutation(n_total)
    return [np.sort(order[i * size : (i + 1) * size]) for i in range(pools)]


def build_taskset_pools(
    repo: Path, out: Path, pools_per_task: int = 3, size: int = 32, seed: int = 0
) -> Path:
    """Write ``out`` from the git repository ``repo`` (a clone or bare mirror of
    :data:`REPOSITORY`, read at ``HEAD`` with ``git show``): per task file of :data:`FOLDER`,
    ``pools_per_task`` disjoint pools of ``size`` configurations drawn at random
    (:func:`draw_pools`, ``seed`` + the task's position in name order). Nothing is filtered:
    diverging curves stay. Returns ``out``."""
    commit = _git(repo, "rev-parse", "HEAD").strip()
    files = sorted(
        line
        for line in _git(repo, "ls-tree", "-r", "--name-only", "HEAD", FOLDER).splitlines()
        if line.endswith(".json")
    )
    tasks, curves, indices, hps, batches = [], [], [], [], []
    for position, name in enumerate(files):
        task = Path(name).stem
        entries = json.loads(_git(repo, "show", f"HEAD:{name}"))
        values = np.array(
            [[np.nan if v is None else v for v in e["valid"]["loss"]] for e in entries], float
        )
        configs = np.array([[float(e["hp"][h]) for h in HP_NAMES] for e in entries])
        for chosen in draw_pools(len(entries), pools_per_task, size, seed + position):
            tasks.append(task)
            curves.append(values[chosen])
            indices.append(chosen)
            hps.append(configs[chosen])
            batches.append(batch_size_of(task))
    out.parent.mkdir(parents=True, exist_ok=True)
    with np.errstate(over="ignore"):  # diverged values beyond float32 become inf, as they were
        stored = np.asarray(curves, dtype=np.float32)
    np.savez_compressed(
        out,
        task=np.array(tasks),
        curves=stored,
        config_index=np.asarray(indices, dtype=np.int16),
        hyperparameters=np.asarray(hps, dtype=np.float64),
        hp_names=np.array(HP_NAMES),
        batch_size=np.asarray(batches, dtype=np.int32),
        steps_per_point=np.int32(STEPS_PER_POINT),
        source=np.array(f"https://github.com/{REPOSITORY} commit {commit}, {FOLDER}/*.json"),
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--from-git",
        type=Path,
        required=True,
        metavar="DIR",
        help=f"a git clone (or bare mirror) of {REPOSITORY}",
    )
    parser.add_argument("--out", type=Path, default=POOLS_FILE)
    parser.add_argument("--pools-per-task", type=int, default=3)
    parser.add_argument("--size", type=int, default=32, help="configurations per pool")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = build_taskset_pools(args.from_git, args.out, args.pools_per_task, args.size, args.seed)
    pools = load_pools(out)
    print(
        f"written: {out} ({out.stat().st_size / 1024:.0f} KiB): {len(pools)} pools of "
        f"{pools[0].n_configs} configurations, {pools[0].reports} reports each; "
        f"source {source_of(out)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
