"""A Ganzo plugin: the hinge loss (Lim and Ye 2017, https://arxiv.org/abs/1705.02894),
with an option of its own.

Load it before Ganzo parses its options::

    PYTHONPATH=examples GANZO_LOAD_MODULES=hinge_loss ganzo --loss hinge --hinge-margin 1.0 ...
"""

import torch
import torch.nn.functional as F

from ganzo.options import complete, positive_float
from ganzo.registry import register, with_option_parser


@with_option_parser
def add_hinge_options(parser, train):
    if train:
        group = parser.add_argument_group('hinge loss')
        group.add_argument('--hinge-margin', type=positive_float, default=1.0,
                           help='margin of the hinge loss (default: %(default)s)')


@register('loss', 'hinge')
class HingeLoss:
    """The discriminator minimises ``relu(m - D(real)) + relu(m + D(fake))``,
    the generator ``-D(fake)``."""

    def __init__(self, options, discriminator):
        self.discriminator = discriminator
        self.margin = complete(options).hinge_margin

    def for_generator(self, fake_data, labels=None) -> torch.Tensor:
        return -self.discriminator(fake_data).mean()

    def for_discriminator(self, real_data, fake_data, labels=None) -> torch.Tensor:
        return (F.relu(self.margin - self.discriminator(real_data)).mean()
                + F.relu(self.margin + self.discriminator(fake_data)).mean())
