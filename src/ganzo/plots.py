"""Plots of statistics: each epoch's losses, metrics and speed as line plots,
for one run or for several overlaid (matplotlib, drawn without a display).

The records are those of ``ganzo.statistics.History``: one dict per epoch,
``{'epoch': 3, 'generator': 0.7, 'discriminator': 1.2, 'fid': 41.0,
'images_per_second': 950.0, 'seconds': 5.3}``; a metric measured only every
few epochs is a curve with fewer points.
"""

from __future__ import annotations

import io
import math

Records = list[dict[str, float]]
Curve = tuple[str, list[int], list[float]]  # label, epochs, values

SPEED = 'images_per_second'
NOT_PLOTTED = ('epoch', 'seconds')
TITLES = {'losses': 'losses', SPEED: 'images per second'}


def is_loss(name: str) -> bool:
    return name in ('generator', 'discriminator') or 'loss' in name


def quantities(runs: dict[str, Records]) -> list[str]:
    """The names of the values the runs logged, losses first, the speed last."""
    names = dict.fromkeys(name for records in runs.values() for record in records
                          for name in record if name not in NOT_PLOTTED)
    return sorted(names, key=lambda name: (not is_loss(name), name == SPEED))


def curve(label: str, records: Records, name: str) -> Curve:
    points = [(record['epoch'], record[name]) for record in records
              if isinstance(record.get(name), (int, float))]
    return label, [epoch for epoch, _ in points], [value for _, value in points]


def panels(runs: dict[str, Records]) -> list[tuple[str, list[Curve]]]:
    """The panels to draw, each a title and its curves. One run: its losses
    together, then a panel per metric and the speed. Several runs: a panel per
    value, a curve per run."""
    names = quantities(runs)
    if len(runs) > 1:
        return [(TITLES.get(name, name), [curve(run, records, name)
                                          for run, records in runs.items()]) for name in names]
    (records,) = runs.values()
    losses = [curve(name, records, name) for name in names if is_loss(name)]
    others = [(TITLES.get(name, name), [curve(name, records, name)])
              for name in names if not is_loss(name)]
    return ([('losses', losses)] if losses else []) + others


def draw(runs: dict[str, Records], columns: int = 3) -> bytes:
    """A PNG of the panels of ``runs`` (run name -> records), ``columns`` a row."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    found = panels(runs) or [('no values logged yet', [])]
    columns = min(columns, len(found))
    rows = math.ceil(len(found) / columns)
    figure = Figure(figsize=(4.2 * columns, 2.9 * rows), dpi=100, layout='constrained')
    axes = figure.subplots(rows, columns, squeeze=False).flatten()
    for axis, (title, curves) in zip(axes, found):
        for label, epochs, values in curves:
            axis.plot(epochs, values, marker='.' if len(epochs) <= 40 else None, label=label)
        axis.set_title(title)
        axis.set_xlabel('epoch')
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        if len(curves) > 1:
            axis.legend(fontsize='small')
    for axis in axes[len(found):]:
        axis.set_visible(False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png')
    return buffer.getvalue()
