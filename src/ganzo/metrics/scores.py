"""The metrics between generated and real images, on their features; the math is
torch-fidelity's (``pip install "ganzo[metrics]"``), imported when first used.

Features are float tensors ``N x D`` (one row per image), logits ``N x K``.
"""

from __future__ import annotations

import importlib.util

import torch

from ganzo.errors import GanzoError

# Names for --metrics, and what each adds to the scores.
METRICS = {'fid': ('fid',), 'kid': ('kid', 'kid_std'), 'is': ('is', 'is_std'),
           'pr': ('precision', 'recall')}
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000
PR_NEIGHBOURS = 3
IS_SPLITS = 10
SEED = 2020


def require_torch_fidelity() -> None:
    """A clear error if torch-fidelity, which computes the metrics, is missing."""
    if importlib.util.find_spec('torch_fidelity') is None:
        raise GanzoError('quality metrics need torch-fidelity: pip install "ganzo[metrics]"')


def fid(generated: torch.Tensor, real: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to the two feature sets."""
    from torch_fidelity.metric_fid import (
        KEY_METRIC_FID,
        fid_features_to_statistics,
        fid_statistics_to_metric,
    )
    statistics = [fid_features_to_statistics(features.double().cpu())
                  for features in (generated, real)]
    return fid_statistics_to_metric(*statistics, verbose=False)[KEY_METRIC_FID]


def kid(generated: torch.Tensor, real: torch.Tensor, subsets: int = KID_SUBSETS,
        subset_size: int = KID_SUBSET_SIZE) -> tuple[float, float]:
    """Kernel distance (unbiased MMD² with the cubic polynomial kernel): mean and
    standard deviation over ``subsets`` random subsets of ``subset_size`` images
    (at most as many as either set has)."""
    from torch_fidelity.metric_kid import (
        KEY_METRIC_KID_MEAN,
        KEY_METRIC_KID_STD,
        kid_features_to_metric,
    )
    size = min(subset_size, len(generated), len(real))
    result = kid_features_to_metric(generated.double().cpu(), real.double().cpu(),
                                    kid_subsets=subsets, kid_subset_size=size,
                                    rng_seed=SEED, verbose=False)
    return result[KEY_METRIC_KID_MEAN], result[KEY_METRIC_KID_STD]


def inception_score(logits: torch.Tensor, splits: int = IS_SPLITS) -> tuple[float, float]:
    """exp(E KL(p(y|x) || p(y))) of the class logits: mean and standard deviation
    over ``splits`` parts."""
    from torch_fidelity.metric_isc import (
        KEY_METRIC_ISC_MEAN,
        KEY_METRIC_ISC_STD,
        isc_features_to_metric,
    )
    result = isc_features_to_metric(logits.cpu(), splits=splits, shuffle=True, rng_seed=SEED)
    return result[KEY_METRIC_ISC_MEAN], result[KEY_METRIC_ISC_STD]


def precision_recall(generated: torch.Tensor, real: torch.Tensor,
                     neighbours: int = PR_NEIGHBOURS) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019): the fraction of
    generated images within the k-nearest-neighbour balls of the real ones, and
    of real images within those of the generated ones."""
    from torch_fidelity.metric_prc import prc_features_to_metric
    result = prc_features_to_metric(generated.float().cpu(), real.float().cpu(),
                                    prc_neighborhood=neighbours, verbose=False)
    return result['precision'], result['recall']


def minimum_samples(metric: str, dim: int) -> int:
    """The fewest images (of each set) that ``metric`` needs with ``dim`` features:
    FID needs a covariance of full rank."""
    return {'fid': dim + 1, 'kid': 2, 'is': IS_SPLITS, 'pr': PR_NEIGHBOURS + 1}[metric]


def score(metrics: list[str], generated: torch.Tensor, logits: torch.Tensor | None,
          real: torch.Tensor) -> dict[str, float]:
    """Each of ``metrics`` (names of ``METRICS``) of the generated features
    (and class logits, for IS) against the real ones."""
    scores: dict[str, float] = {}
    for metric in metrics:
        if metric == 'fid':
            scores['fid'] = fid(generated, real)
        elif metric == 'kid':
            scores['kid'], scores['kid_std'] = kid(generated, real)
        elif metric == 'is':
            assert logits is not None
            scores['is'], scores['is_std'] = inception_score(logits)
        elif metric == 'pr':
            scores['precision'], scores['recall'] = precision_recall(generated, real)
    return scores
