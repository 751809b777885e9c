"""Template of an evaluation criterion (registry namespace ``evaluation``,
``--evaluation-criterion``).

A criterion says after each epoch whether the models improved, and so are
saved as ``generator.pt`` and ``discriminator.pt``: ``has_improved(losses)``
(``ganzo.contracts.Evaluation``). It may measure something first in
``evaluate(epoch)``, whose values are logged with the losses. It is built as
``Criterion(options, generator, noise, data)``; subclass
``ganzo.evaluation.Evaluation``, whose ``state_dict`` keeps ``self.best``
across restores. This one keeps the models whose discriminator loss is
closest to that of a balanced game, log 4 (for ``--loss gan``).
"""

import math

from ganzo.evaluation import Evaluation
from ganzo.registry import register


@register('evaluation', 'my-criterion')
class MyCriterion(Evaluation):
    def has_improved(self, losses: dict[str, float]) -> bool:
        distance = abs(losses['discriminator'] - math.log(4))
        if distance < self.best:
            self.best = distance
            return True
        return False
