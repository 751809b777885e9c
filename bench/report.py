"""Tables of a bench/run.py result, written into bench/README.md between the
markers of its device (``<!-- bench:cpu:start -->`` ... ``<!-- bench:cpu:end -->``),
so that a new run replaces its device's tables and leaves the rest of the text.

    python bench/report.py bench/results/cpu-....json   # rewrite the tables from a file
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import recipes

README = Path(__file__).resolve().parent / 'README.md'
# The ceilings that issue 7 gives for 2 cores of an AMD EPYC Zen 4 (GFLOP/s), and
# its targets for DCGAN (times the baseline's fp32 images/s).
ISSUE_CEILINGS = {'fp32': 230.0, 'bf16': 465.0}
TARGETS = {'fp32': 1.05, 'bf16': 1.8}


def precision(row: dict, variant: str) -> str:
    """The type a variant ran in (recorded since ``ganzo auto``; older results: its name)."""
    return row.get('precision') or ('fp32' if 'fp32' in variant else 'bf16')


def runs_in(row: dict, variant: str) -> str:
    """The type a variant ran in, and whether the hardware computes it natively."""
    kind = precision(row, variant)
    if kind == 'fp32' or 'native' not in row:
        return kind
    return f'{kind} ({"native" if row["native"] else "emulated"})'


def target(case: str, variant: str, row: dict) -> str:
    """The issue-7 target of a DCGAN variant: 1.05x in fp32, 1.8x in bf16, the latter
    only where bf16 is native (emulated bf16 is slower than fp32); issue 14's of
    the SNGAN case (``recipes.target``)."""
    if case == recipes.CASE[0]:
        return recipes.target(case, variant, row['ratio'])
    kind = precision(row, variant)
    if (not case.startswith('dcgan') or variant == 'baseline fp32' or kind == 'fp16'
            or not row.get('native', True)):
        return ''
    wanted, ratio = TARGETS[kind], row['ratio']
    if ratio >= wanted:
        return f'>= {wanted} met'
    return f'>= {wanted} missed by {100 * (1 - ratio / wanted):.0f}%'


def training_table(results: dict) -> list[str]:
    cpu = results['machine']['device'] == 'cpu'
    peaks = results['matmul_gflops']
    head = ('| case | variant | runs in | images/s (median) | x baseline fp32 (median of paired '
            'ratios) | target | GFLOP/s | of ceiling: matmul' + (' / issue' if cpu else '')
            + ' | peak RSS MiB | process wall s |')
    lines = [head, '|' + '---|' * 10]
    for case, entry in results['training'].items():
        work = results['gflop_per_image'][case]['baseline']
        for variant, row in entry['variants'].items():
            speed, ratio = row['images_per_second'], row['ratio']
            gflops = speed * work
            kind = 'fp32' if precision(row, variant) == 'fp32' else 'bf16'  # fp16: bf16's
            ceiling = f'{gflops / peaks[kind]:.0%}'
            if cpu:
                ceiling += f' / {gflops / ISSUE_CEILINGS[kind]:.0%}'
            ceiling += f' ({kind})'
            spread = f'{min(row["ratios"]):.2f}-{max(row["ratios"]):.2f}'
            lines.append(f'| {case} | {variant} | {runs_in(row, variant)} | {speed:.1f} | '
                         f'{ratio:.2f} ({spread}) | {target(case, variant, row)} | '
                         f'{gflops:.0f} | {ceiling} | '
                         f'{row["peak_rss_mib"]:.0f} | {row["wall_seconds"]:.0f} |')
    return lines


def pipeline_table(results: dict) -> list[str]:
    training = results['training'].get(f'dcgan-{results["pipeline"]["image_size"]}', {})
    speeds = {variant: row['images_per_second']
              for variant, row in training.get('variants', {}).items()}
    fastest = max(speeds.values(), default=float('nan'))
    fp32 = speeds.get('ganzo fp32', float('nan'))
    lines = [f'| data path ({results["pipeline"]["image_size"]} px, batch 64) | images/s | '
             'setup s | peak RSS MiB | x ganzo fp32 training | x fastest ganzo training |',
             '|---|---|---|---|---|---|']
    for name, row in results['pipeline']['paths'].items():
        speed = row['images_per_second']
        lines.append(f'| {name} | {speed:.0f} | {row["setup_seconds"]:.1f} | '
                     f'{row["peak_rss_mib"]:.0f} | {speed / fp32:.1f} | {speed / fastest:.1f} |')
    return lines


def scaling_table(results: dict) -> list[str]:
    lines = ['| images per epoch | image size | seconds per epoch | images/s | peak RSS MiB |',
             '|---|---|---|---|---|']
    for row in results['scaling']:
        lines.append(f'| {row["images"]} | {row["image_size"]} | {row["epoch_seconds"]:.2f} | '
                     f'{row["images_per_second"]:.1f} | {row["peak_rss_mib"]:.0f} |')
    return lines


def cpu_time_table(results: dict) -> list[str]:
    entry = results.get('cpu_time')
    if not entry:
        return []
    lines = [f'### One thread, CPU time ({entry["model"]} {entry["image_size"]} px)', '']
    if 'hardware' in entry:
        lines += [f'On the CPU: {entry["hardware"]}.', '']
    lines += ['| variant | runs in | images per CPU-second | x baseline fp32 |',
              '|---|---|---|---|']
    for name, row in entry['variants'].items():
        lines.append(f'| {name} | {runs_in(row, name)} | {row["images_per_cpu_second"]:.1f} | '
                     f'{row["ratio"]:.2f} |')
    return ['', *lines]


def hardware_lines(machine: dict) -> list[str]:
    """Which case of hardware the ratios hold on (none in results from before
    ganzo.hardware)."""
    if 'hardware' not in machine:
        return []
    line = f'Hardware (ganzo.hardware): {machine["hardware"]}. '
    if machine['bf16_native']:
        line += 'These ratios hold on a device with native bf16.'
    else:
        line += ('These ratios hold on a device without native bf16: its variants in an '
                 'emulated type are left out unless BENCH_EMULATED=1, and `ganzo auto` runs '
                 f'in {machine["auto_precision"]}.')
    if machine['device'] != 'cpu':
        line += f' The CPU (one-thread table): {machine["cpu_hardware"]}.'
    return ['', line + f' Loader workers, ganzo and baseline alike: {machine["loader_workers"]}.']


def render(results: dict, path: Path | str) -> str:
    machine = results['machine']
    load = results['load_average']
    contended = load['before'][0] > machine['cpu_count'] or load['after'][0] > machine['cpu_count']
    gpu = f'{machine["gpu"]}; ' if 'gpu' in machine else ''
    mode = 'QUICK mode: a check, few batches' if results['quick'] else 'full run'
    flops = ', '.join(f'{case} {value["baseline"]:.2f} (ganzo {value["ganzo"]:.2f})'
                      for case, value in results['gflop_per_image'].items())
    command = 'BENCH_QUICK=1 make bench' if results['quick'] else 'make bench'
    lines = [
        f'Measured {results["started"]} by `{command}` ({mode}, {results["repetitions"]} '
        f'repetition(s), {results["epochs"]} epochs per run of '
        f'which the first is left out, {results["minutes"]} minutes), results in `{path}`.',
        '',
        f'Machine: {gpu}{machine["cpu"]}, {machine["cpu_count"]} CPUs '
        f'({", ".join(machine["cpu_features"]) or "no AVX-512"}), torch {machine["torch"]} with '
        f'{machine["torch_threads"]} threads, Python {machine["python"]}, '
        f'device {machine["device"]}. '
        f'Load average {load["before"][0]:.1f} before, {load["after"][0]:.1f} after'
        + (' (**contended: other processes shared the CPUs; absolute numbers are low and '
           'noisy, the interleaved ratios less so**).' if contended else '.'),
        *hardware_lines(machine),
        '',
        f'Data: {results["data"]}. Matrix-product ceiling measured in the same run: '
        f'{results["matmul_gflops"]["fp32"]:.0f} GFLOP/s fp32, '
        f'{results["matmul_gflops"]["bf16"]:.0f} GFLOP/s bf16. GFLOP per real image '
        f'(baseline step, counted by torch.utils.flop_counter; GFLOP/s columns use it): {flops}.',
        '',
        '### Training throughput', '',
        *training_table(results), '',
        '### Data pipeline', '',
        *pipeline_table(results), '',
        '### Time per epoch (ganzo DCGAN fp32)', '',
        *scaling_table(results),
        *cpu_time_table(results),
        *recipes.costs_table(results),
    ]
    return '\n'.join(lines)


def update_readme(results: dict, path: Path | str) -> None:
    kind = results['machine']['device'].split(':')[0]
    start, end = f'<!-- bench:{kind}:start -->', f'<!-- bench:{kind}:end -->'
    text = README.read_text() if README.exists() else '# Benchmarks\n'
    block = f'{start}\n{render(results, path)}\n{end}'
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip('\n') + f'\n\n## Results on {kind}\n\n{block}\n'
    README.write_text(text)


if __name__ == '__main__':
    result_path = Path(sys.argv[1])
    update_readme(json.loads(result_path.read_text()), result_path)
