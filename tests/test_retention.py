"""Checkpoint retention: all kept while an experiment runs, pruned to each trial's latest and
best when it ends (hand-built trial folders, no Ray)."""

from __future__ import annotations

import json
from pathlib import Path

from tune_bs.search.retention import checkpoints_to_keep, prune_experiment
from tune_bs.search.storage import Location


def names(*indices: int) -> list[str]:
    return [f"checkpoint_{i:06d}" for i in indices]


def test_the_latest_and_the_best_are_kept():
    found = names(0, 1, 2, 3, 4)
    scores = dict(zip(found, [3.0, 1.0, 2.0, 0.5, 9.0], strict=True))
    assert checkpoints_to_keep(found, scores, "min", 2) == set(names(4, 3, 1))
    assert checkpoints_to_keep(found, scores, "max", 2) == set(names(4, 0))
    # missing or NaN scores rank last; ties go to the earlier checkpoint
    scores = {found[0]: float("nan"), found[1]: 1.0, found[2]: 1.0}
    assert checkpoints_to_keep(found, scores, "min", 1) == set(names(4, 1))
    assert checkpoints_to_keep(found, {}, "min", 0) == set(names(4))
    assert checkpoints_to_keep([], {}, "min", 2) == set()


def trial_folder(root: Path, name: str, losses: list[float]) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    rows = []
    for i, loss in enumerate(losses):
        (folder / f"checkpoint_{i:06d}").mkdir()
        (folder / f"checkpoint_{i:06d}" / "trainer_state.pt").write_bytes(b"x")
        rows.append(
            {
                "training_iteration": i + 1,
                "val_loss": loss,
                "checkpoint_dir_name": f"checkpoint_{i:06d}",
            }
        )
    (folder / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_an_ended_experiment_keeps_each_trials_latest_and_best(tmp_path):
    a = trial_folder(tmp_path, "trial_a", [3.0, 1.0, 2.0, 2.5])
    b = trial_folder(tmp_path, "trial_b", [1.0])
    (tmp_path / "experiment_state-x.json").write_text("{}")
    deleted = prune_experiment(Location.open(tmp_path), "val_loss", "min", keep_best=1)
    assert deleted == 2
    assert sorted(p.name for p in a.glob("checkpoint_*")) == names(1, 3)
    assert sorted(p.name for p in b.glob("checkpoint_*")) == names(0)
    assert (a / "result.json").exists() and (tmp_path / "experiment_state-x.json").exists()


def test_a_folder_that_cannot_be_read_is_left_alone(tmp_path):
    assert prune_experiment(Location.open(tmp_path / "missing"), "val_loss", "min", 2) == 0


def state_naming(trial: str, *indices: int) -> bytes:
    """An experiment state as Tune writes it: the trial's checkpoint records pickled and
    hex-encoded inside the JSON."""
    import pickle

    paths = [f"/storage/exp/{trial}/checkpoint_{i:06d}" for i in indices]
    blob = pickle.dumps({"checkpoints": paths}).hex()
    record = json.dumps({"checkpoint_manager": {"_type": "CLOUDPICKLE_FALLBACK", "value": blob}})
    return json.dumps({"trial_data": [[json.dumps({"relative_logdir": trial}), record]]}).encode()


def test_what_the_state_or_the_latest_report_names_is_never_deleted(tmp_path):
    """The issue's case: the state names checkpoint_000007 (the trial resumes from it), the
    latest report names checkpoint_000005, the disk holds a newer checkpoint_000008 nobody
    reported; the best by val_loss are 0 and 1. All five named ones stay."""
    a = trial_folder(tmp_path, "trial_a", [0.1, 0.2, 3.0, 3.0, 3.0, 2.0])  # reports 0..5
    for extra in (7, 8):
        (a / f"checkpoint_{extra:06d}").mkdir()
    (tmp_path / "experiment_state-x.json").write_bytes(state_naming("trial_a", 0, 1, 4, 5, 7))
    deleted = prune_experiment(Location.open(tmp_path), "val_loss", "min", keep_best=2)
    kept = sorted(p.name for p in a.glob("checkpoint_*"))
    assert kept == names(0, 1, 5, 7, 8) and deleted == 3


def test_named_checkpoints_reads_paths_without_unpickling():
    from tune_bs.search.retention import named_checkpoints, searchable

    found = names(1, 2, 3, 10)
    states = [searchable(state_naming("t", 1, 2)), searchable(state_naming("t", 3))]
    assert named_checkpoints(states, "t", found) == set(names(2, 3))
    assert named_checkpoints(states, "other", found) == set()
    # a state that is not hex-encoded Tune state still counts where it names the path
    assert named_checkpoints([b"... t/checkpoint_000010 ..."], "t", found) == set(names(10))
