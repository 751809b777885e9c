"""Template of a data format (registry namespace ``data``, ``--data-format``).

Built as ``Format(options)``, it gives the batches of an epoch when iterated,
``len()`` of them, and keeps the order of the data in ``state_dict()``
(``ganzo.contracts.Data``): a restored run must read the same batches as one
never stopped. Batches are ``(images B x C x H x W in [-1, 1], labels B)`` for
generation. Subclassing ``ganzo.data.SingleImageData`` gives shuffling,
workers, the image cache and the datasets of ``--dataset``. This one flips
each image left-right with probability one half (drawn from the global random
generator, which checkpoints keep).
"""

import torch

from ganzo.data import SingleImageData
from ganzo.registry import register


@register('data', 'my-data')
class MyData(SingleImageData):
    def __iter__(self):
        for images, labels in super().__iter__():
            flip = torch.rand(len(images)) < 0.5
            yield torch.where(flip[:, None, None, None], images.flip(-1), images), labels
