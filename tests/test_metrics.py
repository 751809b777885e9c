"""Tests of ganzo.metrics: the metric math against direct computations, the
feature extractors (parametrised over the registry), the cache of real
features and the errors."""

from __future__ import annotations

import urllib.error

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

from conftest import make_image_folder
from ganzo.errors import GanzoError
from ganzo.metrics import FeatureExtractor, Scorer, fid, inception_score, kid, precision_recall
from ganzo.metrics.real import at_most, image_folder
from ganzo.options import complete
from ganzo.registry import Registry


def features(count: int, dim: int = 8, seed: int = 0) -> torch.Tensor:
    """``count`` samples of one correlated Gaussian distribution."""
    mixing = torch.randn(dim, dim, generator=torch.Generator().manual_seed(-1),
                         dtype=torch.float64)
    samples = torch.randn(count, dim, generator=torch.Generator().manual_seed(seed),
                          dtype=torch.float64)
    return samples @ mixing


def direct_fid(first: np.ndarray, second: np.ndarray) -> float:
    mu1, mu2 = first.mean(0), second.mean(0)
    sigma1, sigma2 = np.cov(first, rowvar=False), np.cov(second, rowvar=False)
    root = scipy.linalg.sqrtm(sigma1 @ sigma2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1 + sigma2 - 2 * root))


# The math

def test_fid_of_a_feature_set_against_itself_is_zero():
    real = features(500)
    assert abs(fid(real, real)) < 1e-6 * float(real.var(0).sum())


def test_fid_against_a_shifted_copy_matches_scipy():
    real = features(500)
    shifted = 0.7 * real + 0.3 * features(500, seed=1) + 2.0
    expected = direct_fid(shifted.numpy(), real.numpy())
    assert expected > 1
    assert fid(shifted, real) == pytest.approx(expected, rel=1e-4)
    assert fid(shifted.float(), real.float()) == pytest.approx(expected, rel=1e-4)


def test_kid_of_one_distribution_is_about_zero_and_unbiased():
    values = [kid(features(60, seed=2 * i), features(60, seed=2 * i + 1), subsets=10)[0]
              for i in range(40)]
    # An unbiased estimate of 0 is as often negative as positive, and averages to 0.
    assert min(values) < 0 < max(values)
    assert abs(np.mean(values)) < 3 * np.std(values) / np.sqrt(len(values))
    far = kid(features(60) + 3, features(60, seed=1), subsets=10)[0]
    assert far > 10 * max(values)


def test_inception_score_counts_confident_balanced_classes():
    confident = 50 * torch.eye(10).repeat(1000, 1)  # each split shuffled: about balanced
    assert inception_score(confident)[0] == pytest.approx(10, rel=1e-2)
    assert inception_score(torch.zeros(200, 10))[0] == pytest.approx(1)


def test_precision_recall_of_same_and_disjoint_distributions():
    same = precision_recall(features(200, seed=1), features(200, seed=2))
    assert min(same) > 0.7
    assert precision_recall(features(200, seed=1) + 1000, features(200, seed=2)) == (0, 0)


# Feature extractors

@pytest.fixture(scope='session')
def inception_file(tmp_path_factory):
    """A weights file for the FID Inception with random weights (the real ones
    cannot be downloaded here)."""
    from torch_fidelity import feature_extractor_inceptionv3 as inception
    path = tmp_path_factory.mktemp('inception') / 'random-inception.pth'
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(inception, 'load_state_dict_from_url', lambda *args, **kwargs: None)
        patch.setattr(inception.FeatureExtractorInceptionV3, 'load_state_dict',
                      lambda self, state: None)
        network = inception.FeatureExtractorInceptionV3('inception-v3-compat', ['2048'])
    torch.save(network.state_dict(), path)
    return path


@pytest.fixture(scope='session')
def real_folder(tmp_path_factory):
    """80 tiny RGB images in two classes: enough for FID with the classifier's 64 features."""
    return make_image_folder(tmp_path_factory.mktemp('real'), classes=2, per_class=40, size=8)


def metric_options(real_folder, tmp_path, **values):
    return complete(**{'data_dir': str(real_folder), 'image_size': 8, 'batch_size': 16,
                       'device': 'cpu', 'metrics_cache': str(tmp_path / 'cache'),
                       'feature_extractor': 'classifier', 'evaluation_samples': 72, **values})


@pytest.mark.parametrize('name', Registry.names('feature-extractor'))
@pytest.mark.parametrize('colors', [1, 3])
def test_every_extractor_maps_images_to_features_and_logits(name, colors, real_folder,
                                                            inception_file, tmp_path):
    options = metric_options(real_folder, tmp_path, feature_extractor=name,
                             image_colors=colors, inception_weights=str(inception_file))
    extractor = FeatureExtractor.from_options(options)
    images = torch.rand(3, colors, 8, 8) * 2 - 1
    with torch.no_grad():
        output, logits = extractor(images)
    assert output.shape == (3, extractor.dim)
    assert torch.isfinite(output).all() and output.std() > 0
    assert (logits is not None) == extractor.has_logits
    assert extractor.key.startswith(name)


class Thumbnails(FeatureExtractor):
    """A user's extractor: the images shrunk to 4 x 4 grey, 16 features, no logits."""

    dim, has_logits, key = 16, False, 'thumbnails'

    def __init__(self, options):
        super().__init__()

    def forward(self, images):
        grey = torch.nn.functional.adaptive_avg_pool2d(images.mean(1, keepdim=True), 4)
        return grey.flatten(1), None


def test_a_plugin_extractor_scores_but_has_no_inception_score(real_folder, tmp_path,
                                                              monkeypatch):
    monkeypatch.setitem(Registry._components['feature-extractor'], 'thumbnails', Thumbnails)
    options = metric_options(real_folder, tmp_path, feature_extractor='thumbnails')
    images = at_most(image_folder(str(real_folder), options, '--generated-dir'), 72)
    scores = Scorer(options, ['fid', 'kid', 'pr'], images).score_images()
    assert abs(scores['fid']) < 1e-6 and scores['precision'] == scores['recall'] == 1
    with pytest.raises(GanzoError, match='thumbnails has no class logits'):
        Scorer(options, ['is'])


def test_the_classifier_is_trained_once_then_loaded(real_folder, tmp_path, capsys):
    options = metric_options(real_folder, tmp_path)
    first = FeatureExtractor.from_options(options)
    assert 'trained the classifier' in capsys.readouterr().err
    [saved] = (tmp_path / 'cache').glob('classifier-*.pt')
    again = FeatureExtractor.from_options(options)
    assert 'trained' not in capsys.readouterr().err
    assert first.key == again.key
    images = torch.rand(4, 3, 8, 8) * 2 - 1
    assert torch.equal(first(images)[0], again(images)[0])
    other = tmp_path / 'mine.pt'
    FeatureExtractor.from_options(metric_options(real_folder, tmp_path,
                                                 classifier_weights=str(other)))
    assert other.is_file()


def test_classifier_needs_labelled_data(tmp_path):
    one_class = make_image_folder(tmp_path / 'one', classes=1, per_class=4, size=8)
    with pytest.raises(GanzoError, match='--feature-extractor classifier needs'):
        FeatureExtractor.from_options(metric_options(one_class / 'class0', tmp_path))


def test_inception_offline_without_weights_names_the_option(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError('no network')
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    monkeypatch.setattr(torch.hub, 'download_url_to_file', offline)
    with pytest.raises(GanzoError, match='--inception-weights FILE'):
        FeatureExtractor.from_options(complete(feature_extractor='inception'))
    with pytest.raises(GanzoError, match='--inception-weights /no/such.pth: no such file'):
        FeatureExtractor.from_options(complete(inception_weights='/no/such.pth'))


def test_inception_weights_that_are_not_inception(tmp_path):
    path = tmp_path / 'other.pth'
    torch.save({'weight': torch.zeros(2)}, path)
    with pytest.raises(GanzoError, match='not the FID Inception weights'):
        FeatureExtractor.from_options(complete(inception_weights=str(path)))


# The scorer and its cache

def test_real_features_are_cached_per_data_and_extractor(real_folder, tmp_path, monkeypatch):
    options = metric_options(real_folder, tmp_path)
    first = Scorer(options, ['fid']).real_features()
    [cache] = (tmp_path / 'cache').glob('real-*.pt')
    assert first.shape == (72, 64)

    def no_extraction(*args, **kwargs):
        raise AssertionError('the cached features should have been used')
    with monkeypatch.context() as patch:
        patch.setattr(Scorer, 'extract', no_extraction)
        assert torch.equal(Scorer(options, ['fid']).real_features(), first)
    # Other images, another size, another count: other files.
    Scorer(metric_options(real_folder, tmp_path, evaluation_samples=70), ['fid']).real_features()
    assert len(list((tmp_path / 'cache').glob('real-*.pt'))) == 2
    cache.write_bytes(b'damaged')
    assert torch.equal(Scorer(options, ['fid']).real_features(), first)


def test_scores_of_folders(real_folder, tmp_path):
    def scores(folder):
        options = metric_options(real_folder, tmp_path)
        images = at_most(image_folder(str(folder), options, '--generated-dir'), 72)
        return Scorer(options, ['fid', 'kid', 'is', 'pr'], images).score_images()
    noise = make_image_folder(tmp_path / 'noise', classes=1, per_class=72, size=8, seed=5)
    grey = tmp_path / 'grey'
    grey.mkdir()
    for index in range(72):
        Image.new('RGB', (8, 8), (128, 128, 128)).save(grey / f'{index}.png')
    same, other, constant = scores(real_folder), scores(noise), scores(grey)
    assert set(same) == {'fid', 'kid', 'kid_std', 'is', 'is_std', 'precision', 'recall'}
    assert same['fid'] < other['fid'] and same['fid'] < constant['fid']
    assert same['kid'] < constant['kid']
    assert same['recall'] > constant['recall']


@pytest.mark.parametrize('values, metrics, words', [
    ({'evaluation_samples': 64}, ['fid'], ['--evaluation-samples 64', 'at least 65']),
    ({'evaluation_samples': 5}, ['is'], ['--evaluation-samples 5', 'is']),
    ({'evaluation_samples': 3}, ['pr'], ['--evaluation-samples 3', 'pr']),
    ({'evaluation_samples': 1}, ['kid'], ['--evaluation-samples 1', 'kid']),
    ({'evaluation_samples': 100, 'image_class': 'class0'}, ['fid'],
     ['the 40 real images of --dataset folder', 'at least 65']),
])
def test_too_few_samples_for_the_feature_dimension(real_folder, tmp_path, values, metrics,
                                                    words):
    with pytest.raises(GanzoError) as error:
        Scorer(metric_options(real_folder, tmp_path, **values), metrics)
    for word in words:
        assert word in str(error.value)


def test_a_folder_with_no_images(real_folder, tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(GanzoError, match='--evaluation-data-dir .* holds no images'):
        Scorer(metric_options(real_folder, tmp_path, evaluation_data_dir=str(
            tmp_path / 'empty')), ['kid'])
    with pytest.raises(GanzoError, match='--generated-dir .* holds no images'):
        image_folder(str(tmp_path / 'empty'), metric_options(real_folder, tmp_path),
                     '--generated-dir')


def test_missing_torch_fidelity_is_a_clear_error(monkeypatch):
    monkeypatch.setattr('importlib.util.find_spec', lambda name: None)
    with pytest.raises(GanzoError, match=r'pip install "ganzo\[metrics\]"'):
        Scorer(complete(), ['fid'])


# Per-class metrics of a conditional generator

class Painter(torch.nn.Module):
    """A conditional 'generator' of 8 px images, dark for one label and bright for
    the other (``swapped`` gets them the wrong way round), with some noise."""

    def __init__(self, swapped: bool = False) -> None:
        super().__init__()
        self.swapped = swapped

    def forward(self, noise, labels):
        bright = (labels == 0) ^ self.swapped  # 'bright' is class 0 (sorted names)
        level = torch.where(bright, 0.8, -0.8).view(-1, 1, 1, 1)
        return (level + 0.05 * noise[:, :1, None, None]).expand(-1, 3, 8, 8)


def test_the_accuracy_of_each_class_is_the_classifier_s_and_intra_fid_per_class(tmp_path):
    from ganzo.kind import run_kind
    from ganzo.metrics.classes import class_scores, real_images_of
    from ganzo.noise import GaussianNoise
    for name, low, high in (('bright', 190, 256), ('dark', 0, 70)):
        (tmp_path / 'data' / name).mkdir(parents=True)
        for index in range(70):
            pixels = np.random.default_rng(index).integers(low, high, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / 'data' / name / f'{index}.png')
    options = complete(data_dir=str(tmp_path / 'data'), image_size=8, batch_size=16,
                       device='cpu', state_size=4, feature_extractor='classifier',
                       evaluation_samples=70, metrics_cache=str(tmp_path / 'cache'),
                       conditional=True)
    options.kind = run_kind(options, ('bright', 'dark'))
    scorer, noise = Scorer(options, ['fid']), GaussianNoise(options)
    real = real_images_of(options, scorer, [0, 1], 66)
    right = class_scores(options, scorer, Painter(), noise, [0, 1], 66, real)
    assert right['accuracy/bright'] == right['accuracy/dark'] == right['accuracy'] == 1
    assert right['intra_fid'] == pytest.approx((right['fid/bright'] + right['fid/dark']) / 2)
    wrong = class_scores(options, scorer, Painter(swapped=True), noise, [1], 66, real)
    assert wrong['accuracy/dark'] == wrong['accuracy'] == 0 and 'fid/bright' not in wrong
    assert wrong['fid/dark'] > right['fid/dark']  # the bright images are far from the dark
    with pytest.raises(GanzoError, match='--samples-per-class 20 is too few'):
        real_images_of(options, scorer, [0], 20)
