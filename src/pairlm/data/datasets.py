"""The dataset registry: named datasets, where to find them, and how to download them.

`resolve_dataset(name_or_path)` looks, in order, at:

1. an explicit existing path;
2. ``$PAIRLM_DATA_DIR`` (or ``data_dir=``), flat or in the layout of ``/work/shared/data``
   (``qqp/glue-train-subset.tsv``, ``mrpc/msr_paraphrase_train.txt``, ``stsb/sts-train.csv``);
3. the user cache, ``$PAIRLM_CACHE_DIR/datasets`` or ``~/.cache/pairlm/datasets``;
4. a download from the official URL (short timeout, checksum verified, atomic rename) into
   the cache;
5. offline: a `DatasetNotFound` error saying which file to put where.

``qqp`` (the full original release) falls back to the shared subset ``qqp-subset`` under the
data directory when it is neither found nor downloadable, with a logged warning naming the
file used.

Set ``PAIRLM_OFFLINE=1`` to never try a download.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from pairlm.data.pairs import PairDataset
from pairlm.data.readers import read_glue_dir, read_pairs
from pairlm.data.validation import DataError
from pairlm.errors import DatasetNotFound
from pairlm.paths import cache_root

logger = logging.getLogger(__name__)

__all__ = [
    "DATASETS",
    "DatasetNotFound",
    "DatasetSpec",
    "cache_dir",
    "data_dir",
    "load_dataset",
    "resolve_dataset",
]

DOWNLOAD_TIMEOUT_S = 15.0
"""Seconds to wait for a server (override with ``$PAIRLM_DOWNLOAD_TIMEOUT``)."""


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset.

    Attributes:
        name: registry key.
        description: one line.
        files: the file names it consists of (one file, or the files of a directory).
        urls: official download URLs: one per file, or a single archive holding them all.
        checksums: ``"md5:<hex>"`` / ``"sha256:<hex>"`` per URL (same order); "" when no
            published checksum is known (the download is then refused unless
            ``$PAIRLM_ALLOW_UNVERIFIED=1``).
        format: the reader format (`pairlm.data.readers.KNOWN_FORMATS`).
        subdir: the folder it lives in under a data directory or the cache (the shared layout:
            ``qqp``, ``mrpc``, ``stsb``).
        members: for an archive, the path of each file inside it.
        is_dir: the dataset is a directory of split files (read with `read_glue_dir`).
        fallback: another dataset used when this one is unavailable (with a warning).
        rows: expected number of pairs (documentation and sanity checks).
        homepage, license: provenance.
    """

    name: str
    description: str
    files: tuple[str, ...]
    urls: tuple[str, ...] = ()
    checksums: tuple[str, ...] = ()
    format: str = "auto"
    subdir: str = ""
    members: tuple[str, ...] = ()
    is_dir: bool = False
    fallback: str | None = None
    rows: int | None = None
    homepage: str = ""
    license: str = ""
    aliases: tuple[str, ...] = field(default=())
    evaluation_split: bool = False
    """An official dev/test split: read whole (self-pairs and repeated pairs kept, unless
    asked otherwise), so its row count stays the official one and figures stay comparable."""

    @property
    def is_archive(self) -> bool:
        return bool(self.members)


_MRPC_HOME = "https://www.microsoft.com/en-us/download/details.aspx?id=52398"
_SENTEVAL = "https://dl.fbaipublicfiles.com/senteval/senteval_data"
_STSB_URL = "http://ixa2.si.ehu.es/stswiki/images/4/48/Stsbenchmark.tar.gz"
_STSB_MD5 = "md5:4eb0065aba063ef77873d3a9c8088811"

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "qqp",
            "Quora Question Pairs, original release (404,290 pairs, header, quoted fields)",
            ("quora_duplicate_questions.tsv",),
            ("http://qim.fs.quoracdn.net/quora_duplicate_questions.tsv",),
            ("md5:b6d5672bd9dc1e66ab2bb020ebeafb8d",),
            format="quora",
            subdir="qqp",
            fallback="qqp-subset",
            rows=404_290,
            homepage="https://quoradata.quora.com/First-Quora-Dataset-Release-Question-Pairs",
            license="Quora terms of service (non-commercial research)",
        ),
        DatasetSpec(
            "qqp-glue",
            "GLUE QQP directory: train.tsv (363,846), dev.tsv (40,430), test.tsv (390,965, "
            "unlabelled)",
            ("train.tsv", "dev.tsv", "test.tsv"),
            ("https://dl.fbaipublicfiles.com/glue/data/QQP-clean.zip",),
            ("",),  # no published checksum for QQP-clean.zip is known to pairlm
            format="glue-qqp",
            subdir="QQP",
            members=("QQP/train.tsv", "QQP/dev.tsv", "QQP/test.tsv"),
            is_dir=True,
            rows=363_846,
            homepage="https://gluebenchmark.com/tasks",
        ),
        DatasetSpec(
            "qqp-subset",
            "23,496 GLUE QQP train pairs, headerless (shared reference data only)",
            ("glue-train-subset.tsv",),
            format="glue-qqp-headerless",
            subdir="qqp",
            rows=23_496,
        ),
        DatasetSpec(
            "qqp-bimpm-dev",
            "10,000 balanced Quora pairs, BiMPM layout label q1 q2 pair_id (shared data only)",
            ("bimpm-dev-balanced.tsv",),
            format="bimpm",
            subdir="qqp",
            rows=10_000,
        ),
        DatasetSpec(
            "mrpc",
            "Microsoft Research Paraphrase Corpus, original release, train (4,076 pairs)",
            ("msr_paraphrase_train.txt",),
            (f"{_SENTEVAL}/msr_paraphrase_train.txt",),
            ("md5:793daf7b6224281e75fe61c1f80afe35",),
            format="mrpc",
            subdir="mrpc",
            rows=4_076,
            homepage=_MRPC_HOME,
            license="Microsoft Research Data License",
        ),
        DatasetSpec(
            "mrpc-test",
            "Microsoft Research Paraphrase Corpus, original release, test (1,725 pairs)",
            ("msr_paraphrase_test.txt",),
            (f"{_SENTEVAL}/msr_paraphrase_test.txt",),
            ("md5:e437fdddb92535b820fe8852e2df8a49",),
            format="mrpc",
            subdir="mrpc",
            rows=1_725,
            evaluation_split=True,
            homepage=_MRPC_HOME,
            license="Microsoft Research Data License",
        ),
        DatasetSpec(
            "mrpc-dev-ids",
            "GLUE MRPC dev split as (id1, id2) pairs taken out of MRPC train (408)",
            ("dev_ids.tsv",),
            ("https://dl.fbaipublicfiles.com/glue/data/mrpc_dev_ids.tsv",),
            ("md5:7ab59a1b04bd7cb773f98a0717106c9b",),
            format="tsv",
            subdir="mrpc",
            rows=408,
        ),
        *(
            DatasetSpec(
                name,
                f"STS Benchmark {split} (score 0-5, binarised at a threshold), {n:,} pairs",
                (f"sts-{split}.csv",),
                (_STSB_URL,),
                (_STSB_MD5,),
                format="stsb",
                subdir="stsb",
                members=(f"stsbenchmark/sts-{split}.csv",),
                rows=n,
                evaluation_split=split != "train",
                homepage="https://ixa2.si.ehu.eus/stswiki/index.php/STSbenchmark",
                license="see the STS Benchmark LICENSE.txt (per-source terms)",
            )
            for name, split, n in (
                ("stsb", "train", 5_749),
                ("stsb-dev", "dev", 1_500),
                ("stsb-test", "test", 1_379),
            )
        ),
    )
}


# ====================================================================== locations
def data_dir(override: str | Path | None = None) -> Path | None:
    """The local data directory: ``override``, else ``$PAIRLM_DATA_DIR``, else None."""
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get("PAIRLM_DATA_DIR")
    return Path(env).expanduser() if env else None


def cache_dir(override: str | Path | None = None) -> Path:
    """Where downloads go: ``override``, else ``$PAIRLM_CACHE_DIR/datasets``, else
    ``~/.cache/pairlm/datasets``."""
    if override is not None:
        return Path(override).expanduser()
    return cache_root() / "datasets"


def _candidates(spec: DatasetSpec, root: Path) -> list[Path]:
    """Where a dataset may sit under a root folder (target = file, or folder for is_dir)."""
    subs = [
        spec.subdir,
        spec.subdir.lower(),
        spec.subdir.upper(),
        f"glue_data/{spec.subdir}",
        "stsbenchmark" if spec.format == "stsb" else "",
        "",
    ]
    out: list[Path] = []
    for sub in dict.fromkeys(subs):
        base = root / sub if sub else root
        out.append(base if spec.is_dir else base / spec.files[0])
    return out


def _present(spec: DatasetSpec, p: Path) -> bool:
    if spec.is_dir:
        return p.is_dir() and all((p / f).is_file() for f in spec.files[:2])
    return p.is_file()


def _find_local(spec: DatasetSpec, roots: list[Path]) -> Path | None:
    for root in roots:
        for cand in _candidates(spec, root):
            if _present(spec, cand):
                return cand
    return None


# ====================================================================== download
def _timeout() -> float:
    try:
        return float(os.environ.get("PAIRLM_DOWNLOAD_TIMEOUT", DOWNLOAD_TIMEOUT_S))
    except ValueError:
        return DOWNLOAD_TIMEOUT_S


def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_checksum(path: Path, checksum: str) -> None:
    """Raise `DataError` unless ``path`` has ``checksum`` ("md5:<hex>" or "sha256:<hex>")."""
    algo, _, want = checksum.partition(":")
    if algo not in ("md5", "sha256", "sha1") or not want:
        raise ValueError(f"checksum must look like 'sha256:<hex>' or 'md5:<hex>', got {checksum!r}")
    got = _digest(path, algo)
    if got != want.lower():
        raise DataError(f"{path}: {algo} checksum mismatch: expected {want}, got {got}")


def _fetch(url: str, dest_dir: Path, checksum: str) -> Path:
    """Download ``url`` into ``dest_dir`` under a temporary name and verify it; the caller
    renames or extracts. Raises OSError/URLError on network failure, DataError on mismatch."""
    if not checksum and os.environ.get("PAIRLM_ALLOW_UNVERIFIED") != "1":
        raise DataError(
            f"no published checksum is known for {url}; download it yourself, or set "
            "PAIRLM_ALLOW_UNVERIFIED=1 to accept it unverified"
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=_timeout()) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=url.rsplit("/", 1)[-1],
                disable=not sys.stderr.isatty(),
                leave=False,
            ) as bar:
                for block in iter(lambda: resp.read(1 << 20), b""):
                    out.write(block)
                    bar.update(len(block))
        if checksum:
            verify_checksum(tmp, checksum)
        else:
            logger.warning(
                "%s downloaded without a checksum check (PAIRLM_ALLOW_UNVERIFIED=1); sha256 %s",
                url,
                _digest(tmp, "sha256"),
            )
        return tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _extract_member(archive: Path, member: str, dest: Path) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=".extract-", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            if zipfile.is_zipfile(archive):
                with zipfile.ZipFile(archive) as zf, zf.open(member) as src:
                    shutil.copyfileobj(src, out)
            else:
                with tarfile.open(archive) as tf:
                    member_fh = tf.extractfile(member)
                    if member_fh is None:
                        raise DataError(f"{archive}: {member} is not a regular file")
                    shutil.copyfileobj(member_fh, out)
        os.replace(tmp_name, dest)
    except KeyError as e:
        Path(tmp_name).unlink(missing_ok=True)
        raise DataError(f"{archive}: has no member {member}") from e
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _download(spec: DatasetSpec, cache: Path) -> Path:
    """Download ``spec`` into ``cache/<subdir>``; return the target path."""
    target_dir = cache / spec.subdir if spec.subdir else cache
    target_dir.mkdir(parents=True, exist_ok=True)
    if spec.is_archive:
        tmp = _fetch(spec.urls[0], target_dir, spec.checksums[0] if spec.checksums else "")
        try:
            for fname, member in zip(spec.files, spec.members):
                _extract_member(tmp, member, target_dir / fname)
        finally:
            tmp.unlink(missing_ok=True)
    else:
        for fname, url, checksum in zip(spec.files, spec.urls, spec.checksums):
            tmp = _fetch(url, target_dir, checksum)
            os.replace(tmp, target_dir / fname)
    return target_dir if spec.is_dir else target_dir / spec.files[0]


# ====================================================================== resolution
def _lookup(name: str) -> DatasetSpec | None:
    spec = DATASETS.get(name) or DATASETS.get(name.lower())
    if spec is None:
        for s in DATASETS.values():
            if name in s.aliases:
                return s
    return spec


def _resolve(
    name_or_path: str | Path,
    *,
    data_dir_: str | Path | None,
    cache_dir_: str | Path | None,
    download: bool,
) -> tuple[Path, DatasetSpec | None]:
    p = Path(name_or_path).expanduser()
    spec = _lookup(str(name_or_path)) if isinstance(name_or_path, str) else None
    looks_like_path = spec is None or os.sep in str(name_or_path) or bool(p.suffix)
    if looks_like_path and p.exists():
        return p, None
    if spec is None:
        known = ", ".join(sorted(DATASETS))
        raise DatasetNotFound(
            f"{name_or_path}: no such file, and not a dataset name (known: {known})"
        )
    assert spec is not None
    droot = data_dir(data_dir_)
    cache = cache_dir(cache_dir_)
    roots = [r for r in (droot, cache) if r is not None]
    found = _find_local(spec, roots)
    if found is not None:
        return found, spec

    why = "not found locally"
    if not spec.urls:
        why = "no download: it exists only as shared reference data"
    elif not download or os.environ.get("PAIRLM_OFFLINE") == "1":
        why = "not found locally, and downloads are off"
    else:
        try:
            logger.info("downloading %s from %s", spec.name, spec.urls[0])
            return _download(spec, cache), spec
        except DataError as e:  # checksum mismatch, bad archive, no published checksum
            why = f"not found locally, and the download failed: {e}"
            logger.warning("%s: %s", spec.name, why)
        except (OSError, http.client.HTTPException, ValueError) as e:  # URLError is an OSError
            why = f"not found locally, and the download from {spec.urls[0]} failed: {e}"
            logger.info("%s: %s", spec.name, why)

    if spec.fallback:
        fb = DATASETS[spec.fallback]
        fb_found = _find_local(fb, roots)
        if fb_found is not None:
            logger.warning(
                "dataset %r is unavailable (%s); using %r instead: %s (%s)",
                spec.name,
                why,
                fb.name,
                fb_found,
                fb.description,
            )
            return fb_found, fb

    what = (
        f"the folder {spec.subdir} holding {', '.join(spec.files)}"
        if spec.is_dir
        else (spec.files[0])
    )
    sub = f"{spec.subdir}/" if spec.subdir and not spec.is_dir else ""
    lines = [
        f"dataset {spec.name!r} ({spec.description}) is unavailable: {why}.",
        f"Put {what} in one of:",
        f"  {droot / sub if droot is not None else '$PAIRLM_DATA_DIR/' + sub}"
        "  (set PAIRLM_DATA_DIR to the folder holding it)",
    ]
    lines.append(f"  {cache / sub if sub else cache}  (the user cache; PAIRLM_CACHE_DIR)")
    if spec.urls:
        lines.append(f"It downloads from {spec.urls[0]}.")
    if spec.fallback:
        lines.append(
            f"(The fallback {spec.fallback!r} ({', '.join(DATASETS[spec.fallback].files)}) "
            "was not found either.)"
        )
    lines.append("Or pass the path of the file itself.")
    raise DatasetNotFound("\n".join(lines))


def resolve_dataset(
    name_or_path: str | Path,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
) -> Path:
    """The local path of a dataset name (see `DATASETS`) or an explicit path.

    Order: explicit existing path -> ``data_dir`` / ``$PAIRLM_DATA_DIR`` (flat, or the shared
    ``qqp/``, ``mrpc/``, ``stsb/`` layout) -> user cache -> download (official URL, checksum
    verified, atomic rename) -> fallback dataset (``qqp`` -> ``qqp-subset``, with a warning)
    -> `DatasetNotFound` saying which file to put where.
    """
    path, _ = _resolve(name_or_path, data_dir_=data_dir, cache_dir_=cache_dir, download=download)
    return path


def load_dataset(
    name_or_path: str | Path,
    *,
    split: str | None = None,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
    **read_kw: Any,
) -> PairDataset:
    """Resolve a dataset (`resolve_dataset`) and read it (`read_pairs`, format from the
    registry or detected). For a directory dataset (``qqp-glue``, or a path to a GLUE
    directory) ``split`` picks "train" (default), "dev" or "test"."""
    path, spec = _resolve(name_or_path, data_dir_=data_dir, cache_dir_=cache_dir, download=download)
    if path.is_dir():
        task = "mrpc" if spec is not None and spec.name.startswith("mrpc") else "qqp"
        if spec is None and (
            (path / "msr_paraphrase_train.txt").exists() or path.name.lower() == "mrpc"
        ):
            task = "mrpc"
        read_kw.pop("fmt", None)
        splits = read_glue_dir(path, task, **read_kw)  # type: ignore[arg-type]
        want = split or "train"
        if want not in splits:
            raise DataError(f"{path}: no {want!r} split (found {sorted(splits)})")
        return splits[want]
    if split is not None:
        raise ValueError(f"split= only applies to directory datasets; {path} is a file")
    fmt = read_kw.pop("fmt", None) or "auto"
    if fmt == "auto" and spec is not None:
        fmt = spec.format
    if spec is not None and spec.format == "tsv":
        raise DataError(f"dataset {spec.name!r} is not a pair file")
    read_kw.setdefault("name", spec.name if spec is not None else None)
    if spec is not None and spec.evaluation_split:
        read_kw.setdefault("drop_self_pairs", False)
        read_kw.setdefault("drop_duplicates", False)
    return read_pairs(path, fmt, **read_kw)
