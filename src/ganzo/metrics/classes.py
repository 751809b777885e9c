"""Per-class metrics of a conditional generator (``ganzo-eval`` on a
conditional experiment):

* ``accuracy/<class>``: the fraction of ``--samples-per-class`` images generated
  for a class that the ``classifier`` feature extractor's own head (a CNN
  trained on the labelled training data, see ``ganzo.metrics.extractors``)
  puts in that class; ``accuracy``, their mean over the classes;
* with ``--per-class``, ``fid/<class>``: the FID between those images and the
  real images of the class, in the features of ``--feature-extractor``, and
  ``intra_fid``, their mean (the intra-FID of Miyato & Koyama 2018,
  https://arxiv.org/abs/1802.05637).

Generated images come from the same noise each time (``Scorer.generated_features``).
"""

from __future__ import annotations

import argparse

from torch import nn

from ganzo.errors import GanzoError
from ganzo.kind import kind_of, shown
from ganzo.metrics import scores
from ganzo.metrics.extractors import ClassifierExtractor
from ganzo.metrics.scorer import Scorer
from ganzo.options import complete


def classifier_of(options: argparse.Namespace, scorer: Scorer) -> ClassifierExtractor:
    """The ``classifier`` extractor of the run's data (the scorer's, if it is
    one), checked to know the classes of the run."""
    classifier = scorer.extractor if isinstance(scorer.extractor, ClassifierExtractor) else \
        ClassifierExtractor(options).to(scorer.device).eval()
    classes = kind_of(options).classes
    if tuple(classifier.classes) != tuple(classes):
        raise GanzoError(f'the classifier of --dataset {options.dataset} knows the classes '
                         f'{shown(classifier.classes)}, and the experiment was trained on '
                         f'{shown(classes)}: score it with the data it was trained on')
    return classifier


def class_scores(options: argparse.Namespace, scorer: Scorer, generator: nn.Module, noise,
                 labels: list[int], samples: int,
                 real: dict[int, Scorer] | None = None) -> dict[str, float]:
    """The per-class scores (see the module) of the classes ``labels``, each on
    ``samples`` generated images; the FID of each class too if ``real`` holds
    the scorers of its real images (``real_images_of``)."""
    kind = kind_of(options)
    classifier = classifier_of(options, scorer)
    results: dict[str, float] = {}
    accuracies, fids = [], []
    for label in labels:
        name = kind.classes[label]
        _, logits = scorer.generated_features(generator, noise, samples, label, classifier)
        assert logits is not None
        accuracies.append((logits.argmax(1) == label).float().mean().item())
        results[f'accuracy/{name}'] = accuracies[-1]
        if real is not None:
            features, _ = scorer.generated_features(generator, noise, samples, label)
            fids.append(scores.score(['fid'], features, None, real[label].real_features())['fid'])
            results[f'fid/{name}'] = fids[-1]
    results['accuracy'] = sum(accuracies) / len(accuracies)
    if fids:
        results['intra_fid'] = sum(fids) / len(fids)
    return results


def real_images_of(options: argparse.Namespace, scorer: Scorer, labels: list[int],
                   samples: int) -> dict[int, Scorer]:
    """For the per-class FID, a scorer of the real images of each class of
    ``labels`` (at most ``samples`` of them), built and checked before any
    work: a ``GanzoError`` if there are too few, if ``samples`` are too few, or
    if the real images come from a folder without the classes."""
    if options.evaluation_data_dir is not None:
        raise GanzoError('--per-class compares with the real images of each class of --dataset: '
                         'leave out --evaluation-data-dir')
    needed = scores.minimum_samples('fid', scorer.kind.dim)
    if samples < needed:
        raise GanzoError(f'--samples-per-class {samples} is too few for the per-class FID with '
                         f'--feature-extractor {options.feature_extractor} '
                         f'({scorer.kind.dim} features): it needs at least {needed}')
    classes = kind_of(options).classes
    return {label: Scorer(complete(options, image_class=classes[label],
                                   evaluation_samples=samples), ['fid'],
                          extractor=scorer.extractor) for label in labels}
