"""Reports after a trial's last saved checkpoint are dropped before a resume
(:mod:`tune_bs.search.rewind`; hand-built folders shaped as Ray 2.60 writes them, no Ray)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

from tune_bs.search.rewind import kept_rows, latest_checkpoints, rewind_experiment
from tune_bs.search.storage import Location


def state(trials: dict[str, tuple[str, list[int]]], last_reported: int = 99) -> bytes:
    """An experiment state: per trial folder, its status and the checkpoints its records hold
    (pickled, hex-encoded, as Tune keeps them); its last result names ``last_reported``, which
    must not count (a result is logged before its checkpoint is saved)."""
    entries = []
    for folder, (status, saved) in trials.items():
        paths = [f"/s/exp/{folder}/checkpoint_{i:06d}" for i in saved]
        manager = {"_type": "CLOUDPICKLE_FALLBACK", "value": pickle.dumps(paths).hex()}
        last = {"checkpoint_dir_name": f"checkpoint_{last_reported:06d}"}
        metadata = json.dumps({"last_result": last, "checkpoint_manager": manager})
        entries.append([json.dumps({"relative_logdir": folder, "status": status}), metadata])
    return json.dumps({"trial_data": entries, "runner_data": {}}).encode()


def trial(root: Path, name: str, reports: int) -> Path:
    folder = root / name
    folder.mkdir()
    rows = [
        {"training_iteration": i + 1, "checkpoint_dir_name": f"checkpoint_{i:06d}"}
        for i in range(reports)
    ]
    (folder / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    header = "training_iteration,checkpoint_dir_name\n"
    csv = "".join(f"{r['training_iteration']},{r['checkpoint_dir_name']}\n" for r in rows)
    (folder / "progress.csv").write_text(header + csv)
    return folder


def iterations(folder: Path) -> list[int]:
    text = (folder / "result.json").read_text()
    return [json.loads(line)["training_iteration"] for line in text.splitlines()]


def test_the_latest_saved_checkpoint_is_read_from_the_records_only():
    found = latest_checkpoints(state({"a": ("RUNNING", [0, 1]), "b": ("PENDING", [])}))
    assert found == {"a": ("RUNNING", "checkpoint_000001"), "b": ("PENDING", None)}
    assert latest_checkpoints(b"not json") == {} and latest_checkpoints(b'{"x": 1}') == {}


def test_kept_rows():
    rows = [{"checkpoint_dir_name": f"checkpoint_{i:06d}"} for i in range(4)]
    assert kept_rows(rows, "checkpoint_000001") == 2
    assert kept_rows(rows, None) == 0 and kept_rows(rows, "checkpoint_000009") == 0


def test_an_unfinished_trials_unsaved_reports_are_dropped(tmp_path):
    """The case of a Ctrl-C between a report and its checkpoint's save: trial a logged three
    reports but the state saved its checkpoint of report 2; trial b never saved one; trial c
    ended."""
    a, b, c = (trial(tmp_path, n, k) for n, k in (("a", 3), ("b", 1), ("c", 2)))
    (tmp_path / "experiment_state-1.json").write_text("{}")  # older session
    saved = {"a": ("RUNNING", [0, 1]), "b": ("PENDING", []), "c": ("TERMINATED", [0])}
    (tmp_path / "experiment_state-2.json").write_bytes(state(saved))
    assert rewind_experiment(Location.open(tmp_path)) == {"a": 1, "b": 1}
    assert iterations(a) == [1, 2] and iterations(b) == [] and iterations(c) == [1, 2]
    assert (a / "progress.csv").read_text().splitlines()[1:] == [
        "1,checkpoint_000000",
        "2,checkpoint_000001",
    ]
    assert (b / "progress.csv").read_text().splitlines() == [
        "training_iteration,checkpoint_dir_name"
    ]
    assert rewind_experiment(Location.open(tmp_path)) == {}  # nothing more to drop


def test_a_consistent_experiment_is_left_as_it_is(tmp_path):
    a = trial(tmp_path, "a", 2)
    before = (a / "result.json").read_bytes()
    (tmp_path / "experiment_state-1.json").write_bytes(state({"a": ("RUNNING", [0, 1])}))
    assert rewind_experiment(Location.open(tmp_path)) == {}
    assert (a / "result.json").read_bytes() == before
    assert rewind_experiment(Location.open(tmp_path / "missing")) == {}
