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
