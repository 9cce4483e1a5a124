"""Training steps on N one-thread processes (DDP over gloo), as `torchrun --nproc_per_node N
asr train --threads 1` trains: each process steps on every N-th batch and the gradients are
averaged, so the N processes together go through the batches once.

Why a benchmark of its own: on the 2-core machine the recurrence splits across intra-op threads
badly (2 threads train at 0.64x of one), and processes are the strategy the recipes use; the
training target (issue 15) compares that strategy with DeepSpeech on the same batches.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import Tensor, nn

__all__ = ["ddp_train_seconds"]

Batch = tuple[Tensor, Tensor]  # feats (batch, time, n_mels), frames (batch,)
Target = tuple[Tensor, Tensor]  # concatenated label ids, label counts (batch,)
Step = Callable[[nn.Module, Tensor, Tensor, Target, torch.optim.Optimizer], None]


def ddp_train_seconds(
    net: nn.Module, batches: Sequence[Batch], targets: Sequence[Target], step: Step, procs: int
) -> float:
    """Wall-clock seconds for `procs` one-thread processes to take one training step on every
    batch (rank r on batches r, r + procs, ...), start-up and one warm-up step excluded: the
    slowest rank's time between two barriers. Every rank steps as often (DDP averages each
    step's gradients over all), so the batches must divide evenly; `step` must pickle."""
    if len(batches) % procs:
        raise ValueError(f"{len(batches)} batches do not divide among {procs} processes")
    context = mp.get_context("spawn")  # a fresh process: no OpenMP pool inherited mid-use
    results = context.SimpleQueue()
    with socket.socket() as free:  # a port nothing listens on, for the rendezvous
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    mp.start_processes(
        _rank, (procs, port, net, list(batches), list(targets), step, results), procs,
        start_method="spawn",
    )  # fmt: skip
    return max(results.get() for _ in range(procs))


def _rank(rank, procs, port, net, batches, targets, step, results) -> None:
    torch.set_num_threads(1)
    os.environ |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    dist.init_process_group("gloo", rank=rank, world_size=procs)
    try:
        model = nn.parallel.DistributedDataParallel(net.train())
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        mine = list(zip(batches, targets, strict=True))[rank::procs]
        step(model, *mine[0][0], mine[0][1], optimizer)  # warm-up: allocator, kernels
        dist.barrier()
        start = time.perf_counter()
        for (feats, frames), target in mine:
            step(model, feats, frames, target, optimizer)
        dist.barrier()
        results.put(time.perf_counter() - start)
    finally:
        dist.destroy_process_group()
