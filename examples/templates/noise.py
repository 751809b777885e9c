"""Template of a noise (registry namespace ``noise``, ``--noise``).

It samples the generator's latent space: ``sample(B)`` gives ``B x Z`` points
(``Z = --state-size``) on the training device (``ganzo.contracts.Noise``).
Draw them from torch's global random generator, which checkpoints keep, so that
a restored run draws what it would have drawn. This one is uniform in [-1, 1].
"""

import argparse

import torch

from ganzo.options import complete, device
from ganzo.registry import register


@register('noise', 'my-noise')
class MyNoise:
    def __init__(self, options: argparse.Namespace) -> None:
        options = complete(options)
        self.state_size, self.device = options.state_size, device(options)

    def sample(self, batch_size: int) -> torch.Tensor:
        return torch.rand(batch_size, self.state_size, device=self.device) * 2 - 1
