"""deh on a conditional experiment (ganzo.inference, ganzo.export): a row per
class, --class, interpolation within a class, export with the labels as a
second input, and the mistakes."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import assert_user_error, make_image_folder, tiny_arguments
from ganzo.files import load
from ganzo.generator import Generator
from ganzo.options import complete
from ganzo.snapshot import generate
from ganzo.state import SavedModel
from ganzo.train import main as train
from test_deh import deh, experiment_arguments, files, pixels, run, user_error


@pytest.fixture(scope='module')
def conditional(tmp_path_factory):
    """A tiny conditional experiment on 3 classes, 2 epochs, with fixed noise:
    snapshots of 3 rows (a class each) of 2 images."""
    root = tmp_path_factory.mktemp('conditional')
    images = make_image_folder(root / 'images', classes=3, per_class=4)
    train(tiny_arguments(images, root / 'runs', batch_size=6, sample_from_fixed_noise=True,
                         conditional=True, generator_conditioning='batch-norm'))
    return root / 'runs' / 'tiny'


def test_the_default_is_a_row_per_class_equal_to_the_snapshots(conditional):
    folder = deh(*experiment_arguments(conditional), '--checkpoint', 'last')
    assert np.array_equal(pixels(folder / 'grid.png'),
                          pixels(conditional / 'samples' / 'epoch-0002.png'))
    assert sorted(path.name for path in folder.glob('*.png')) == [
        'class0-0001.png', 'class0-0002.png', 'class1-0001.png', 'class1-0002.png',
        'class2-0001.png', 'class2-0002.png', 'grid.png']
    assert json.loads((folder / 'deh.json').read_text())['classes'] == [0, 1, 2]


def test_class_chooses_the_rows_by_name_or_index(conditional):
    every = deh(*experiment_arguments(conditional))
    for chosen in (['--class', 'class1', '--class', '2'], ['--class', 'class1', '2']):
        some = deh(*experiment_arguments(conditional), *chosen)
        names = sorted(path.name for path in some.glob('class*.png'))
        assert names == ['class1-0001.png', 'class1-0002.png', 'class2-0001.png',
                         'class2-0002.png']
        assert all(np.array_equal(pixels(some / name), pixels(every / name)) for name in names)
    one = deh(*experiment_arguments(conditional), '--class', '0', '--num-samples', 1)
    assert [path.name for path in one.glob('class*.png')] == ['class0-0001.png']
    code, stdout, _ = run(*experiment_arguments(conditional), '--class', '2', '--num-samples', 4,
                          '--no-sample-from-fixed-noise')
    assert code == 0 and 'wrote 4 images of class class2' in stdout
    square = Path(stdout.strip().rsplit(' to ', 1)[1]) / 'grid.png'
    assert pixels(square).shape == (2 * 10 + 2, 2 * 10 + 2, 3)  # one class: 2 x 2, not 1 x 4


def test_more_images_than_the_fixed_noise_kept_take_new_noise_unless_it_is_asked_for(
        conditional):
    """Training sampled from fixed noise (2 points a class here): deh inherits
    that, but ``--class 7 --num-samples 16`` wants more than it kept."""
    code, stdout, _ = run(*experiment_arguments(conditional), '--class', '1', '--num-samples', 4,
                          '--seed', 5)
    assert code == 0 and 'wrote 4 images of class class1 and grid.png (seed 5)' in stdout
    assert_user_error(user_error(*experiment_arguments(conditional), '--class', '1',
                                 '--num-samples', 4, '--sample-from-fixed-noise'),
                      '--num-samples 4 is more than the 2 fixed noise')


def test_interpolation_keeps_the_class(conditional):
    samples = deh(*experiment_arguments(conditional), '--class', 'class1')
    walks = deh(*experiment_arguments(conditional), '--class', 'class1', '--interpolate', 3)
    assert sorted(path.name for path in walks.glob('class*.png')) == [
        f'class1-{row:04d}-{step}.png' for row in (1, 2) for step in (1, 2, 3)]
    for row in (1, 2):  # the ends are the samples of the class (up to another batch size)
        start = pixels(walks / f'class1-{row:04d}-1.png')
        end = pixels(walks / f'class1-{row:04d}-3.png')
        assert np.abs(start - pixels(samples / f'class1-{row:04d}.png')).max() <= 1
        assert np.abs(end - pixels(samples / f'class1-{row % 2 + 1:04d}.png')).max() <= 1


def trained_generator(run_dir):
    saved = json.loads((run_dir / 'options.json').read_text())
    options = complete(**{key: value for key, value in saved.items() if key != 'ganzo_version'})
    options.kind = SavedModel(run_dir / 'generator.pt').kind
    generator = Generator.from_options(options)
    generator.load_state_dict(load(run_dir / 'generator.pt')['state_dict'])
    return generator


def test_the_export_takes_the_labels_as_a_second_input(conditional, tmp_path):
    code, _, stderr = run(*experiment_arguments(conditional), '--export', tmp_path / 'g.pt')
    assert code == 0, stderr
    noise, labels = torch.randn(5, 8), torch.tensor([0, 1, 2, 2, 1])
    expected = generate(trained_generator(conditional), noise, labels)
    metadata = {'ganzo.json': ''}
    exported = torch.jit.load(tmp_path / 'g.pt', _extra_files=metadata)
    assert torch.equal(exported(noise, labels), expected)
    described = json.loads(metadata['ganzo.json'])
    assert described['inputs'] == ['noise', 'labels']
    assert described['classes'] == ['class0', 'class1', 'class2']
    if (tmp_path / 'g.onnx').exists() and importlib.util.find_spec('onnxruntime'):
        import onnxruntime
        session = onnxruntime.InferenceSession(str(tmp_path / 'g.onnx'))
        [images] = session.run(['images'], {'noise': noise.numpy(), 'labels': labels.numpy()})
        assert torch.allclose(torch.from_numpy(images), expected, atol=1e-5)


def test_mistakes_name_the_classes_and_write_nothing(conditional, tmp_path):
    before = files(conditional.parent)
    assert_user_error(user_error(*experiment_arguments(conditional), '--class', 'fox'),
                      '--class fox', 'class0, class1, class2')
    assert_user_error(user_error(*experiment_arguments(conditional), '--class', '3'),
                      '--class 3', 'an index below 3')
    assert files(conditional.parent) == before
    images = make_image_folder(tmp_path / 'images', classes=1, per_class=4)
    train(tiny_arguments(images, tmp_path / 'runs', epochs=1))
    assert_user_error(user_error(*experiment_arguments(tmp_path / 'runs' / 'tiny'), '--class',
                                 '1'), '--class is for conditional experiments')
