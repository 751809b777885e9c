"""Template of statistics (registry namespace ``statistics``, chosen with ``--log``).

Subclass ``ganzo.statistics.Statistics`` and write ``write(epoch, values)``:
``values`` are the epoch's mean losses, its metrics, ``images_per_second`` and
``seconds``. (Or implement ``log(losses, epoch=None)`` yourself:
``ganzo.contracts.Statistics``.) ``start_epoch`` and ``update`` (called after
each batch) are there to override for a progress display. This one prints a
line of tab-separated values per epoch.
"""

from ganzo.registry import register
from ganzo.statistics import Statistics


@register('statistics', 'my-statistics')
class MyStatistics(Statistics):
    def write(self, epoch: int, values: dict[str, float]) -> None:
        print(epoch, *(f'{name}={value:.4g}' for name, value in values.items()), sep='\t')
