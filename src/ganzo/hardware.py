"""Hardware: what the device of a run computes fast, and the defaults that suit it.

``hardware(device)`` says whether bf16 and fp16 matrix products and convolutions are
native on ``device`` (fast) or emulated (slower than fp32, often by far):

* CPU: the instruction sets that torch detects (``torch.cpu.get_capabilities()``, or
  the flags of /proc/cpuinfo with an older torch). bf16 is native with AVX512-BF16 or
  AMX-BF16 (x86: Intel Cooper Lake and Sapphire Rapids on, AMD Zen 4 on) or BF16 (ARM);
  fp16 with AVX512-FP16 or AMX-FP16 (x86) or FP16 arithmetic (ARM). Elsewhere they
  are emulated: measured by ``bench/cpu_time.py`` (DCGAN, one thread) at 3x slower
  than fp32 on an Intel Xeon with AVX-512 but without AVX512-BF16, 20x on an AMD EPYC
  with AVX2 only.
* CUDA: the compute capability: bf16 from 8.0 (Ampere), fp16 from 7.0 (tensor cores)
  and on 6.0 (P100); ROCm GPUs: both.
* MPS: fp16 is native on Apple GPUs; bf16 (macOS 14 on) is not counted as native, as
  it was not measured.

``--precision auto`` takes ``Hardware.auto_precision``; ``loader_workers(options)``
resolves ``--loader-workers`` (unset: what suits the device) and ``cache_hint``
suggests ``--cache-images`` on a GPU when the decoded images fit in memory.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import torch

from ganzo.options import complete, device

CPU_BF16 = ('avx512_bf16', 'amx_bf16', 'bf16', 'sve_bf16')
CPU_FP16 = ('avx512_fp16', 'amx_fp16', 'fp16_arith')
# The CPU features worth showing (torch's names), in that order.
CPU_SHOWN = ('avx2', 'avx512_f', 'avx512_bw', *CPU_BF16, *CPU_FP16, 'neon', 'sve')
# /proc/cpuinfo's names of those features, where they differ from torch's.
CPUINFO_NAMES = {'avx512f': 'avx512_f', 'avx512bw': 'avx512_bw', 'asimd': 'neon',
                 'asimdhp': 'fp16_arith', 'svebf16': 'sve_bf16'}
# Training time with an emulated type against fp32, as measured (see above), by the
# widest vector unit of the CPU.
CPU_EMULATION_COST = {'avx512_bw': 'about 3x ', 'avx2': 'about 20x '}
NATIVE_WITH = {('cpu', 'bf16'): 'AVX512-BF16, AMX-BF16 or ARM BF16',
               ('cpu', 'fp16'): 'AVX512-FP16, AMX-FP16 or ARM FP16',
               ('cuda', 'bf16'): 'compute capability 8.0 on',
               ('cuda', 'fp16'): 'compute capability 7.0 on, or 6.0'}


@dataclass(frozen=True)
class Hardware:
    """What ``device`` computes fast: ``bf16`` and ``fp16`` are True where that
    type's matrix products and convolutions are native. ``name`` is the CPU model or
    the GPU's name, ``features`` what the answer rests on (CPU features as torch
    names them, or the compute capability)."""

    device: str
    name: str
    features: tuple[str, ...]
    bf16: bool
    fp16: bool

    @property
    def type(self) -> str:
        return torch.device(self.device).type

    @property
    def auto_precision(self) -> str:
        """What ``--precision auto`` runs in: bf16 where it is native, else fp16 on
        a CUDA GPU where that is native (with a gradient scaler), else fp32."""
        if self.bf16:
            return 'bf16'
        if self.fp16 and self.type == 'cuda':
            return 'fp16'
        return 'fp32'

    def native(self, precision: str) -> bool:
        return precision == 'fp32' or getattr(self, precision, False)

    def emulated(self, precision: str) -> bool:
        """Whether ``precision`` is known to be emulated here (MPS's bf16 is unknown)."""
        return not self.native(precision) and (self.type, precision) in NATIVE_WITH

    def slow_precision(self, precision: str) -> str | None:
        """A one-line warning when ``precision`` is emulated here, with its expected
        cost; None otherwise."""
        if not self.emulated(precision):
            return None
        cost = next((CPU_EMULATION_COST[unit] for unit in CPU_EMULATION_COST
                     if self.type == 'cpu' and unit in self.features), '')
        return (f'--precision {precision}: {self.name} has no native {precision} '
                f'({NATIVE_WITH[self.type, precision]}), so it is emulated: expect training '
                f'{cost}slower than in {self.auto_precision}, which --precision auto runs in '
                'here')

    def describe(self) -> str:
        """One line: the device, what it rests on, bf16 and fp16, and auto's choice."""
        def state(precision: str) -> str:
            return ('native' if self.native(precision) else 'emulated (slow)'
                    if self.emulated(precision) else 'not known to be native')
        features = ', '.join(self.features) or 'features unknown'
        return (f'{self.device}: {self.name} ({features}): bf16 {state("bf16")}, fp16 '
                f'{state("fp16")}; --precision auto runs in {self.auto_precision}')


@cache
def hardware(chosen: torch.device | str) -> Hardware:
    """What ``chosen`` computes fast (see the module's docstring)."""
    chosen = torch.device(chosen)
    if chosen.type == 'cuda':
        return cuda_hardware(chosen)
    if chosen.type == 'mps':
        return Hardware('mps', 'Apple GPU (MPS)', (), bf16=False, fp16=True)
    features = cpu_features()
    shown = tuple(name for name in CPU_SHOWN if features.get(name))
    return Hardware(chosen.type, cpu_name(features), shown,
                    bf16=any(features.get(name) for name in CPU_BF16),
                    fp16=any(features.get(name) for name in CPU_FP16))


def cuda_hardware(chosen: torch.device) -> Hardware:
    index = chosen.index if chosen.index is not None else torch.cuda.current_device()
    name = torch.cuda.get_device_name(index)
    if torch.version.hip:
        return Hardware(f'cuda:{index}', name, ('ROCm',), bf16=True, fp16=True)
    major, minor = torch.cuda.get_device_capability(index)
    return Hardware(f'cuda:{index}', name, (f'compute capability {major}.{minor}',),
                    bf16=major >= 8, fp16=major >= 7 or (major, minor) == (6, 0))


def cpu_features() -> dict[str, Any]:
    """The CPU's features as torch names them (``torch.cpu.get_capabilities``, torch
    2.9 on), or from /proc/cpuinfo."""
    capabilities = getattr(torch.cpu, 'get_capabilities', None)
    if capabilities is not None:
        return dict(capabilities())
    cpuinfo = Path('/proc/cpuinfo')
    text = cpuinfo.read_text(errors='replace') if cpuinfo.exists() else ''
    flags = re.search(r'^(?:flags|Features)\s*:\s*(.*)$', text, re.MULTILINE)
    model = re.search(r'^model name\s*:\s*(.*)$', text, re.MULTILINE)
    features: dict[str, Any] = {CPUINFO_NAMES.get(flag, flag): True
                                for flag in (flags.group(1).split() if flags else ())}
    if model:
        features['cpu_name'] = model.group(1).strip()
    return features


def cpu_name(features: dict[str, Any]) -> str:
    import platform
    return str(features.get('cpu_name') or platform.processor() or platform.machine() or 'CPU')


# The data path

def loader_workers(options: argparse.Namespace) -> int:
    """``--loader-workers``, or when unset what suits the device: on CUDA one worker per
    CPU core left to each training process of this machine (at most 8), so that
    decoding keeps up with the GPU; elsewhere 0 (decoding in the training process is
    cheap next to a CPU training step, and workers would take its cores)."""
    options = complete(options)
    if options.loader_workers is not None:
        return options.loader_workers
    if device(options).type != 'cuda':
        return 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    processes = int(os.environ.get('LOCAL_WORLD_SIZE', '1'))
    return max(1, min(8, (cpus or 1) // processes - 1))


def cache_hint(options: argparse.Namespace, images: int) -> str | None:
    """On CUDA, a suggestion to pass ``--cache-images`` when ``images`` images of
    ``single-image`` data, decoded, take under a quarter of the memory; None otherwise."""
    options = complete(options)
    if (options.cache_images or options.data_format != 'single-image' or not images
            or device(options).type != 'cuda'):
        return None
    size = images * options.image_colors * options.image_size ** 2
    if size > memory() / 4:
        return None
    return (f'the {images:,} images take {size / 2**20:,.0f} MiB decoded: --cache-images '
            'would decode them once, not every epoch, so that loading keeps up with the GPU')


def memory() -> int:
    """Bytes of memory of this machine (0 where unknown)."""
    try:
        return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
    except (AttributeError, ValueError, OSError):
        return 0
