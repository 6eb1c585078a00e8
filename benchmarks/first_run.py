"""Benchmark: where the time of a first ``tune-bs run`` goes (issue #33, goal: ≤ 90 s on an idle
2-core machine for the packaged default, ``search_spaces/default.yaml``).

It runs the command a new user runs, ``python -m tune_bs run [SPACE] --storage TMP``, in a
subprocess (a fresh interpreter, a fresh local Ray), and meanwhile samples ``/proc`` every
``--sample-s`` seconds for the CPU seconds of that process and of every process under it (the
driver, Ray's services, its worker processes; Linux only). After the run it reads the trials'
``result.json`` rows and prints:

- **wall**: the run's seconds from start to exit, split into *start-up* (to the moment the first
  trial began: imports, loading the data, ``ray.init``, the first actor), *trials* (to the last
  report) and *wrap-up* (pruning checkpoints, the summary, Ray's shutdown);
- **CPU** seconds by process kind (driver, trial workers, other Ray processes) — on a loaded
  machine the wall clock is noise, CPU seconds much less so; ``CPU / 2`` bounds the wall time an
  idle 2-core machine needs for the work;
- the trials' own seconds: training and evaluation (``trial_time_s``; ``eval_time_s``: the
  validation loss and both probes), the reports made, and the seconds each trial spent before
  its first step (worker start, data transfer, building the model and optimiser: the trial's
  wall time to its last report less ``trial_time_s``);
- the worker processes that ran trials (``reuse_actors``: fewer processes than trials).

Run: ``python benchmarks/first_run.py`` (``--smoke-test`` adds ``--smoke-test`` to the run:
seconds; ``--label NAME`` names the variant in the output; ``--out FILE`` appends the result
there, default ``benchmarks/results/first_run.txt``; ``--repeat N`` runs it N times).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tune_bs.progress import bar

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "first_run.txt"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class ProcessCPU:
    """The latest CPU seconds seen of each process under the run, and what kind it is."""

    seconds: dict[int, float] = field(default_factory=dict)
    kind: dict[int, str] = field(default_factory=dict)

    def by_kind(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for pid, sec in self.seconds.items():
            out[self.kind[pid]] = out.get(self.kind[pid], 0.0) + sec
        return out


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process itself) from ``/proc/PID/stat``."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _kind(pid: int, root: int) -> str:
    if pid == root:
        return "driver"
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "ray other"
    if "ImplicitFunc" in title or "train_trial" in title:
        return "trial workers"
    if title.startswith("ray::") or "default_worker.py" in title:
        return "idle workers"
    return "ray services"


def sample(root: int, cpu: ProcessCPU, stop: threading.Event, every_s: float) -> None:
    """Record the CPU seconds of ``root`` and its descendants until ``stop``."""
    while not stop.is_set():
        parents: dict[int, int] = {}
        times: dict[int, float] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                got = _stat(int(entry.name))
                if got is not None:
                    parents[int(entry.name)], times[int(entry.name)] = got
        tree = {root}
        grew = True
        while grew:
            grew = False
            for pid, parent in parents.items():
                if parent in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        for pid in tree & times.keys():
            cpu.seconds[pid] = max(cpu.seconds.get(pid, 0.0), times[pid])
            kind = _kind(pid, root)
            if cpu.kind.get(pid) != "trial workers":  # a worker keeps the kind it had in a trial
                cpu.kind[pid] = kind
        stop.wait(every_s)


def result_rows(folder: Path) -> dict[str, list[dict[str, Any]]]:
    rows = {}
    for path in sorted(folder.glob("*/result.json")):
        lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        if lines:
            rows[path.parent.name] = lines
    return rows


def run_once(
    space: str | None, smoke: bool, sample_s: float, transcript: Path | None = None
) -> dict[str, Any]:
    """One run in a fresh interpreter and storage folder; its figures (:func:`summarise`).
    ``transcript``: write what the run printed there (what a new user sees)."""
    with tempfile.TemporaryDirectory(prefix="first_run_") as tmp:
        command = [sys.executable, "-m", "tune_bs", "run"]
        command += [space] if space else []
        command += ["--storage", tmp] + (["--smoke-test"] if smoke else [])
        cpu, stop = ProcessCPU(), threading.Event()
        started = time.time()
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp
        )
        sampler = threading.Thread(target=sample, args=(proc.pid, cpu, stop, sample_s))
        sampler.start()
        out, _ = proc.communicate()
        ended = time.time()
        stop.set()
        sampler.join()
        if proc.returncode != 0:
            raise SystemExit(f"the run failed ({proc.returncode}):\n{out[-4000:]}")
        if transcript is not None:
            transcript.write_text(out.replace(tmp, "STORAGE"), encoding="utf-8")
        (folder,) = [p for p in Path(tmp).iterdir() if p.is_dir()]
        rows = result_rows(folder)
    return summarise(rows, cpu, started, ended)


def summarise(
    rows: dict[str, list[dict[str, Any]]], cpu: ProcessCPU, started: float, ended: float
) -> dict[str, Any]:
    trials = []
    for trial in rows.values():
        first, last = trial[0], trial[-1]
        begin = first["wall_time_s"] - first["time_this_iter_s"]
        trials.append(
            {
                "begin": begin,
                "end": last["wall_time_s"],
                "reports": len(trial),
                "trial_s": last["trial_time_s"],
                "eval_s": sum(r.get("eval_time_s", 0.0) for r in trial),
                "pid": last["pid"],
                "before_first_step_s": first["time_this_iter_s"] - first["trial_time_s"],
            }
        )
    first_begin = min(t["begin"] for t in trials)
    last_end = max(t["end"] for t in trials)
    by_kind = cpu.by_kind()
    return {
        "wall_s": ended - started,
        "startup_s": first_begin - started,
        "trials_s": last_end - first_begin,
        "wrapup_s": ended - last_end,
        "cpu_s": sum(by_kind.values()),
        "cpu_by_kind": by_kind,
        "trials": len(trials),
        "reports": sum(t["reports"] for t in trials),
        "train_s": sum(t["trial_s"] - t["eval_s"] for t in trials),
        "eval_s": sum(t["eval_s"] for t in trials),
        "before_first_step_s": statistics.median(t["before_first_step_s"] for t in trials),
        "worker_processes": len({t["pid"] for t in trials}),
    }


#: What a fresh trial worker pays for its first optimiser: torch's ``Optimizer.add_param_group``
#: is wrapped by ``torch._disable_dynamo``, which imports ``torch._dynamo`` on its first call.
_OPTIMISER_PROBE = """
import time, sys
import torch
start = time.process_time()
torch.optim.Adam(torch.nn.Linear(2, 2).parameters())
print(time.process_time() - start, "torch._dynamo" in sys.modules)
"""


def first_optimiser_cpu_s(repeat: int = 3) -> float:
    """Median CPU seconds of the first ``torch.optim.Adam`` in a fresh interpreter."""
    runs = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", _OPTIMISER_PROBE], capture_output=True, text=True, check=True
        )
        seconds, imported = done.stdout.split()
        assert imported == "True", "the first optimiser no longer imports torch._dynamo"
        runs.append(float(seconds))
    return statistics.median(runs)


def format_result(label: str, r: dict[str, Any]) -> str:
    kinds = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["cpu_by_kind"].items()))
    return (
        f"{label}: wall {r['wall_s']:.1f} s = start-up {r['startup_s']:.1f} + trials "
        f"{r['trials_s']:.1f} + wrap-up {r['wrapup_s']:.1f}; CPU {r['cpu_s']:.1f} s ({kinds}); "
        f"{r['trials']} trials, {r['reports']} reports, train {r['train_s']:.1f} s + eval "
        f"{r['eval_s']:.1f} s of trial time; median {r['before_first_step_s']:.2f} s from a "
        f"trial's start to its first step; {r['worker_processes']} worker processes ran trials"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("space", nargs="?", help="a search space (default: the packaged one)")
    parser.add_argument("--smoke-test", action="store_true")
    parser.add_argument("--label", default="default")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--sample-s", type=float, default=0.25)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--transcript", type=Path, help="write what the (last) run printed to this file"
    )
    parser.add_argument(
        "--optimiser", action="store_true", help="also time the first optimiser's dynamo import"
    )
    args = parser.parse_args(argv)
    lines = []
    if args.optimiser:
        cpu = first_optimiser_cpu_s()
        lines.append(
            f"first torch optimiser in a fresh process (imports torch._dynamo): {cpu:.2f} CPU s "
            "(paid once per trial worker process)"
        )
        print(lines[-1], flush=True)
    for i in bar(range(args.repeat), desc=f"{args.label}: runs", unit="run"):
        r = run_once(args.space, args.smoke_test, args.sample_s, args.transcript)
        line = format_result(f"{args.label} #{i + 1}", r)
        print(line, flush=True)
        lines.append(line)
    if not args.smoke_test:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a") as out:
            out.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
