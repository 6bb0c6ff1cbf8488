"""Dataset registry: resolution order, downloads with checksums, offline errors, fallback."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from pairlm.data import DATASETS, DataError, DatasetNotFound, load_dataset, resolve_dataset
from pairlm.data import datasets as D

_SHARED_ENV = os.environ.get("PAIRLM_DATA_DIR")  # read before the fixtures clear it
QQP_HEADER = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
SUBSET = (
    "1\t1\t2\tHow do I cook rice?\tWhat is the best way to cook rice?\t1\n"
    "2\t3\t4\tWhat is AI?\tWho invented the radio?\t0\n"
)


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("PAIRLM_CACHE_DIR", str(cache))
    monkeypatch.delenv("PAIRLM_DATA_DIR", raising=False)
    monkeypatch.delenv("PAIRLM_OFFLINE", raising=False)
    monkeypatch.delenv("PAIRLM_ALLOW_UNVERIFIED", raising=False)
    # Tests never touch the network: every registered URL points at a missing local file.
    for name, spec in list(DATASETS.items()):
        if spec.urls:
            dead = tuple(
                (tmp_path / "nowhere" / f"{name}-{i}").as_uri() for i in range(len(spec.urls))
            )
            monkeypatch.setitem(DATASETS, name, replace(spec, urls=dead))
    return cache


def _md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def test_registry_has_the_named_datasets() -> None:
    for name in (
        "qqp",
        "qqp-glue",
        "qqp-subset",
        "qqp-bimpm-dev",
        "mrpc",
        "mrpc-test",
        "stsb",
        "stsb-dev",
        "stsb-test",
    ):
        assert name in DATASETS
    qqp = D.DATASETS["qqp"]
    assert qqp.fallback == "qqp-subset" and qqp.rows == 404_290
    assert qqp.files == ("quora_duplicate_questions.tsv",)
    for spec in DATASETS.values():
        assert len(spec.checksums) == len(spec.urls)
        assert spec.format in (
            "quora",
            "glue-qqp",
            "glue-qqp-headerless",
            "bimpm",
            "mrpc",
            "stsb",
            "tsv",
        )


def test_explicit_path_wins(tmp_path: Path) -> None:
    p = tmp_path / "my.tsv"
    p.write_text(QQP_HEADER + SUBSET.replace("\t1\n", "\t1\n"), encoding="utf-8")
    assert resolve_dataset(p) == p
    assert resolve_dataset(str(p)) == p


def test_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFound, match="not a dataset name"):
        resolve_dataset("no-such-dataset")


def test_data_dir_in_shared_layout_and_flat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    (root / "qqp").mkdir(parents=True)
    (root / "qqp" / "glue-train-subset.tsv").write_text(SUBSET, encoding="utf-8")
    monkeypatch.setenv("PAIRLM_DATA_DIR", str(root))
    assert resolve_dataset("qqp-subset") == root / "qqp" / "glue-train-subset.tsv"
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "glue-train-subset.tsv").write_text(SUBSET, encoding="utf-8")
    assert resolve_dataset("qqp-subset", data_dir=flat) == flat / "glue-train-subset.tsv"
    ds = load_dataset("qqp-subset", fmt="auto", policy="skip")
    assert ds.name == "qqp-subset" and len(ds) == 2
    assert ds.report is not None and ds.report.format == "glue-qqp-headerless"


def test_download_verifies_checksum_and_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _env: Path
) -> None:
    payload = (QQP_HEADER + "0\t1\t2\tq one?\tq two?\t1\n").encode()
    src = tmp_path / "server" / "quora_duplicate_questions.tsv"
    src.parent.mkdir()
    src.write_bytes(payload)
    spec = replace(DATASETS["qqp"], urls=(src.as_uri(),), checksums=(_md5(payload),))
    monkeypatch.setitem(DATASETS, "qqp", spec)
    got = resolve_dataset("qqp")
    assert got == _env / "datasets" / "qqp" / "quora_duplicate_questions.tsv"
    assert got.read_bytes() == payload
    assert not [f for f in got.parent.iterdir() if f.name.startswith(".")]  # no temp left
    src.unlink()  # the second time it comes from the cache
    assert resolve_dataset("qqp") == got
    ds = load_dataset("qqp")
    assert ds.report is not None and ds.report.format == "quora" and len(ds) == 1


def test_checksum_mismatch_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _env: Path
) -> None:
    src = tmp_path / "server" / "msr_paraphrase_train.txt"
    src.parent.mkdir()
    src.write_bytes(b"tampered")
    spec = replace(DATASETS["mrpc"], urls=(src.as_uri(),), checksums=("md5:" + "0" * 32,))
    monkeypatch.setitem(DATASETS, "mrpc", spec)
    with pytest.raises(DatasetNotFound, match="checksum mismatch"):
        resolve_dataset("mrpc")
    target = _env / "datasets" / "mrpc"
    assert not target.exists() or not list(target.iterdir())


def test_download_from_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _env: Path) -> None:
    member = b"main-news\theadlines\t2016\t0001\t4.2\tA b c.\tA b d.\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("stsbenchmark/sts-test.csv")
        info.size = len(member)
        tf.addfile(info, io.BytesIO(member))
    archive = tmp_path / "Stsbenchmark.tar.gz"
    archive.write_bytes(buf.getvalue())
    spec = replace(
        DATASETS["stsb-test"], urls=(archive.as_uri(),), checksums=(_md5(buf.getvalue()),)
    )
    monkeypatch.setitem(DATASETS, "stsb-test", spec)
    got = resolve_dataset("stsb-test")
    assert got == _env / "datasets" / "stsb" / "sts-test.csv"
    assert got.read_bytes() == member
    assert list(load_dataset("stsb-test").label) == [1]


def test_no_published_checksum_refuses_download(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DatasetNotFound, match="no published checksum"):
        resolve_dataset("qqp-glue")


def test_offline_error_says_where_to_put_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAIRLM_OFFLINE", "1")
    with pytest.raises(DatasetNotFound) as exc:
        resolve_dataset("mrpc")
    msg = str(exc.value)
    assert "msr_paraphrase_train.txt" in msg and "PAIRLM_DATA_DIR" in msg
    assert "downloads are off" in msg
    with pytest.raises(DatasetNotFound, match="downloads are off"):
        resolve_dataset("stsb", download=False)
    monkeypatch.delenv("PAIRLM_OFFLINE")
    with pytest.raises(DatasetNotFound, match=r"download from .* failed"):
        resolve_dataset("mrpc")


def test_shared_only_dataset_missing(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFound, match="shared reference data") as exc:
        resolve_dataset("qqp-bimpm-dev", data_dir=tmp_path)
    assert "bimpm-dev-balanced.tsv" in str(exc.value)


def test_qqp_falls_back_to_the_subset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "shared"
    (root / "qqp").mkdir(parents=True)
    subset = root / "qqp" / "glue-train-subset.tsv"
    subset.write_text(SUBSET, encoding="utf-8")
    monkeypatch.setenv("PAIRLM_DATA_DIR", str(root))
    with caplog.at_level(logging.WARNING, logger="pairlm.data.datasets"):
        assert resolve_dataset("qqp") == subset
    assert any(
        "qqp-subset" in r.getMessage() and str(subset) in r.getMessage() for r in caplog.records
    )
    ds = load_dataset("qqp")
    assert ds.name == "qqp-subset" and len(ds) == 2
    # the full release wins when present
    full = root / "qqp" / "quora_duplicate_questions.tsv"
    full.write_text(QQP_HEADER + "0\t1\t2\tq one?\tq two?\t1\n", encoding="utf-8")
    assert resolve_dataset("qqp") == full


def test_qqp_without_fallback_explains(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFound) as exc:
        resolve_dataset("qqp", data_dir=tmp_path)
    msg = str(exc.value)
    assert "quora_duplicate_questions.tsv" in msg and "glue-train-subset.tsv" in msg


def test_load_glue_directory_split(tmp_path: Path) -> None:
    d = tmp_path / "QQP"
    d.mkdir()
    (d / "train.tsv").write_text(QQP_HEADER + "0\t1\t2\tq1?\tq2?\t1\n", encoding="utf-8")
    (d / "dev.tsv").write_text(QQP_HEADER + "1\t3\t4\tq3?\tq4?\t0\n", encoding="utf-8")
    (d / "test.tsv").write_text("id\tquestion1\tquestion2\n0\tt1?\tt2?\n", encoding="utf-8")
    assert resolve_dataset("qqp-glue", data_dir=tmp_path) == d
    assert list(load_dataset("qqp-glue", data_dir=tmp_path, split="dev").label) == [0]
    assert not load_dataset(d, split="test").has_labels
    with pytest.raises(DataError, match="no 'valid' split"):
        load_dataset(d, split="valid")


def test_verify_checksum_formats(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    D.verify_checksum(p, "sha256:" + hashlib.sha256(b"abc").hexdigest())
    D.verify_checksum(p, _md5(b"abc"))
    with pytest.raises(DataError, match="mismatch"):
        D.verify_checksum(p, "sha256:" + "0" * 64)
    with pytest.raises(ValueError):
        D.verify_checksum(p, "crc32:1234")


@pytest.mark.integration
def test_shared_layout_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    default = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
    shared = Path(_SHARED_ENV or default).resolve()
    if not (shared / "qqp" / "glue-train-subset.tsv").is_file():
        pytest.skip(f"shared data absent at {shared}")
    monkeypatch.setenv("PAIRLM_DATA_DIR", str(shared))
    assert resolve_dataset("qqp") == shared / "qqp" / "glue-train-subset.tsv"
    assert resolve_dataset("mrpc-test") == shared / "mrpc" / "msr_paraphrase_test.txt"
    assert resolve_dataset("stsb-dev") == shared / "stsb" / "sts-dev.csv"
    assert len(load_dataset("mrpc")) == 4_076


@pytest.mark.integration
def test_official_evaluation_splits_keep_their_row_counts() -> None:
    from pairlm.data import load_dataset
    from pairlm.data.datasets import DATASETS

    if not _SHARED_ENV or not (Path(_SHARED_ENV) / "stsb" / "sts-test.csv").is_file():
        pytest.skip("the shared data (PAIRLM_DATA_DIR) is not beside this checkout")
    for name in ("stsb-test", "stsb-dev", "mrpc-test"):
        ds = load_dataset(name, data_dir=_SHARED_ENV, download=False)
        assert len(ds) == DATASETS[name].rows, name
