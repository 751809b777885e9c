"""Acceleration: how the games run the models fast, in one place.

``Acceleration.from_options(options)`` reads ``--precision`` (``auto``: the fastest
of the device, see ``ganzo.hardware``), ``--channels-last`` and ``--compile``; a game then

* ``prepare(model)``: moves the model to ``--device`` in the chosen memory format,
  compiled with ``torch.compile`` if asked (in place: ``state_dict`` keys do not change);
* ``to_device(batch)``: moves a batch there, ``B x C x H x W`` images in the memory
  format (non-blocking, so a pinned batch is copied to a GPU while the previous step runs);
* ``autocast()``: runs the forward passes and losses in ``--precision``;
* ``scaler()``: a gradient scaler for each optimizer, active only for fp16 (bf16 has
  the range of fp32 and needs none); ``step(loss, optimizer, scaler)`` uses it.

Weights and optimizer states stay in fp32 whatever the precision: checkpoints and
saved models do not depend on these options.
"""

from __future__ import annotations

import argparse
import warnings
from contextlib import AbstractContextManager

import torch
from torch import nn

from ganzo import distributed
from ganzo.errors import GanzoError
from ganzo.hardware import hardware
from ganzo.options import complete, device
from ganzo.registry import with_option_parser

PRECISIONS = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}


class Acceleration:
    """Precision, memory format and compilation of the models of a game.

    Options: ``--precision`` fp32 (default), bf16 or fp16 (autocast: matrix products
    and convolutions in that type, reductions and losses in fp32; fp16 with a gradient
    scaler), or auto (bf16 where the device computes it natively, else fp16 on a CUDA
    GPU where that is native, else fp32: ``precision(options)``); a type that the
    device emulates gets a one-line warning with its cost; ``--channels-last`` (default
    on) stores images and convolution weights ``B x H x W x C`` in memory, which the CPU
    and GPU convolution kernels prefer;
    ``--compile`` (default off) compiles the models with ``torch.compile`` (the first
    steps are slow while it compiles)."""

    @staticmethod
    def add_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
        if not train:
            return
        group = parser.add_argument_group('acceleration')
        group.add_argument('--precision', choices=('auto', *PRECISIONS), default='fp32',
                           help='type of the forward passes and losses: fp32, or bf16 / fp16 '
                           'autocast with fp32 weights (fp16 with a gradient scaler), or auto: '
                           'bf16 where the device computes it natively, else fp16 on a GPU '
                           'where that is native, else fp32 (--dry-run says which); '
                           'options.json records the type chosen (default: %(default)s)')
        group.add_argument('--channels-last', action=argparse.BooleanOptionalAction,
                           default=True, help='keep images and convolution weights in the '
                           'channels-last memory format (default: on)')
        group.add_argument('--compile', action=argparse.BooleanOptionalAction, default=False,
                           help='compile the models with torch.compile: faster steps after a '
                           'slow start (default: off)')

    @staticmethod
    def from_options(options: argparse.Namespace) -> Acceleration:
        return Acceleration(options)

    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        self.device = device(options)
        self.precision = precision(options)
        self.dtype = PRECISIONS[self.precision]
        if (self.dtype is torch.bfloat16 and self.device.type == 'cuda'
                and not torch.cuda.is_bf16_supported()):
            raise GanzoError(f'--precision bf16: {torch.cuda.get_device_name(self.device)} has '
                             'no bf16 support; use --precision fp16')
        slow = hardware(self.device).slow_precision(self.precision)
        if slow and distributed.is_main():
            warnings.warn(slow, stacklevel=1)
        self.memory_format = memory_format(options)
        self.compile = options.compile

    def prepare(self, model: nn.Module, compile: bool = True) -> nn.Module:
        """``model`` (changed in place) on the device, in the memory format, compiled
        if ``--compile`` and ``compile`` (pass False for a model that must be
        differentiated twice, as ``torch.compile`` cannot do that)."""
        model.to(self.device, memory_format=self.memory_format)
        if self.compile and compile:
            model.compile()
        return model

    def to_device(self, batch: torch.Tensor) -> torch.Tensor:
        """``batch`` on the device, in the memory format if it is ``B x C x H x W``."""
        if batch.dim() == 4:
            return batch.to(self.device, memory_format=self.memory_format, non_blocking=True)
        return batch.to(self.device, non_blocking=True)

    def autocast(self) -> AbstractContextManager:
        """A context in which forward passes run in ``--precision``."""
        return torch.autocast(self.device.type, dtype=self.dtype or torch.float32,
                              enabled=self.dtype is not None)

    def scaler(self) -> torch.amp.GradScaler:
        """A gradient scaler, active for fp16 only (otherwise it passes through)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.dtype is torch.float16)

    @staticmethod
    def step(loss: torch.Tensor, optimizer: torch.optim.Optimizer,
             scaler: torch.amp.GradScaler) -> None:
        """One optimizer step on ``loss``: gradients set to None, then backward
        through the scaler (a skipped step if fp16 gradients overflowed)."""
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()


with_option_parser(Acceleration.add_options)


def precision(options: argparse.Namespace) -> str:
    """The type that ``--precision`` names: fp32, bf16 or fp16, ``auto`` resolved for
    ``--device`` (``ganzo.hardware``). The ``ganzo`` command resolves it once, before
    writing ``options.json``."""
    options = complete(options)
    if options.precision == 'auto':
        return hardware(device(options)).auto_precision
    return options.precision


def memory_format(options: argparse.Namespace) -> torch.memory_format:
    """The memory format of images and convolution weights that ``--channels-last`` asks
    for (the networks' ``from_options`` use it, so that models are in it before any
    distributed wrapper records their layout)."""
    return torch.channels_last if complete(options).channels_last else torch.contiguous_format
