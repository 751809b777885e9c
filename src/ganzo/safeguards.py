"""Safeguards of a training run: a clean stop on SIGINT or SIGTERM, and a stop
when training diverges.

``StopSignals`` turns SIGINT (Ctrl-C) and SIGTERM into a request to stop at the
next safe point, the end of the current batch: the partial epoch is dropped,
``checkpoint.pt`` keeps the last completed epoch, and ``--restore`` continues
from there exactly. A second signal stops at once (checkpoints are written
atomically, so that is safe too). Either way the run ends with ``Interrupted``,
whose ``status`` is 128 + the signal number (130 for SIGINT, 143 for SIGTERM).

``check_finite`` stops the run with a ``GanzoError`` naming the epoch and the
loss when a loss or a tensor of the training state is not finite, before
anything of that epoch is saved.

Before training, ``enough_memory`` turns models too large to allocate into one
line, and ``check_batch_norm`` finds the BatchNorm layers that a batch of one
image cannot train.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable

import torch
from torch import nn

from ganzo.errors import GanzoError, one_line
from ganzo.kind import kind_of

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The run stopped on a signal; ``status`` is the exit status to use.

    A ``KeyboardInterrupt``, so that no ``except Exception`` swallows it."""

    def __init__(self, message: str, number: int) -> None:
        super().__init__(message)
        self.status = 128 + number


class StopSignals:
    """``with StopSignals(last) as stop:`` around the training loop, where
    ``last`` is the epoch of the checkpoint on disk (0 for none): a first
    SIGINT or SIGTERM stops the run at the end of the current batch
    (``stop.checking(progress)`` wraps the game's progress callback) or after
    the checkpoint of the current epoch (``stop.saved(epoch)``). Outside the
    main thread, signals cannot be caught and this does nothing."""

    def __init__(self, last: int = 0) -> None:
        self.last = last
        self.received: int | None = None
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        self.process = os.getpid()
        if threading.current_thread() is threading.main_thread():
            self.previous = {number: signal.signal(number, self._handle) for number in SIGNALS}
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, trace: Any) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        if self.received is not None and isinstance(error, Exception) \
                and not isinstance(error, GanzoError):
            # An unexpected error after the signal is its consequence (a DataLoader
            # worker that Ctrl-C stopped too): report the interruption instead.
            raise self._interrupted() from None

    def _handle(self, number: int, frame: Any) -> None:
        if os.getpid() != self.process:
            return  # a forked DataLoader worker: the main process stops it
        name = signal.Signals(number).name
        if self.received is not None:
            raise Interrupted(f'{name} again: stopped at once; {self._where()}', number)
        self.received = number
        # os.write: printing here could re-enter a print of the main thread.
        os.write(2, f'\nganzo: {name} received: stopping at the end of this batch '
                    f'({name} again stops at once)\n'.encode())

    def _where(self) -> str:
        if not self.last:
            return 'no epoch was completed: run the same command to start again'
        return (f'checkpoint.pt holds epoch {self.last}: run the same command with --restore '
                'to continue from there')

    def _interrupted(self) -> Interrupted:
        assert self.received is not None
        name = signal.Signals(self.received).name
        return Interrupted(f'stopped by {name}; {self._where()}', self.received)

    def check(self) -> None:
        """Raise ``Interrupted`` if a signal has arrived."""
        if self.received is not None:
            raise self._interrupted()

    def checking(self, progress: Callable[..., None]) -> Callable[..., None]:
        """``progress``, then a check for signals: the game's callback after each batch."""
        def checked(*arguments: Any) -> None:
            progress(*arguments)
            self.check()
        return checked

    def saved(self, epoch: int) -> None:
        """The checkpoint of ``epoch`` is on disk: stop here if a signal arrived."""
        self.last = epoch
        self.check()


def non_finite(state: Any, name: str = '') -> str | None:
    """The name of the first floating point tensor in the nested dicts and lists
    ``state`` that holds NaN or infinity, or None."""
    if isinstance(state, torch.Tensor):
        finite = not state.is_floating_point() or bool(torch.isfinite(state).all())
        return None if finite else name
    if isinstance(state, dict):
        items = state.items()
    elif isinstance(state, (list, tuple)):
        items = enumerate(state)
    else:
        return None
    for key, value in items:
        found = non_finite(value, f'{name}.{key}' if name else str(key))
        if found is not None:
            return found
    return None


def check_finite(epoch: int, losses: dict[str, float], components: dict[str, Any]) -> None:
    """A ``GanzoError`` naming the epoch and the losses when a loss of ``epoch``
    or a tensor in a component's ``state_dict()`` is NaN or infinite."""
    shown = ', '.join(f'{name} loss {value:.4g}' for name, value in losses.items())
    advice = (f'nothing of epoch {epoch} was saved: continue with --restore and lower learning '
              'rates (--generator-lr, --discriminator-lr)')
    for name, value in losses.items():
        if not math.isfinite(value):
            raise GanzoError(f'training diverged in epoch {epoch}: the {name} loss is {value} '
                             f'({shown}); {advice}')
    for name, component in components.items():
        found = non_finite(component.state_dict())
        if found is not None:
            raise GanzoError(f'training diverged in epoch {epoch}: {name} {found} is not finite '
                             f'({shown}); {advice}')


# Before training

@contextmanager
def enough_memory() -> Iterator[None]:
    """Within it (while the components are built), a tensor too large to
    allocate is a ``GanzoError`` that names the options that size the models."""
    try:
        yield
    except (MemoryError, RuntimeError) as error:
        text = str(error)
        if not isinstance(error, MemoryError) and not any(
                words in text for words in ('allocate', 'out of memory', 'overflow',
                                            'negative dimension')):
            raise
        tried = re.search(r'[Tt]ried to allocate ([\d.]+ ?\w+)', text)
        reason = f'it tried to allocate {tried[1]}' if tried else one_line(error)[:200]
        raise GanzoError(f'the models do not fit in memory ({reason}): lower --image-size, '
                         '--generator-channels, --discriminator-channels or --state-size'
                         ) from None


def check_batch_norm(options: argparse.Namespace, generator: nn.Module,
                     discriminator: nn.Module) -> None:
    """A ``GanzoError`` if training would normalise a ``1 x 1`` map with
    BatchNorm over a batch of one image (``--batch-size 1``): one value per
    channel, which BatchNorm cannot train with. Found by a forward pass of each
    network on the meta device: shapes only, nothing computed or drawn."""
    if options.batch_size > 1:
        return
    kind, size = kind_of(options), options.image_size
    images = kind.image_colors + (kind.input_colors if kind.translates else 0)
    inputs = {'generator': (generator, (1, kind.input_colors, size, size) if kind.translates
                            else (1, options.state_size)),
              'discriminator': (discriminator, (1, images, size, size))}
    for name, (model, shape) in inputs.items():
        meta = {key: torch.empty_like(tensor, device='meta') for key, tensor
                in itertools.chain(model.named_parameters(), model.named_buffers())}
        try:
            torch.func.functional_call(model, meta, (torch.zeros(shape, device='meta'),))
        except ValueError as error:
            if 'more than 1 value per channel' in str(error):
                raise GanzoError(f'--batch-size 1: the {name} normalises a 1 x 1 map with '
                                 'BatchNorm, which needs more than one value per channel: use '
                                 f'--batch-size 2 or more, or fewer --{name}-layers') from None
        except Exception:  # noqa: BLE001, S110 (a network the meta device cannot run: training will tell)
            pass
