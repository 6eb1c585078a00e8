"""Results in object storage (a real S3 server on 127.0.0.1, no Ray): ``tune-bs report`` reads an
``s3://`` experiment through a local copy; ``tune-bs resume`` takes the URI as a URI.

A run that writes to and resumes from the object store is in ``tests/test_cluster_faults.py``.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs
import pytest
from cluster import object_store  # noqa: F401 (fixture)
from test_report_helpers import gunpoint_experiment

from tune_bs.cli import main
from tune_bs.search.storage import COPY_ROOT, local_copy


@pytest.fixture
def s3_env(object_store, monkeypatch):  # noqa: F811
    for key, value in object_store.env().items():
        monkeypatch.setenv(key, value)
    return object_store


def upload(folder: Path, uri: str) -> None:
    fs, path = pafs.FileSystem.from_uri(uri)
    pafs.copy_files(
        str(folder), path, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs
    )


def test_report_reads_an_experiment_in_object_storage(s3_env, tmp_path, monkeypatch, capsys):
    local = gunpoint_experiment(tmp_path / "made")
    uri = s3_env.uri("runs/gunpoint")
    upload(local, uri)
    monkeypatch.chdir(tmp_path)
    assert main(["report", uri, "--metric", "val_loss"]) == 0
    out = capsys.readouterr().out
    copy = Path(COPY_ROOT, s3_env.bucket, "runs", "gunpoint")
    assert f"Report written to {copy / 'report'}" in out
    for name in ("trials.md", "comparison.md", "val_loss_vs_samples.png"):
        assert (copy / "report" / name).is_file()
    # the same table as from the local folder the experiment was made in
    assert main(["report", str(local), "--metric", "val_loss", "--out", "local"]) == 0
    local_out = capsys.readouterr().out
    assert (copy / "report" / "trials.md").read_text() == Path("local/trials.md").read_text()
    assert "| gunpoint" in local_out


def test_a_fresh_copy_replaces_the_old_one(s3_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    uri = s3_env.uri("runs/again")
    upload(gunpoint_experiment(tmp_path / "first", name="again"), uri)
    copy = local_copy(uri)
    stale = copy / "stale.txt"
    stale.write_text("left over")
    assert local_copy(uri) == copy and not stale.exists()
    assert (copy / "tune_bs_space.yaml").exists() or any(copy.glob("*/result.json"))


def test_storage_uris_keep_their_scheme_and_mistakes_are_one_line(
    s3_env, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    missing = s3_env.uri("nothing/here")
    assert main(["report", missing]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"'{missing}' hold no files" in err[0], err
    assert main(["resume", missing]) == 2  # the URI is taken as a URI, not as the path s3:/...
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{missing} holds no resumable tune-bs experiment" in err[0], err


@pytest.mark.parametrize("path", ["runs/../../../victim", "runs/./x", "runs//x"])
def test_a_copy_never_lands_outside_its_folder(s3_env, tmp_path, monkeypatch, capsys, path):
    """The local copy goes to ``tune_bs_reports/<bucket>/<path>``, after deleting what is
    there: a '..' in the URI would make that a folder of the user's beside it."""
    monkeypatch.chdir(tmp_path)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("not to be deleted")
    uri = f"s3://{s3_env.bucket}/{path}"
    assert main(["report", uri]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'.' or '..' path component" in err[0], err
    assert (victim / "keep.txt").read_text() == "not to be deleted"
