"""Template of a feature extractor (registry namespace ``feature-extractor``,
``--feature-extractor``), the network in whose feature space FID, KID and the
other metrics compare generated and real images.

An ``nn.Module`` built from the options, mapping images ``B x C x H x W`` in
[-1, 1] to ``(features B x dim, logits B x K or None)`` (``ganzo.metrics.
FeatureExtractor``). Its class attributes ``dim`` and ``has_logits`` say what
it gives before it is built, and ``key`` names it and its weights in the cache
of real features: change the key when the weights change. This one is a
convolutional network with fixed random weights (seed 0), which needs no
training and no download; its scores compare runs with each other only.
"""

import argparse

import torch
from torch import nn

from ganzo.metrics import FeatureExtractor
from ganzo.options import complete
from ganzo.registry import register


@register('feature-extractor', 'my-extractor')
class MyExtractor(FeatureExtractor):
    dim, has_logits, key = 128, False, 'my-extractor-seed-0'

    def __init__(self, options: argparse.Namespace) -> None:
        super().__init__()
        colors = complete(options).image_colors
        with torch.random.fork_rng(devices=[]):  # fixed weights, the global RNG left alone
            torch.manual_seed(0)
            self.network = nn.Sequential(
                nn.Conv2d(colors, 32, 3, 2, 1), nn.LeakyReLU(0.2),
                nn.Conv2d(32, 64, 3, 2, 1), nn.LeakyReLU(0.2),
                nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(256, self.dim))
        self.network.requires_grad_(False).eval()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.network(images), None
