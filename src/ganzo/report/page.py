"""The HTML of the report pages: self-contained, every image embedded as a
data URI, no script, nothing fetched."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import ganzo
from ganzo.report.runs import Run, labels

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1250px;
       padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.1em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; } td, th { padding: 2px 10px; text-align: left;
  border-bottom: 1px solid #eee; vertical-align: top; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f5f5f5; padding: 0.6em 1em; overflow-x: auto; }
img { image-rendering: pixelated; max-width: 100%; }
img.plot { image-rendering: auto; }
figure { display: inline-block; margin: 0 1em 1em 0; vertical-align: top; }
figcaption { color: #555; font-size: 13px; }
.strip img { width: 150px; }
.options { columns: 3 300px; font-size: 13px; } .options div { break-inside: avoid; }
.options span { color: #666; }
.side img { width: 300px; }
"""


def image(data: bytes, alt: str, css: str = '') -> str:
    """An ``<img>`` of PNG ``data``, embedded."""
    source = 'data:image/png;base64,' + base64.b64encode(data).decode('ascii')
    return f'<img src="{source}" alt="{html.escape(alt)}"{f" class={css}" if css else ""}>'


def figure(path: Path, caption: str) -> str:
    return f'<figure>{image(path.read_bytes(), caption)}<figcaption>{html.escape(caption)}' \
           '</figcaption></figure>'


def formatted(value: object) -> str:
    return f'{value:.4g}' if isinstance(value, float) else str(value)


def table(header: list[str], rows: list[list[object]]) -> str:
    head = ''.join(f'<th>{html.escape(cell)}</th>' for cell in header)
    body = ''.join('<tr>' + ''.join(
        f'<td class=number>{html.escape(formatted(cell))}</td>' if isinstance(cell, (int, float))
        else f'<td>{html.escape(str(cell))}</td>' for cell in row) + '</tr>' for row in rows)
    return f'<table><tr>{head}</tr>{body}</table>'


def duration(seconds: float) -> str:
    minutes = seconds / 60
    if minutes < 2:
        return f'{seconds:.0f} s'
    return f'{minutes:.0f} min' if minutes < 120 else f'{minutes // 60:.0f} h {minutes % 60:02.0f}'


def document(title: str, body: list[str]) -> str:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n'
            + '\n'.join(body) + f'\n<p class=meta>Written by ganzo-report {ganzo.__version__}.'
            '</p>\n</body></html>\n')


def strip(epochs: list[int], count: int) -> list[int]:
    """At most ``count`` of ``epochs`` (all with 0), evenly spaced, the first and last included."""
    if count <= 0 or len(epochs) <= count:
        return epochs
    if count == 1:
        return epochs[-1:]
    step = (len(epochs) - 1) / (count - 1)
    return list(dict.fromkeys(epochs[math.floor(index * step + 0.5)] for index in range(count)))


def run_page(run: Run, plots: bytes, grids: int) -> str:
    """The report of one run: options, plots, samples, the best epoch, the deh command."""
    best, why = run.best
    body = [f'<h1>{html.escape(run.name)}</h1>',
            f'<p class=meta>{html.escape(str(run.path))} · {len(run.records)} epochs logged, '
            f'the last {run.last["epoch"]} · {duration(run.seconds)} of training · '
            f'ganzo {html.escape(str(run.options.get("ganzo_version", "?")))}</p>',
            '<h2>Best epoch</h2>',
            f'<p>Epoch {best["epoch"]}, by {html.escape(why)}: the models of '
            '<code>generator.pt</code> and <code>discriminator.pt</code>.</p>',
            table(['value', f'epoch {best["epoch"]}', f'last epoch ({run.last["epoch"]})'],
                  [[key, value, run.last.get(key, '')] for key, value in best.items()
                   if key != 'epoch']),
            '<h2>Plots</h2>', image(plots, 'plots of the losses and metrics per epoch', 'plot'),
            '<h2>Samples</h2>', *samples(run, best['epoch'], grids),
            '<h2>Sample from it</h2>', f'<pre>{html.escape(run.deh_command())}</pre>',
            '<h2>Options</h2>', '<div class=options>',
            *(f'<div><span>{html.escape(key)}</span> {html.escape(json_text(value))}</div>'
              for key, value in sorted(run.options.items())), '</div>']
    return document(f'Ganzo: {run.name}', body)


def samples(run: Run, best: int, grids: int) -> list[str]:
    if not run.samples:
        return ['<p>No sample grids in <code>samples/</code> (the run saved its images '
                'elsewhere: see <code>--save-images-as</code>).</p>']
    note = ('<p>Each triple is input | generated | target.</p>' if run.translates else '')
    epochs = list(run.samples)
    large = [figure(run.samples[epoch], label)
             for epoch, label in ((epochs[-1], f'epoch {epochs[-1]}, the last'),
                                  (best, f'epoch {best}, the best')) if epoch in run.samples]
    shown = strip(epochs, grids)
    caption = ('every epoch' if len(shown) == len(epochs)
               else f'{len(shown)} of the {len(epochs)} epochs sampled')
    return [note, '<div class=side>', *large[:1 if best == epochs[-1] else 2], '</div>',
            f'<h3>Epoch by epoch ({caption})</h3>', '<div class=strip>',
            *(figure(run.samples[epoch], f'epoch {epoch}') for epoch in shown), '</div>']


def json_text(value: object) -> str:
    if isinstance(value, list):
        return ' '.join(map(str, value))
    return 'null' if value is None else str(value)


def differing_options(runs: list[Run]) -> list[list[object]]:
    """A row per option whose value differs between the runs: its name and each value."""
    keys = sorted({key for run in runs for key in run.options} - {'experiment'})
    rows = []
    for key in keys:
        values = [json_text(run.options.get(key, '(none)')) for run in runs]
        if len(set(values)) > 1:
            rows.append([key, *values])
    return rows


def comparison_page(runs: list[Run], plots: bytes) -> str:
    """The comparison of several runs: options that differ, curves overlaid, last grids."""
    names = labels(runs)
    summary = []
    for name, run in zip(names, runs):
        best, why = run.best
        values = ', '.join(f'{key} {formatted(value)}' for key, value in best.items()
                           if key not in ('epoch', 'seconds'))
        summary.append([name, run.last['epoch'], best['epoch'], why, values,
                        duration(run.seconds), str(run.path)])
    differing = differing_options(runs)
    last = [figure(run.samples[max(run.samples)], f'{name}, epoch {max(run.samples)}')
            if run.samples else f'<figure><figcaption>{html.escape(name)}: no sample grids'
            '</figcaption></figure>' for name, run in zip(names, runs)]
    body = [f'<h1>Comparison of {len(runs)} runs</h1>',
            f'<p class=meta>{html.escape(", ".join(names))}</p>',
            '<h2>Runs</h2>',
            table(['run', 'last epoch', 'best epoch', 'best by', 'its values', 'training',
                   'directory'],
                  summary),
            '<h2>Options that differ</h2>',
            table(['option', *names], differing) if differing
            else '<p>None: the runs have the same options.</p>',
            '<h2>Curves</h2>', image(plots, 'the curves of every run, overlaid', 'plot'),
            '<h2>Last samples</h2>', '<div class=side>', *last, '</div>']
    return document(f'Ganzo: {", ".join(run.name for run in runs)}', body)
