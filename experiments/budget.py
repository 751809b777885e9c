"""Train a recipe for a fixed budget of CPU time, then sample and score it: one
row of the table in experiments/README.md.

    python experiments/budget.py experiments/sngan.json --cpu-minutes 20 \\
        --model-dir runs/budget -- --generator-channels 64 --discriminator-channels 64

runs ``ganzo --from-json RECIPE --delete`` (with the arguments after ``--``,
which take precedence over the recipe) in its own process, and sends it SIGTERM
as soon as its CPU time (the process and its children, user and system, read
from /proc: Linux only) passes the budget. Ganzo stops at the end of the
current batch, keeping the checkpoint and ``generator.pt`` of the last
completed epoch; epochs are kept short (``--max-batches-per-epoch``, default
20 batches) so that the partial epoch it drops is a small part of the budget.
CPU time, not wall time, makes runs comparable on a shared machine (OpenMP
threads wait passively, ``OMP_WAIT_POLICY=PASSIVE`` unless set, so that
waiting for a busy core is not counted as work); a run that ends its epochs
first simply ends.

Then it makes a grid of 64 samples with ``deh`` (noise of seed 1) and scores
``generator.pt`` with ``ganzo-eval`` (FID and KID, ``--feature-extractor
classifier`` by default), and prints, and writes to
``<model-dir>/<experiment>/budget.json``, the CPU and wall time, the epochs,
the images seen (epochs x batches per epoch x batch size) and the scores, with
a Markdown row for the table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'src'))

from ganzo.data import Data  # noqa: E402
from ganzo.options import parse  # noqa: E402
from ganzo.state import Checkpoint  # noqa: E402

TICKS = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds, so far, of process ``pid`` and of its live
    descendants (DataLoader workers), and of the children it has waited for."""
    total, children = 0.0, {pid}
    stats = {}
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / 'stat').read_text().rsplit(')', 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = fields
    changed = True
    while changed:  # the process tree below pid
        found = {process for process, fields in stats.items() if int(fields[1]) in children}
        changed = not found <= children
        children |= found
    for process in children & stats.keys():
        fields = stats[process]
        # utime, stime, cutime, cstime: fields 14-17 of stat, 11-14 after the name
        total += sum(int(value) for value in fields[11:15]) / TICKS
    return total


def train(command: list[str], budget: float, poll: float = 0.5) -> dict:
    """Run ``command`` until it ends or its CPU time passes ``budget`` seconds
    (then SIGTERM, and wait for it to end); its CPU seconds (from the kernel's
    accounting when it ends), wall seconds and exit status."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT)
    stopped = False
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if not stopped and cpu_seconds(process.pid) >= budget:
            process.send_signal(signal.SIGTERM)  # ganzo stops at the end of the batch
            stopped = True
        time.sleep(poll)
    process.returncode = os.waitstatus_to_exitcode(status)
    return {'cpu_seconds': round(usage.ru_utime + usage.ru_stime, 1),
            'wall_seconds': round(time.perf_counter() - started, 1),
            'stopped_by_budget': stopped, 'status': process.returncode}


def images_per_epoch(run: Path) -> int:
    """Real images the discriminator sees in an epoch of the run: its batches
    (all the data's, at most --max-batches-per-epoch) times the batch size."""
    options = parse(['--from-json', str(run / 'options.json')])
    batches = len(Data.from_options(options))
    return min(batches, options.max_batches_per_epoch or batches) * options.batch_size


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index('--') + 1:] if '--' in argv else []
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('recipe', help='a JSON file of options, e.g. experiments/sngan.json')
    parser.add_argument('--cpu-minutes', type=float, default=20.0,
                        help='the budget of CPU time (default: %(default)s)')
    parser.add_argument('--model-dir', default='runs/budget',
                        help='where the run goes (default: %(default)s)')
    parser.add_argument('--experiment', help='the run\'s name (default: the recipe\'s)')
    parser.add_argument('--max-batches-per-epoch', type=int, default=20,
                        help='batches per epoch: a multiple of the discriminator iterations '
                        '(default: %(default)s)')
    parser.add_argument('--evaluation-samples', type=int, default=5000,
                        help='generated images scored (default: %(default)s)')
    parser.add_argument('--feature-extractor', default='classifier',
                        help='of ganzo-eval (default: %(default)s)')
    parser.add_argument('--metrics-cache', help='of ganzo-eval: where the features of the '
                        'real images and the classifier are kept (default: its own)')
    parser.add_argument('--grid', help='copy the grid of samples to this PNG file')
    options = parser.parse_args(argv[:argv.index('--')] if '--' in argv else argv)
    recipe = json.loads(Path(options.recipe).read_text())
    name = options.experiment or recipe.get('experiment') or Path(options.recipe).stem
    model_dir = Path(options.model_dir).absolute()
    run = model_dir / name
    command = [sys.executable, '-m', 'ganzo', '--from-json', str(Path(options.recipe).absolute()),
               '--model-dir', str(model_dir), '--experiment', name, '--delete',
               '--max-batches-per-epoch', str(options.max_batches_per_epoch),
               '--sample-every', '1000000', '--log', 'file', *extra]
    print('budget:', ' '.join(command), flush=True)
    os.environ['PYTHONPATH'] = os.pathsep.join([str(ROOT / 'src'),
                                                os.environ.get('PYTHONPATH', '')])
    # OpenMP threads that wait for each other sleep instead of spinning, so that
    # CPU time counts work, not waiting (which a busy machine would inflate).
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    result = train(command, options.cpu_minutes * 60)
    if result['status'] not in (0, 128 + signal.SIGTERM) or not (run / 'checkpoint.pt').exists():
        raise SystemExit(f'budget: ganzo ended with status {result["status"]} and no checkpoint')
    epochs = Checkpoint(run / 'checkpoint.pt').epoch
    summary = {'recipe': options.recipe, 'experiment': name, 'arguments': extra,
               'cpu_minutes_budget': options.cpu_minutes, **result, 'epochs': epochs,
               'images_seen': epochs * images_per_epoch(run)}
    deh = subprocess.run([sys.executable, '-m', 'ganzo.deh', '--model-dir', str(model_dir),
                          '--experiment', name, '--num-samples', '64', '--seed', '1',
                          '--no-sample-from-fixed-noise'],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    grid = Path(deh.stdout.strip().rsplit(' to ', 1)[1]) / 'grid.png'
    summary['grid'] = str(grid)
    if options.grid:
        shutil.copyfile(grid, options.grid)
    subprocess.run([sys.executable, '-m', 'ganzo.score', '--model-dir', str(model_dir),
                    '--experiment', name, '--metrics', 'fid', 'kid', '--feature-extractor',
                    options.feature_extractor, '--evaluation-samples',
                    str(options.evaluation_samples),
                    *(['--metrics-cache', options.metrics_cache] if options.metrics_cache else [])],
                   cwd=ROOT, check=True)
    scores = json.loads((run / 'metrics.json').read_text())['scores']
    summary['scores'] = scores
    summary['row'] = (f'| {name} | {scores["fid"]:.1f} | {scores["kid"]:.4f} | '
                      f'{summary["cpu_seconds"] / 60:.1f} | {summary["wall_seconds"] / 60:.1f} | '
                      f'{summary["images_seen"]:,} | ![{name}]({options.grid or grid}) |')
    (run / 'budget.json').write_text(json.dumps(summary, indent=2) + '\n')
    print(json.dumps(summary, indent=2))


if __name__ == '__main__':
    main()
