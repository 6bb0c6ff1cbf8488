"""Data-parallel LoRA training entry point for ``torchrun`` / ``accelerate launch``.

One process per GPU (or per CPU worker); the launcher sets RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR and MASTER_PORT. Every rank reads the same data, trains on its share of each
epoch's batches and averages gradients with the others (NCCL on GPUs, gloo on CPUs), so
every rank ends with the same adapter; rank 0 saves the model. The same command scales from
one process to several GPUs or nodes::

    torchrun --nproc_per_node 8 -m pairlm.models.llm.distributed \\
        --data qqp-subset --out runs/lora --set backbone=/models/llama-7b --set load_in=4bit

    # two nodes
    torchrun --nnodes 2 --node_rank 0 --master_addr HOST --master_port 29500 \\
        --nproc_per_node 8 -m pairlm.models.llm.distributed --data ... --out ...

    accelerate launch -m pairlm.models.llm.distributed --data ... --out ...

Without a launcher (WORLD_SIZE unset) it trains in one process, like ``pairlm train``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def init_process_group(backend: str | None = None) -> tuple[int, int, str]:
    """Initialise torch.distributed from the launcher's environment; returns (rank, world,
    device). NCCL and one GPU per local rank when CUDA is available, else gloo on CPU."""
    import torch
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and backend != "gloo"
    device = f"cuda:{local}" if use_cuda else "cpu"
    if use_cuda:
        torch.cuda.set_device(local)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend=backend or ("nccl" if use_cuda else "gloo"))
    return rank, world, device


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pairlm.models.llm.distributed",
        description="Data-parallel LoRA / QLoRA training (run under torchrun or accelerate).",
    )
    p.add_argument("--data", required=True, help="training pairs: a path or a dataset name")
    p.add_argument("--valid", help="validation pairs (default: an inner split of --data)")
    p.add_argument("--format", default="auto")
    p.add_argument("--out", required=True, help="directory of the saved model (rank 0)")
    p.add_argument("--config", help="TOML or JSON file with llm-lora config keys")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override")
    p.add_argument("--max-train", type=int, help="train on a seeded subsample of this size")
    p.add_argument("--backend", choices=["nccl", "gloo"], help="default: nccl on GPUs, else gloo")
    p.add_argument(
        "--dump-adapter",
        metavar="DIR",
        help="every rank writes its trained adapter tensors to DIR/rank<R>.safetensors",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    from pairlm.configfile import load_config_file, parse_overrides
    from pairlm.data import load_dataset
    from pairlm.data.splits import stratified_subsample
    from pairlm.models.llm.lora import LLMLoRAClassifier, LoRAConfig
    from pairlm.models.llm.train import trainable_state

    rank, world, device = init_process_group(args.backend)
    config: dict[str, Any] = {**load_config_file(args.config), **parse_overrides(args.set)}
    config.setdefault("device", device)
    if rank != 0:
        config["progress"] = False
    train = load_dataset(args.data, fmt=args.format)
    if args.max_train and len(train) > args.max_train:
        train = train.subset(
            stratified_subsample(train, args.max_train, int(config.get("seed", 0)))
        )
    valid = load_dataset(args.valid, fmt=args.format) if args.valid else None
    model = LLMLoRAClassifier(LoRAConfig.from_dict(config))
    model.fit(train, valid)
    if args.dump_adapter:
        from safetensors.torch import save_file

        Path(args.dump_adapter).mkdir(parents=True, exist_ok=True)
        save_file(
            trainable_state(model.model_), str(Path(args.dump_adapter) / f"rank{rank}.safetensors")
        )
    if rank == 0:
        model.save(args.out)
        print(
            json.dumps(
                {
                    "world_size": world,
                    "train_pairs": len(train),
                    "steps": model.state_.step,
                    "fit_seconds": round(model.fit_seconds_, 1),
                    "threshold": model.threshold_,
                    "out": str(args.out),
                }
            )
        )
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
