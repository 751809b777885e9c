"""Quality metrics of generated images: FID, KID, Inception Score, and improved
precision/recall, computed by torch-fidelity (``pip install "ganzo[metrics]"``).

* ``scores``: the metrics between two sets of features;
* ``extractors``: the networks that give the features (registry namespace
  ``feature-extractor``: ``inception``, ``classifier``);
* ``real``: the real images compared with;
* ``scorer``: ``Scorer`` puts them together, caching the features of the real images.
"""

from ganzo.metrics.extractors import (
    Classifier,
    ClassifierExtractor,
    FeatureExtractor,
    InceptionExtractor,
)
from ganzo.metrics.scorer import Scorer
from ganzo.metrics.scores import METRICS, fid, inception_score, kid, precision_recall

__all__ = ['METRICS', 'Classifier', 'ClassifierExtractor', 'FeatureExtractor',
           'InceptionExtractor', 'Scorer', 'fid', 'inception_score', 'kid', 'precision_recall']
