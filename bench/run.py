"""`make bench`: ganzo against a plain PyTorch baseline, on this machine, in one run.

* Training throughput (real images per second, start-up and the first epoch
  excluded) of the `ganzo` command and of `bench/baseline.py` for DCGAN at 32 and
  64 px, WGAN-GP with the `good` networks at 32 px and SNGAN at 32 px (with what
  EMA and DiffAugment cost: bench/recipes.py), same architectures and
  hyper-parameters; every variant runs once per repetition, repetitions
  interleaved, so that a slow spell of the machine hits all variants alike.
  Ratios are the median of each repetition's ratio to the baseline of the same
  repetition.
* Data pipeline throughput of `SingleImageData` (bench/pipeline.py): a folder of
  PNGs, with and without loader workers, and the in-memory cache.
* Peak resident memory of each process; GFLOP per real image (counted by
  torch.utils.flop_counter) and the fraction of the machine's ceiling reached.
* Seconds per epoch against the number of images and the image size.
* Images per CPU-second on one thread (bench/cpu_time.py, DCGAN 64 px): ratios
  that hold up when other processes share the CPUs.

The results say which case of hardware they hold on (ganzo.hardware: the CPU or
GPU, its features, whether bf16 and fp16 are native); variants in a type that the
device emulates (bf16 on a CPU without AVX512-BF16 or AMX, 3x to 20x slower) are
left out unless BENCH_EMULATED=1, and `ganzo auto` (--precision auto) always runs.

Results go to bench/results/<device>-<time>.json and to the tables of
bench/README.md between the markers of the device. Environment:
BENCH_QUICK=1 (a check that everything works: one repetition, few batches),
BENCH_REPS (default 3), BENCH_DEVICE (default cuda if available, else cpu),
BENCH_DATA (default ../shared/data/cifar10-test; random PNGs if absent),
BENCH_EMULATED=1 (also run the variants in an emulated type).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / 'bench'
sys.path.insert(0, str(ROOT / 'src'))
sys.path.insert(0, str(BENCH))

import recipes  # noqa: E402

from ganzo.hardware import cpu_features, hardware  # noqa: E402
from ganzo.hardware import loader_workers as default_workers  # noqa: E402
from ganzo.options import complete  # noqa: E402

QUICK = os.environ.get('BENCH_QUICK', '') not in ('', '0')
REPS = int(os.environ.get('BENCH_REPS', 1 if QUICK else 3))
DEVICE = os.environ.get('BENCH_DEVICE', 'cuda' if torch.cuda.is_available() else 'cpu')
DATA = Path(os.environ.get('BENCH_DATA', ROOT.parent / 'shared' / 'data' / 'cifar10-test'))
EPOCHS = 2 if QUICK else 3  # the first one warms up (and compiles)
EMULATED = os.environ.get('BENCH_EMULATED', '') not in ('', '0')

# name, model, image size, batches per epoch (full, quick); batch 64. A WGAN-GP
# turn is 5 critic batches and 1 generator step.
CASES = [('dcgan-32', 'dcgan', 32, 10, 3), ('dcgan-64', 'dcgan', 64, 5, 2),
         ('wgan-gp-good-32', 'wgan-gp', 32, 5, 5)]
# The same hyper-parameters for ganzo and the baseline: DCGAN as pytorch/examples
# (64 channels), WGAN-GP as its paper (Adam 1e-4, betas 0 and 0.9, 5 critic steps,
# λ 10) with 32-channel good networks (at 64 channels a turn takes minutes here).
HYPER = {
    'dcgan': {'ganzo': ['--generator', 'conv', '--discriminator', 'conv', '--loss', 'gan',
                        '--generator-channels', '64', '--discriminator-channels', '64',
                        '--state-size', '100', '--generator-lr', '2e-4',
                        '--discriminator-lr', '2e-4', '--beta1', '0.5', '--beta2', '0.999'],
              'baseline': ['--model', 'dcgan', '--ngf', '64', '--ndf', '64', '--nz', '100',
                           '--lr', '2e-4', '--beta1', '0.5']},
    'wgan-gp': {'ganzo': ['--generator', 'good', '--discriminator', 'good', '--loss', 'wgan-gp',
                          '--generator-channels', '32', '--discriminator-channels', '32',
                          '--state-size', '128', '--discriminator-iterations', '5',
                          '--generator-lr', '1e-4', '--discriminator-lr', '1e-4',
                          '--beta1', '0', '--beta2', '0.9', '--gradient-penalty-factor', '10'],
                'baseline': ['--model', 'wgan-gp', '--ngf', '32', '--ndf', '32', '--nz', '128',
                             '--lr', '1e-4', '--beta1', '0', '--critic-iters', '5',
                             '--lambda', '10']},
}


CASES.append(recipes.CASE)  # SNGAN (issue 14): bench/recipes.py
HYPER.update(recipes.HYPER)


def variants(model: str) -> dict[str, list[str] | None]:
    """Variant name -> extra ganzo arguments (None: the baseline)."""
    found: dict[str, list[str] | None] = {
        'baseline fp32': None, 'ganzo fp32': [], 'ganzo auto': ['--precision', 'auto'],
        'ganzo bf16': ['--precision', 'bf16'], **recipes.variants(model)}
    if DEVICE.startswith('cuda'):
        found['ganzo fp16'] = ['--precision', 'fp16']
    if model == 'dcgan':  # WGAN-GP's critic cannot be compiled (double backward)
        found['ganzo bf16 compile'] = ['--precision', 'bf16', '--compile']
    return {name: extra for name, extra in found.items() if EMULATED or native(name)}


def variant_precision(variant: str) -> str:
    """The type a variant runs in on this device (``ganzo auto``: the type it chose)."""
    if 'auto' in variant:
        return hardware(DEVICE).auto_precision
    return next((kind for kind in ('bf16', 'fp16') if kind in variant), 'fp32')


def native(variant: str) -> bool:
    """Whether the device computes the variant's type natively (fp32 always)."""
    return hardware(DEVICE).native(variant_precision(variant))


def loader_workers() -> int:
    """The loader workers of ganzo's default on the device (0 on the CPU): the
    baseline loads with as many, so that both read the data alike."""
    return default_workers(complete(device=DEVICE))


# Running a command and measuring it

def measure(arguments: list[str], timeout: float = 1800) -> dict:
    """Run ``python arguments`` (a script or ``-m module``) to completion; its last
    stdout line (JSON) if any, its peak resident memory (main process) and wall time."""
    with tempfile.TemporaryDirectory() as folder:
        peak_file = Path(folder) / 'peak'
        env = {**os.environ, 'BENCH_PEAK_FILE': str(peak_file), 'PYTHONPATH': os.pathsep.join(
            [str(ROOT / 'src'), os.environ.get('PYTHONPATH', '')])}
        command = [sys.executable, str(BENCH / 'peak.py'), *arguments]
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT,
                                timeout=timeout)
        wall = time.perf_counter() - started
        if result.returncode != 0:
            raise RuntimeError(f'{" ".join(command)} failed ({result.returncode}):\n'
                               f'{result.stderr[-3000:]}')
        peak = float(peak_file.read_text())
    lines = result.stdout.strip().splitlines()
    values = json.loads(lines[-1]) if lines and lines[-1].startswith('{') else {}
    return {**values, 'peak_rss_mib': peak, 'wall_seconds': round(wall, 2)}


def run_ganzo(arguments: list[str], work: Path) -> dict:
    """The ganzo command; images/s over its epochs after the first, from --log file."""
    run_dir = Path(tempfile.mkdtemp(dir=work))
    result = measure(['-m', 'ganzo', *arguments, '--device', DEVICE,
                      '--epochs', str(EPOCHS), '--log', 'file', '--model-dir', str(run_dir),
                      '--experiment', 'bench', '--sample-every', '1000000', '--seed', '1'])
    epochs = [json.loads(line) for line in
              (run_dir / 'bench' / 'statistics.log').read_text().splitlines()][1:]
    images = sum(epoch['images_per_second'] * epoch['seconds'] for epoch in epochs)
    seconds = sum(epoch['seconds'] for epoch in epochs)
    return {**result, 'images_per_second': images / seconds, 'images': round(images),
            'seconds': seconds}


def training_arguments(model: str, size: int, batches: int, data: Path) -> list[str]:
    return ['--dataset', 'folder', '--data-dir', str(data), '--image-size', str(size),
            '--batch-size', '64', '--max-batches-per-epoch', str(batches), *HYPER[model]['ganzo']]


def run_variant(model: str, size: int, batches: int, extra: list[str] | None, data: Path,
                work: Path) -> dict:
    if extra is None:
        return measure([str(BENCH / 'baseline.py'), *HYPER[model]['baseline'],
                        '--dataroot', str(data), '--image-size', str(size),
                        '--workers', str(loader_workers()),
                        '--batches', str(batches), '--epochs', str(EPOCHS), '--device', DEVICE])
    return run_ganzo(training_arguments(model, size, batches, data) + extra, work)


# FLOPs and ceilings

class FlopCounter(TorchDispatchMode):
    """Counts the FLOPs of the operators that torch.utils.flop_counter knows
    (convolutions, matrix products, their gradients), double backward included."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.flops += formula(*args, **kwargs, out_val=out)
        return out


def count_flops(model: str, size: int) -> dict[str, float]:
    """GFLOP per real image of one training step (a turn for WGAN-GP), fp32, for the
    baseline and for ganzo (counted on batches of 8: the count per image does not
    depend on the batch size)."""
    import baseline

    from ganzo.discriminator import Discriminator
    from ganzo.game import Game
    from ganzo.generator import Generator
    from ganzo.loss import Loss
    from ganzo.noise import Noise
    from ganzo.options import parse

    batch = 8
    batches = [(torch.randn(batch, 3, size, size), torch.zeros(batch, dtype=torch.long))] * (
        5 if model in ('wgan-gp', 'sngan') else 1)
    opt = baseline.parse([*HYPER[model]['baseline'], '--dataroot', '.', '--image-size', str(size),
                          '--batch-size', str(batch)])
    base = baseline.MODELS[model](opt, torch.device('cpu'))
    with FlopCounter() as counter:
        base.step(iter(batches))
    results = {'baseline': counter.flops / batch / len(batches) / 1e9}
    options = parse(training_arguments(model, size, len(batches), Path('.'))
                    + ['--device', 'cpu', '--batch-size', str(batch)])
    generator, discriminator = Generator.from_options(options), Discriminator.from_options(options)
    game = Game.from_options(options, generator, discriminator,
                             Loss.from_options(options, discriminator))
    with FlopCounter() as counter:
        game.run_epoch(batches, Noise.from_options(options))
    results['ganzo'] = counter.flops / batch / len(batches) / 1e9
    return {name: round(value, 3) for name, value in results.items()}


def matmul_peaks() -> dict[str, float]:
    """GFLOP/s of a large matrix product in fp32 and bf16 on the device: the
    practical ceiling, measured now (so under the same load as the rest); a smaller
    one in a type that the device emulates."""
    peaks = {}
    for name, dtype in (('fp32', torch.float32), ('bf16', torch.bfloat16)):
        n = 2048 if hardware(DEVICE).native(name) else 512  # emulated bf16: 1 GFLOP/s or less
        a = torch.randn(n, n, device=DEVICE, dtype=dtype)
        best = float('inf')
        for _ in range(6):
            started = time.perf_counter()
            for _ in range(4):
                a @ a
            if DEVICE.startswith('cuda'):
                torch.cuda.synchronize()
            best = min(best, (time.perf_counter() - started) / 4)
        peaks[name] = round(2 * n**3 / best / 1e9, 1)
    return peaks


# Data

def dataset_folder(work: Path) -> tuple[Path, str]:
    """The benchmark's images: CIFAR-10 test PNGs, or random PNGs when absent."""
    if (DATA / 'airplane').is_dir() or any(DATA.glob('*/*.png')):
        return DATA, f'{DATA} (CIFAR-10 test set, 10,000 32x32 PNG)'
    import numpy as np
    from PIL import Image
    folder = work / 'random-images' / 'all'
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for index in range(2000):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
            folder / f'{index}.png')
    return folder.parent, f'2,000 random 32x32 PNG ({DATA} is absent)'


def subset_folder(data: Path, count: int, work: Path) -> Path:
    """A folder of ``count`` links to images of ``data``, every class alike."""
    files = sorted(data.glob('*/*.png'))
    step = max(len(files) // count, 1)
    folder = work / f'subset-{count}' / 'all'
    folder.mkdir(parents=True)
    for index, path in enumerate(files[::step][:count]):
        (folder / f'{index}.png').symlink_to(path.resolve())
    return folder.parent


# The benchmark

def machine() -> dict:
    """The machine, and the case of hardware the results hold on (ganzo.hardware)."""
    features = cpu_features()
    described = {
        'cpu': hardware('cpu').name, 'cpu_count': os.cpu_count(),
        'torch_threads': torch.get_num_threads(),
        'cpu_features': sorted(name for name in ('avx2', 'avx512_f', 'avx512_bf16', 'amx_bf16',
                                                  'amx_tile', 'avx512_fp16', 'amx_fp16', 'bf16')
                               if features.get(name)),
        'torch': torch.__version__, 'python': platform.python_version(),
        'platform': platform.platform(), 'device': DEVICE,
    }
    if DEVICE.startswith('cuda'):
        described['gpu'] = torch.cuda.get_device_name(torch.device(DEVICE))
    return {**described, **hardware_case()}


def hardware_case() -> dict:
    """What the device computes natively, for the results: ``hardware`` (one line),
    ``bf16_native``, ``fp16_native``, ``auto_precision``, the CPU's line too when the
    device is a GPU (cpu_time.py measures the CPU), and the loader workers."""
    found = hardware(DEVICE)
    return {'hardware': found.describe(), 'cpu_hardware': hardware('cpu').describe(),
            'bf16_native': found.bf16, 'fp16_native': found.fp16,
            'auto_precision': found.auto_precision, 'loader_workers': loader_workers()}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float('nan')


def training(data: Path, work: Path, log) -> dict:
    """Every case and variant, repetitions interleaved."""
    runs: dict[str, dict[str, list[dict]]] = {
        name: {variant: [] for variant in variants(model)} for name, model, *_ in CASES}
    for rep in range(REPS):
        for name, model, size, batches, quick_batches in CASES:
            chosen = variants(model)
            if QUICK and name != 'dcgan-32':
                chosen.pop('ganzo bf16 compile', None)
            order = list(chosen)
            order = order[rep % len(order):] + order[:rep % len(order)]  # rotate
            for variant in order:
                result = run_variant(model, size, quick_batches if QUICK else batches,
                                     chosen[variant], data, work)
                runs[name][variant].append(result)
                log(f'rep {rep + 1}/{REPS} {name:16} {variant:20} '
                    f'{result["images_per_second"]:8.1f} img/s  {result["peak_rss_mib"]:7.0f} MiB')
    summary = {}
    for name, model, size, *_ in CASES:
        baseline = runs[name]['baseline fp32']
        rows = {}
        for variant, results in runs[name].items():
            if not results:
                continue
            speeds = [r['images_per_second'] for r in results]
            ratios = [r['images_per_second'] / b['images_per_second']
                      for r, b in zip(results, baseline)]
            rows[variant] = {'images_per_second': median(speeds), 'runs': speeds,
                             'precision': variant_precision(variant),
                             'native': native(variant),
                             'ratio': median(ratios), 'ratios': ratios,
                             'peak_rss_mib': max(r['peak_rss_mib'] for r in results),
                             'wall_seconds': median([r['wall_seconds'] for r in results])}
        summary[name] = {'model': model, 'image_size': size, 'variants': rows,
                         'runs': runs[name]}
    return summary


def pipeline(data: Path, work: Path, log) -> dict:
    size = 64
    quick = ['--batches', '5'] if QUICK else ['--batches', '60']
    paths = {'folder of PNG, main process': ['--loader-workers', '0'],
             'folder of PNG, 2 workers': ['--loader-workers', '2'],
             'in-memory cache': ['--cache-images', '--loader-workers', '2']}
    if loader_workers() not in (0, 2):  # ganzo's default on a GPU
        paths[f'folder of PNG, {loader_workers()} workers (default here)'] = []
    results = {}
    for name, extra in paths.items():
        folder = subset_folder(data, 1000, work / f'pipeline-{len(results)}') if QUICK else data
        result = measure([str(BENCH / 'pipeline.py'), '--data-dir', str(folder),
                          '--image-size', str(size), '--device', DEVICE, *quick, *extra])
        results[name] = result
        log(f'pipeline {name:28} {result["images_per_second"]:9.0f} img/s  '
            f'setup {result["setup_seconds"]:.1f} s  {result["peak_rss_mib"]:.0f} MiB')
    return {'image_size': size, 'paths': results}


def scaling(data: Path, work: Path, log) -> list[dict]:
    """Seconds per epoch (the second) of ganzo fp32 DCGAN: against the number of
    images at 32 px, and against the image size at the smallest number."""
    counts = [128, 256] if QUICK else [640, 1280, 2560]
    sizes = [16, 32] if QUICK else [16, 32, 64]
    rows = []
    folders = {count: subset_folder(data, count, work / f'scaling-{count}') for count in counts}
    for count, size in [(c, 32) for c in counts] + [(counts[0], s) for s in sizes if s != 32]:
        arguments = ['--dataset', 'folder', '--data-dir', str(folders[count]),
                     '--image-size', str(size), '--batch-size', '64', *HYPER['dcgan']['ganzo']]
        result = run_ganzo(arguments, work)
        rows.append({'images': count, 'image_size': size, 'epoch_seconds': result['seconds'] / (
            EPOCHS - 1), 'images_per_second': result['images_per_second'],
            'peak_rss_mib': result['peak_rss_mib'], 'wall_seconds': result['wall_seconds']})
        log(f'scaling {count:6} images {size:3} px  {rows[-1]["epoch_seconds"]:.2f} s/epoch')
    return rows


def main() -> None:
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()

    def log(message: str) -> None:
        elapsed = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds()
        print(f'[{elapsed:6.0f} s] {message}', flush=True)

    log(f'bench on {DEVICE}{" (quick)" if QUICK else ""}, {REPS} repetitions, '
        f'load average {load_before[0]:.2f}')
    log(f'hardware {hardware_case()["hardware"]}')
    with tempfile.TemporaryDirectory(prefix='ganzo-bench-') as folder:
        work = Path(folder)
        data, data_described = dataset_folder(work)
        results = {'quick': QUICK, 'repetitions': REPS, 'epochs': EPOCHS,
                   'started': started.isoformat(timespec='seconds'), 'machine': machine(),
                   'data': data_described}
        results['matmul_gflops'] = matmul_peaks()
        log(f'matrix product peak {results["matmul_gflops"]} GFLOP/s')
        results['gflop_per_image'] = {name: count_flops(model, size)
                                      for name, model, size, *_ in CASES}
        log(f'GFLOP per real image {results["gflop_per_image"]}')
        results['training'] = training(data, work, log)
        results['pipeline'] = pipeline(data, work, log)
        results['scaling'] = scaling(data, work, log)
        steps = ['--steps', '1', '--reps', '1'] if QUICK else ['--steps', '3', '--reps', '3']
        steps += ['--emulated'] if EMULATED else []
        results['cpu_time'] = measure([str(BENCH / 'cpu_time.py'), '--model', 'dcgan',
                                       '--image-size', '64', *steps])
        log(f'CPU time, 1 thread: {results["cpu_time"]}')
    results['load_average'] = {'before': load_before, 'after': os.getloadavg()}
    results['minutes'] = round((datetime.datetime.now(datetime.timezone.utc) - started
                                ).total_seconds() / 60, 1)
    name = f'{DEVICE.split(":")[0]}-{started:%Y%m%d-%H%M%S}{"-quick" if QUICK else ""}.json'
    path = BENCH / 'results' / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + '\n')
    from report import update_readme
    update_readme(results, path.relative_to(ROOT))
    log(f'results in {path.relative_to(ROOT)}, tables in bench/README.md')


if __name__ == '__main__':
    main()
