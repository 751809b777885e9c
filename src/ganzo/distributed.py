"""Distributed training: several processes, one per GPU, on one machine or many,
with ``torch.distributed`` and ``DistributedDataParallel``, launched by torchrun.

* ``ganzo --parallel`` starts one process per visible GPU, as
  ``torchrun --standalone --nproc-per-node=<GPUs> -m ganzo ...`` would (``launch``).
* Under torchrun (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT`` in the
  environment) every process joins the process group: nccl for CUDA tensors,
  gloo for CPU tensors; each process uses the GPU of its ``LOCAL_RANK``.
* Rank 0 resolves the options and the experiment (``Processes.from_main``),
  builds the components before the others do (``Processes.main_first``: one
  error message, one download), reads the checkpoint for everyone and writes
  every file (``SharedExperiment``, ``Processes.main_only``).
* Each process reads its own shard of every epoch (``EpochOrder``), trains
  models whose gradients are averaged (``prepare``: DDP, SyncBatchNorm on CUDA)
  and reseeds its random generators each epoch from ``--seed``, the epoch and its
  rank (``seed_epoch``): a run restored with the same number of processes
  continues exactly, and one restored with another number continues.
* A failed process ends the job: torchrun stops the others, and a process that
  loses its peers ends with a clear message (``command``). Collectives wait at
  most ``GANZO_PARALLEL_TIMEOUT`` seconds (default 600).

``Processes`` gathers what the training loop asks of the process group; in a
single process (outside torchrun) each of its methods does what one process needs.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import re
import signal
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Sampler

from ganzo.contracts import Losses
from ganzo.errors import GanzoError
from ganzo.experiment import Experiment
from ganzo.options import device
from ganzo.state import Checkpoint, TrainingState, seed_everything

# DDP copies rank 0's buffers (batch normalisation statistics) to the others before
# each forward unless told not to: SyncBatchNorm keeps them equal on CUDA, and on the
# CPU each process keeps its own (rank 0's are saved). Recent torch renamed the flag.
NO_BUFFER_SYNC = ({'forward_sync_buffers': False} if 'forward_sync_buffers' in
                  inspect.signature(nn.parallel.DistributedDataParallel).parameters
                  else {'broadcast_buffers': False})
TORCHRUN_VARIABLES = ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
Result = TypeVar('Result')


def under_torchrun() -> bool:
    """Whether this process was started by torchrun (or anything that sets its variables)."""
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def unwrapped(model: nn.Module) -> nn.Module:
    """The model inside a ``DistributedDataParallel`` wrapper, or the model itself
    (to call its methods other than ``forward``)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def is_main() -> bool:
    """Whether this is the process that writes (rank 0, or the only one)."""
    return rank() == 0


# Starting and joining

def gpus(options: argparse.Namespace) -> int:
    """The number of processes ``--parallel`` starts: one per visible GPU."""
    chosen = device(options)
    count = torch.cuda.device_count()
    on_the_cpu = 'to train with N processes on the CPU, run torchrun --nproc-per-node N -m ganzo'
    if count == 0:
        raise GanzoError(f'--parallel starts one process per GPU and there is no GPU here: '
                         f'leave it out ({on_the_cpu} ...)')
    if chosen.type != 'cuda':
        raise GanzoError(f'--parallel starts one process per GPU: leave out --device '
                         f'{options.device} or --parallel ({on_the_cpu} ...)')
    if chosen.index is not None:
        raise GanzoError(f'--device {options.device} names one GPU but --parallel uses all: '
                         'choose them with CUDA_VISIBLE_DEVICES and pass --device cuda')
    return count


def launch(argv: list[str], processes: int) -> None:
    """Run ``python -m ganzo argv`` in ``processes`` processes on this machine,
    as ``torchrun --standalone --nproc-per-node=processes`` does. If one fails,
    the others are stopped and one line says which failed and how (exit status 1),
    unless it was a user mistake, which that process has told (exit status 2)."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    logging.getLogger('torch.distributed.elastic').setLevel(logging.CRITICAL)
    os.environ.setdefault('OMP_NUM_THREADS', '1')  # as torchrun does
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=processes,
                          run_id=str(uuid.uuid4()), rdzv_backend='c10d',
                          rdzv_endpoint='127.0.0.1:0', max_restarts=0)
    try:
        elastic_launch(config, sys.executable)('-m', 'ganzo', *argv)
    except SignalException as error:  # the processes got the signal too, and stopped
        if error.sigval == signal.SIGINT:
            raise KeyboardInterrupt from None
        raise SystemExit(128 + error.sigval) from None
    except ChildFailedError as error:
        rank, failure = min(error.failures.items(), key=lambda item: item[1].timestamp)
        if failure.exitcode == 2:
            raise SystemExit(2) from None
        print(f'ganzo: error: rank {rank} of {processes} {exit_reason(failure.exitcode)}, '
              'so the others were stopped', file=sys.stderr)
        raise SystemExit(1) from None


def exit_reason(code: int) -> str:
    if code < 0:
        return f'was killed by {signal.Signals(-code).name}'
    return f'failed with exit status {code} (its messages are above)'


def timeout() -> timedelta:
    """How long a collective waits for the other processes: ``GANZO_PARALLEL_TIMEOUT``
    seconds, 600 by default."""
    text = os.environ.get('GANZO_PARALLEL_TIMEOUT', '600')
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0
    if not 0 < seconds < float('inf'):
        raise GanzoError(f'GANZO_PARALLEL_TIMEOUT={text!r}: expected a positive number of '
                         'seconds')
    return timedelta(seconds=seconds)


@contextmanager
def process_group() -> Iterator[None]:
    """Join the process group that torchrun set up; leave it at the end. A process
    that loses the others ends with one line that says so and status 1."""
    local_rank = int(os.environ.get('LOCAL_RANK', 0))
    backend = 'gloo'
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        backend = 'cpu:gloo,cuda:nccl'
    dist.init_process_group(backend, timeout=timeout())
    try:
        yield
    except (dist.DistError, RuntimeError) as error:
        if not lost_contact(error):
            raise
        print(f'ganzo: error: rank {rank()} of {world_size()} lost contact with the others, '
              f'probably because one of them failed ({reason(error)})', file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        dist.destroy_process_group()


def lost_contact(error: BaseException) -> bool:
    """Whether ``error`` says that a collective could not reach the other processes
    (gloo and the DDP reducer raise a plain RuntimeError)."""
    text = str(error)
    return isinstance(error, dist.DistError) or any(
        word in text for word in ('gloo', 'NCCL', 'Connection closed', 'Connection reset'))


def reason(error: BaseException) -> str:
    """The gist of ``error``: its first sentence, without the source location."""
    text = re.sub(r'^\[[^\]]*\]\s*', '', str(error).strip())
    return re.split(r'\.\s|\n', text)[0] or type(error).__name__


# Working together

@contextmanager
def _shared() -> Iterator[list[Any]]:
    """Rank 0 sends the others how its block ended: (0, what it appended to the
    list), or the status they should exit with (2 after a user mistake, 1 otherwise)."""
    outcome: list[Any] = []
    try:
        yield outcome
    except BaseException as error:
        dist.broadcast_object_list([(2 if isinstance(error, GanzoError) else 1, None)])
        raise
    dist.broadcast_object_list([(0, outcome[0] if outcome else None)])


def _received() -> Any:
    """What rank 0 sent with ``_shared``; exit quietly if its block failed."""
    message: list[Any] = [None]
    dist.broadcast_object_list(message)
    status, value = message[0]
    if status:
        raise SystemExit(status)
    return value


class Nothing:
    """Stands for a component on the processes that do not write: every method does nothing."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


class SharedExperiment(Experiment):
    """An experiment trained by several processes: rank 0 writes every file and
    reads the checkpoint, which every process restores. The same as an
    ``Experiment`` in a single process."""

    def write_options(self, options: argparse.Namespace, new: bool = False) -> None:
        if is_main():
            super().write_options(options, new)

    def delete(self) -> None:
        if is_main():
            super().delete()

    def save_checkpoint(self, state: TrainingState, epoch: int) -> None:
        if is_main():
            super().save_checkpoint(state, epoch)

    def save_models(self, state: TrainingState) -> None:
        if is_main():
            super().save_models(state)

    def read_checkpoint(self) -> Checkpoint | None:
        return Processes.from_main(super().read_checkpoint)

    def lock(self, new: bool = False) -> None:
        Processes.from_main(super().lock, new)  # a run locked elsewhere stops every process

    def unlock(self, failed: bool) -> None:
        if is_main():
            super().unlock(failed)


# Data and models

class EpochOrder(Sampler):
    """The order of the items of a dataset of ``size`` items in one epoch, drawn
    once per epoch: ``shuffle()`` draws the next epoch's permutation from
    ``generator``, and iterating gives it, as often as the loader asks (its
    prefetching and persistent workers may ask more than once, or start the next
    epoch's iterator early): the order depends on the generator and the number of
    epochs alone, never on ``--loader-workers``. In a distributed run every
    process holds the same generator state, draws the same permutation and keeps
    its shard, every ``replicas``-th item from its ``rank`` (the tail that does
    not divide evenly is dropped, so that every process has as many batches).
    With ``item_seeds``, each item comes with a seed of its own, ``(index, seed)``,
    drawn with the order, for random transforms that must not depend on which
    process loads the item."""

    def __init__(self, size: int, generator: torch.Generator, replicas: int = 1, rank: int = 0,
                 item_seeds: bool = False) -> None:
        self.size, self.generator = size, generator
        self.replicas, self.rank, self.item_seeds = replicas, rank, item_seeds
        self.order: list[Any] = []

    def shuffle(self) -> None:
        """Draw the order of the next epoch."""
        permutation = torch.randperm(self.size, generator=self.generator)
        shard = slice(self.rank, len(self) * self.replicas, self.replicas)
        self.order = permutation[shard].tolist()
        if self.item_seeds:
            seeds = torch.randint(2**62, (self.size,), generator=self.generator)
            self.order = list(zip(self.order, seeds[shard].tolist()))

    def __iter__(self) -> Iterator[Any]:
        return iter(self.order)

    def __len__(self) -> int:
        return self.size // self.replicas


def epoch_order(size: int, generator: torch.Generator, item_seeds: bool = False) -> EpochOrder:
    """The order of a dataset of ``size`` items, epoch after epoch, drawn from
    ``generator``: this process's shard of it in a distributed run."""
    return EpochOrder(size, generator, world_size(), rank(), item_seeds)


class Processes:
    """The processes that train together, as the training loop sees them: the
    process group that torchrun set up, or this process alone, in which case
    every method does what a single process needs, and nothing more."""

    @staticmethod
    @contextmanager
    def join() -> Iterator[Processes]:
        """The processes of this run: under torchrun, joined to the process group
        (left at the end; a lost peer ends the process with one line), otherwise
        this process alone."""
        if under_torchrun():
            with process_group():
                yield Processes()
        else:
            yield Processes()

    @property
    def distributed(self) -> bool:
        return dist.is_initialized()

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run's files (rank 0, or the only one)."""
        return is_main()

    @staticmethod
    def from_main(function: Callable[..., Result], *args: Any) -> Result:
        """``function(*args)`` run by the main process, its result shared with every
        process. If it fails, the main process raises the error and the others
        exit quietly."""
        if not dist.is_initialized():
            return function(*args)
        if not is_main():
            return _received()
        with _shared() as outcome:
            outcome.append(function(*args))
        return outcome[0]

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """The main process runs the block, then the others: a mistake in the
        options gives one message (the main process's; the others exit
        quietly), and a dataset that it downloads is there for the processes on
        its machine."""
        if not self.distributed:
            yield
        elif is_main():
            with _shared():
                yield
        else:
            _received()
            yield

    def main_only(self, component: Result) -> Result:
        """``component`` in the main process; something that does nothing elsewhere."""
        return component if is_main() else Nothing()  # type: ignore[return-value]

    def experiment(self, options: argparse.Namespace) -> Experiment:
        """The run directory, which the main process alone writes."""
        return SharedExperiment(options)

    def check_device(self, options: argparse.Namespace) -> torch.device:
        """``--device``, checked against the process group: each process of a
        distributed run uses the GPU of its ``LOCAL_RANK`` (or the CPU)."""
        chosen = device(options)
        if self.distributed:
            if chosen.type == 'cuda' and chosen.index is not None:
                raise GanzoError(f'--device {options.device}: each process uses the GPU of its '
                                 'LOCAL_RANK; pass --device cuda, or leave --device out')
            if chosen.type not in ('cpu', 'cuda'):
                raise GanzoError(f'--device {options.device}: distributed training runs on '
                                 'cuda or cpu')
        return chosen

    def prepare(self, options: argparse.Namespace, *models: nn.Module) -> list[nn.Module]:
        """``models`` (on ``--device``), made to train together: SyncBatchNorm on
        CUDA (on the CPU, where PyTorch has none, each process keeps its own
        batch statistics), then DistributedDataParallel, which averages the
        gradients. The modules given keep their parameters and the names of
        their weights: checkpoints and snapshots use them, the game the wrappers."""
        if not self.distributed:
            return list(models)
        cuda = device(options).type == 'cuda'
        if cuda:
            models = tuple(nn.SyncBatchNorm.convert_sync_batchnorm(model) for model in models)
        return [nn.parallel.DistributedDataParallel(
            model, device_ids=[torch.cuda.current_device()] if cuda else None, **NO_BUFFER_SYNC)
            for model in models]

    def seed_epoch(self, seed: int, epoch: int) -> None:
        """Reseed every random generator of this process from the seed, the epoch
        and the rank: the processes draw different noise, and a run restored at
        the start of an epoch draws what it would have drawn. Nothing in a single
        process (its generators continue from the checkpoint)."""
        if self.distributed:
            entropy = np.random.SeedSequence([seed, epoch, rank()]).generate_state(1, np.uint64)
            seed_everything(int(entropy[0]) >> 1)

    def mean(self, losses: dict[str, float]) -> dict[str, float]:
        """The mean of each loss over the processes (the same keys in all); the
        images of a ``Losses`` are summed."""
        if not self.distributed or not losses:
            return losses
        keys = sorted(losses)
        tensor = torch.tensor([losses[key] for key in keys] + [getattr(losses, 'images', 0)],
                              dtype=torch.float64)
        dist.all_reduce(tensor)
        means = (tensor[:-1] / world_size()).tolist()
        return Losses(dict(zip(keys, means)), int(tensor[-1]), getattr(losses, 'seconds', 0.0))
