"""The ``ganzo-report`` command: a self-contained HTML page about a run, or
comparing several.

    ganzo-report runs/dcgan-mnist                   # runs/dcgan-mnist/report.html
    ganzo-report runs/a runs/b                      # runs/comparison.html
    ganzo-report --model-dir runs --experiment 'dcgan-*' --output dcgan.html

One run: its best epoch and its values, the plots of its statistics, its
sample grids (the last, the best, and a strip of the epochs), the ``deh``
command to sample from it, and its options. Several runs: their options that
differ, their curves overlaid and their last grids side by side. Every image
is embedded in the page: it opens anywhere, with no server and no network.
The run's ``plots.png`` is drawn again from its ``history.json`` as well.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ganzo.errors import GanzoError
from ganzo.files import atomic_write, warn
from ganzo.options import OptionParser, non_negative_int, path_is_writable
from ganzo.plots import draw
from ganzo.report.page import comparison_page, run_page
from ganzo.report.runs import Run, find_runs, labels
from ganzo.statistics import PLOTS
from ganzo.train import run as run_command


def parser() -> OptionParser:
    result = OptionParser(prog='ganzo-report', allow_abbrev=False,
                          formatter_class=argparse.RawDescriptionHelpFormatter,
                          description='Write a self-contained HTML page about a run, or one '
                          'that compares several runs.',
                          epilog='examples:\n' + __doc__.split('\n\n')[1])
    result.add_argument('runs', nargs='*', metavar='RUN_DIR',
                        help='run directories, <model-dir>/<experiment>: one gets a report, '
                        'several a comparison')
    result.add_argument('--model-dir', help='also every experiment of this folder whose name '
                        'matches --experiment')
    result.add_argument('--experiment', default='*', metavar='GLOB',
                        help='with --model-dir: a name or a pattern such as "dcgan-*" '
                        '(default: every experiment)')
    result.add_argument('--output', metavar='FILE', help='the page to write (default: '
                        'report.html in the run directory; comparison.html in the folder '
                        'of the runs)')
    result.add_argument('--grids', type=non_negative_int, default=12, metavar='N',
                        help='sample grids of at most N epochs in the strip of a report, '
                        'evenly spaced; 0 for every epoch (default: %(default)s)')
    return result


def output_path(options: argparse.Namespace, runs: list[Run]) -> Path:
    if options.output is not None:
        path = Path(options.output)
    elif len(runs) == 1:
        path = runs[0].path / 'report.html'
    else:
        path = Path(os.path.commonpath([run.path.absolute() for run in runs])) / 'comparison.html'
        if path.parent in {run.path.absolute() for run in runs}:
            path = path.parent.parent / path.name
    if path.is_dir() or not path_is_writable(path.parent):
        raise GanzoError(f'cannot write {path}: choose another file with --output')
    return path


def refresh_plots(run: Run, image: bytes) -> None:
    """Rewrite the run's ``plots.png``, if its folder can be written."""
    if path_is_writable(run.outputs):
        try:
            atomic_write(run.outputs / PLOTS, lambda file: file.write(image))
        except OSError as error:
            warn(f'cannot write {run.outputs / PLOTS} ({error.strerror or error})')


def report(argv: list[str]) -> None:
    options = parser().parse_args(argv)
    runs = find_runs(options.runs, options.model_dir, options.experiment)
    path = output_path(options, runs)
    if len(runs) == 1:
        plots = draw({runs[0].name: runs[0].records})
        refresh_plots(runs[0], plots)
        page = run_page(runs[0], plots, options.grids)
    else:
        page = comparison_page(runs, draw({name: run.records
                                           for name, run in zip(labels(runs), runs)}))
    try:
        atomic_write(path, lambda file: file.write(page), mode='w')
    except OSError as error:
        raise GanzoError(f'cannot write {path} ({error.strerror or error}): choose another '
                         'file with --output') from None
    print(f'ganzo-report: wrote {path}', file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    run_command(report, argv, prog='ganzo-report')


if __name__ == '__main__':
    main()
