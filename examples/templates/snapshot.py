"""Template of a snapshot (registry namespace ``snapshot``, ``--save-images-as``).

Subclass ``ganzo.snapshot.Snapshot`` and write ``write(epoch, picture)``:
``picture`` is the grid that the base class made of the generator's images
(``C x H x W`` in [0, 1]), every ``--sample-every`` epochs, from the fixed noise
with ``--sample-from-fixed-noise``. This one writes the grid as a NumPy file.
"""

import numpy as np
import torch

from ganzo.registry import register
from ganzo.snapshot import Snapshot


@register('snapshot', 'my-snapshot')
class MySnapshot(Snapshot):
    def write(self, epoch: int, picture: torch.Tensor) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        np.save(self.directory / f'grid-{epoch:04d}.npy', picture.numpy())
