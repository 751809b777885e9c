"""Export a generator so that it runs without Ganzo: TorchScript, and ONNX when
the ``onnx`` package is installed (``pip install 'ganzo[onnx]'``); ``deh --export``.

The exported model takes what the generator takes (noise ``B x Z``, or images
``B x C x H x W`` for translation; in a conditional run noise and labels ``B``,
int64, a second input; any batch size ``B``) and returns images
``B x C x H x W`` in [-1, 1], equal to the generator's output in evaluation mode.
It is exported from the CPU, so it loads anywhere.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import sys
import warnings
from functools import partial
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn

import ganzo
from ganzo.errors import GanzoError
from ganzo.files import atomic_write, temporary_file
from ganzo.inference import input_transform
from ganzo.kind import kind_of
from ganzo.noise import Noise, generator_inputs
from ganzo.options import device, path_is_writable
from ganzo.snapshot import generate

# What the model is (JSON), kept in the TorchScript archive: read it with
# torch.jit.load(path, _extra_files=(files := {'ganzo.json': ''})).
METADATA = 'ganzo.json'
JIT_DEPRECATED = r'`torch\.jit'  # TorchScript is deprecated in PyTorch 2.x, and still asked for


def onnx_path(path: Path) -> Path:
    """Where the ONNX model goes: beside the TorchScript one, with the suffix .onnx."""
    return path.with_suffix('.onnx')


def onnx_available() -> bool:
    """Whether ``torch.onnx.export`` can run: it needs ``onnx`` and ``onnxscript``."""
    return all(importlib.util.find_spec(name) for name in ('onnx', 'onnxscript'))


def trace(generator: nn.Module, example: tuple[torch.Tensor, ...]) -> torch.jit.ScriptModule:
    """The generator, in evaluation mode on the CPU, traced on ``example`` (a
    batch of each of its inputs); a ``GanzoError`` if the trace does not give the
    generator's output on another batch size."""
    model = copy.deepcopy(generator).cpu().eval()
    example = tuple(tensor.cpu() for tensor in example)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings('ignore', JIT_DEPRECATED, FutureWarning)
        traced = torch.jit.trace(model, example)
        other = tuple(torch.cat([tensor, tensor[:1]]) for tensor in example)
        if not torch.allclose(traced(*other), model(*other), rtol=1e-5, atol=1e-6):
            raise GanzoError(f'the {type(generator).__name__} cannot be exported by tracing: its '
                             'traced output differs from its own on another batch size')
    return traced


def save_torchscript(traced: torch.jit.ScriptModule, path: Path, metadata: dict[str, Any]) -> None:
    extra = {METADATA: json.dumps(metadata, sort_keys=True)}
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', JIT_DEPRECATED, FutureWarning)
        atomic_write(path, partial(torch.jit.save, traced, _extra_files=extra))


class NoiseAndLabels(nn.Module):
    """A conditional generator with its two inputs named in ``forward``, as
    ``torch.export`` wants them (the networks take ``(noise, *condition)``)."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.generator(noise, labels)


def save_onnx(generator: nn.Module, example: tuple[torch.Tensor, ...], path: Path,
              input_names: list[str]) -> None:
    """The generator as ONNX (opset of ``torch.onnx.export``), batch size dynamic."""
    model = copy.deepcopy(generator).cpu().eval()
    if len(example) == 2:
        model = NoiseAndLabels(model)
    descriptor, temporary = temporary_file(path)
    os.close(descriptor)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            torch.onnx.export(model, tuple(tensor.cpu() for tensor in example), temporary,
                              input_names=input_names, output_names=['images'],
                              external_data=False, verbose=False,
                              dynamic_shapes=tuple({0: torch.export.Dim.DYNAMIC}
                                                   for _ in example))
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def export(generator: nn.Module, example: tuple[torch.Tensor, ...], path: Path,
           input_names: list[str], metadata: dict[str, Any]) -> list[Path]:
    """Write ``generator`` as TorchScript to ``path`` and, when onnx is installed,
    as ONNX to ``onnx_path(path)``; ``example`` is a batch of each of its inputs,
    named ``input_names``. The paths written. An ONNX failure is a warning on
    stderr: the TorchScript model is complete."""
    save_torchscript(trace(generator, example), path, metadata)
    written = [path]
    if onnx_available():
        try:
            save_onnx(generator, example, onnx_path(path), input_names)
            written.append(onnx_path(path))
        except Exception as error:  # noqa: BLE001 (the exporter raises many kinds)
            reason = ' '.join(str(error).split())[:300]
            print(f'warning: ONNX export failed ({type(error).__name__}: {reason}); '
                  f'the TorchScript model {path} is complete', file=sys.stderr)
    return written


def export_generator(options: argparse.Namespace, generator: nn.Module) -> str:
    """The generator as TorchScript (and ONNX) at ``--export``; what was written."""
    path = Path(options.export)
    if path.suffix.lower() == '.onnx':
        raise GanzoError(f'--export {path}: give the TorchScript file, such as generator.pt; '
                         'the ONNX model goes beside it with the suffix .onnx')
    for target in (path, onnx_path(path)):
        if target.exists():
            raise GanzoError(f'--export {path}: {target} already exists; choose another path '
                             'or delete it')
    if not path_is_writable(path.parent):
        raise GanzoError(f'--export {path}: cannot write in {path.parent}')
    kind = kind_of(options)
    if kind.translates:
        blank = Image.new('RGB', (options.image_size, options.image_size))
        example: tuple[torch.Tensor, ...] = (
            torch.stack([input_transform(options)(blank)] * 2).to(device(options)),)
        input_names = ['inputs']
    else:
        example = generator_inputs(Noise.from_options(options), 2, kind,
                                   torch.arange(2) % max(1, len(kind.classes)))
        input_names = ['noise', 'labels'][:len(example)]
    outputs = generate(generator, *example)
    metadata = {'ganzo_version': ganzo.__version__, 'experiment': options.experiment,
                'checkpoint': options.checkpoint, 'input': input_names[0],
                'input_shape': ['B', *example[0].shape[1:]],
                'output_shape': ['B', *outputs.shape[1:]]}
    if kind.conditional:
        metadata.update(inputs=input_names, classes=list(kind.classes))
    if kind.both_ways:  # which of the two generators of unpaired translation
        metadata['direction'] = options.direction
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        written = export(generator, example, path, input_names, metadata)
    except OSError as error:
        raise GanzoError(f'--export {path}: cannot write it ({error.strerror or error}); '
                         'nothing was written: choose another path') from None
    missing = '' if onnx_available() else " (no ONNX: pip install 'ganzo[onnx]')"
    return f'exported the generator to {" and ".join(map(str, written))}{missing}'
