"""Batch scoring of a saved model on Ray: `pairlm predict MODEL --data BIG --backend ray`
(`pairlm.evaluation.predict`) and `pairlm mine --backend ray` (`pairlm.search.ray_rerank`).

The file is read and validated once, in the driver, by pairlm's own reader (so the line
numbers, the counts and the reasons of unscored rows are exactly those of the local
`pairlm predict`); its scorable pairs go to Ray Data as blocks of Arrow tables, and `map_batches` with a callable class scores them on a pool of actors, each loading
the model once. The scores come back with each pair's index and are put back in input order,
every row present.

Ray is imported inside functions only: `import pairlm` never imports it. The Ray helpers
(`require_ray`, `ray_session`, `set_threads`) live here, in the lowest layer that uses Ray
(models: search may import it); the experiment runner's backend
(`pairlm.experiments.ray_backend`) uses them too. `pairlm.evaluation.ray_predict` is the old
name, kept as an alias.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pairlm.models.base import ConfigError

log = logging.getLogger(__name__)

MISSING = "--backend ray needs Ray, which is not installed: pip install 'pairlm[ray]'"
_COLUMNS = ("pair_id", "text_a", "text_b", "id_a", "id_b")


def require_ray() -> Any:
    """The `ray` module, or a one-line ConfigError saying what to install."""
    try:
        import ray
    except ImportError:
        raise ConfigError(MISSING) from None
    return ray


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[Any]:
    """Connect to Ray for the duration of a command.

    Already connected (a test, a notebook): that connection is used and left open. Else
    `address` None starts a local Ray on this machine (stopped at the end) and an address
    ("auto", "ray://host:10001", "host:6379") joins a running cluster.
    """
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    kw: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
    if address:
        kw["address"] = address
    elif num_cpus is not None:
        kw["num_cpus"] = num_cpus
    try:
        ray.init(**kw)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"--address {address}" if address else "a local Ray"
        raise ConfigError(f"--backend ray: cannot start or reach {where}: {e}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def set_threads(threads: int, level: int, families: dict[str, str]) -> None:
    """A Ray worker's setup: BLAS/torch threads, logging, and the driver's model families
    (a family registered at run time, e.g. by a test, is unknown to a fresh worker)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # A Ray worker is reused across tasks and its BLAS pools were sized when it started: set
    # them for this task, so a fold's arithmetic (BLAS splits sums by thread) does not depend
    # on which task the worker ran before.
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    from pairlm.logs import configure_logging
    from pairlm.models import registry

    configure_logging(level, "ray")
    registry.register_missing(families)


def _encode(col: np.ndarray) -> list[bytes]:
    # surrogatepass: a lone surrogate read from a JSON escape survives the trip
    return [str(v).encode("utf-8", "surrogatepass") for v in col]


def _decode(col: Any) -> np.ndarray:
    out = np.empty(len(col), dtype=object)
    out[:] = [bytes(v).decode("utf-8", "surrogatepass") for v in col]
    return out


class PairScorer:
    """Ray Data's callable class: loads the model once per actor, scores a batch of pairs."""

    def __init__(self, model_dir: str, threads: int, level: int, families: dict[str, str]):
        set_threads(threads, level, families)
        from pairlm.models.registry import load_model

        self.model = load_model(model_dir)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from pairlm.data.pairs import PairDataset

        ds = PairDataset(
            pair_id=_decode(batch["pair_id"]),
            text_a=_decode(batch["text_a"]),
            text_b=_decode(batch["text_b"]),
            label=np.asarray(batch["label"]),
            id_a=_decode(batch["id_a"]),
            id_b=_decode(batch["id_b"]),
            name="batch",
        )
        proba = np.asarray(self.model.predict_proba(ds), dtype=np.float64)
        return {"idx": np.asarray(batch["idx"], dtype=np.int64), "proba": proba}


def saved_meta(model_dir: str | Path) -> dict[str, Any]:
    """A saved model's pairlm_model.json (family, config, threshold), its family checked, with
    the errors `load_model` gives; the model itself is not loaded."""
    from pairlm.models.base import read_model_meta
    from pairlm.models.registry import get_family

    meta = read_model_meta(model_dir)
    get_family(meta["family"])  # an unknown family fails here, before Ray starts
    return {"family": meta["family"], "config": meta["config"], "threshold": meta["threshold"]}


def saved_threshold(model_dir: str | Path) -> float:
    """The decision threshold a saved model learned (without loading the model)."""
    return float(saved_meta(model_dir)["threshold"])


def _model_device(model_dir: Path) -> str:
    return str(saved_meta(model_dir)["config"].get("device", "cpu") or "cpu").lower()


def score_on_ray(
    model_dir: str | Path,
    ds: Any,
    *,
    actors: int | None = None,
    batch_size: int = 1024,
    address: str | None = None,
) -> np.ndarray:
    """P(match) of every pair of `ds` (in its order), scored by `actors` Ray actors (default:
    one per CPU of the cluster, or one per GPU when the model's device is cuda) in batches of
    `batch_size` pairs. The model directory must be readable on every node."""
    model_dir = Path(model_dir)
    if actors is not None and actors < 1:
        raise ConfigError(f"--actors must be at least 1, got {actors}")
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {batch_size}")
    n = len(ds)
    if n == 0:
        return np.zeros(0)
    require_ray()
    import pyarrow as pa

    from pairlm.models import registry

    with ray_session(address) as ray:
        import ray.data

        if logging.getLogger().getEffectiveLevel() >= logging.WARNING:
            # Ray Data logs its progress at INFO when stderr is not a terminal
            logging.getLogger("ray.data").setLevel(logging.WARNING)
        res = ray.cluster_resources()
        cpus, gpus = int(res.get("CPU", 1)), int(res.get("GPU", 0))
        device = _model_device(model_dir)
        gpu = device.startswith("cuda") or (device == "auto" and gpus > 0)
        if gpu and gpus < 1:
            raise ConfigError(
                f"{model_dir}: the model's device is {device!r} but the Ray cluster has no GPU"
            )
        n_actors = actors or (gpus if gpu else max(1, cpus))
        threads = 1 if gpu else max(1, cpus // n_actors)
        # about four blocks per actor: the pool stays busy while the driver collects
        block = max(batch_size, -(-n // (4 * n_actors)))
        tables = []
        for start in range(0, n, block):
            sl = slice(start, min(n, start + block))
            cols = {c: pa.array(_encode(getattr(ds, c)[sl]), pa.binary()) for c in _COLUMNS}
            tables.append(
                pa.table(
                    {
                        "idx": pa.array(np.arange(sl.start, sl.stop, dtype=np.int64)),
                        "label": pa.array(np.asarray(ds.label[sl])),
                        **cols,
                    }
                )
            )
        level = logging.getLogger().getEffectiveLevel()
        scored = ray.data.from_arrow(tables).map_batches(
            PairScorer,
            fn_constructor_args=(str(model_dir), threads, level, registry.targets()),
            batch_size=batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=n_actors),
            num_cpus=threads,
            num_gpus=1 if gpu else 0,
        )
        proba = np.full(n, np.nan)
        seen = np.zeros(n, dtype=bool)
        for batch in scored.iter_batches(batch_size=None, batch_format="numpy"):
            idx = batch["idx"]
            proba[idx] = batch["proba"]
            seen[idx] = True
    if not seen.all():  # a lost block would be a bug in this module, never a silent gap
        raise RuntimeError(f"Ray scoring returned {int(seen.sum())} of {n} pairs")
    return proba
