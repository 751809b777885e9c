"""The deh command: samples, interpolations, translations and exports from a
trained experiment, and its errors."""

import contextlib
import errno
import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from conftest import assert_user_error, make_image_folder, run_ganzo, tiny_arguments
from ganzo.data import image_transform
from ganzo.deh import main
from ganzo.files import load
from ganzo.generator import Generator
from ganzo.inference import slerp, to_image
from ganzo.metrics.real import image_folder
from ganzo.options import complete
from ganzo.registry import Registry
from ganzo.snapshot import generate
from ganzo.train import main as train


def run(*arguments):
    """Run deh in this process: (exit status, stdout, stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            main([str(argument) for argument in arguments])
        except SystemExit as exit:
            code = exit.code
    return code, stdout.getvalue(), stderr.getvalue()


def deh(*arguments):
    """Run deh, which must succeed; the folder it wrote."""
    code, stdout, stderr = run(*arguments)
    assert code == 0, stderr
    return Path(stdout.strip().rsplit(' to ', 1)[1])


def user_error(*arguments):
    code, stdout, stderr = run(*arguments)
    return subprocess.CompletedProcess(arguments, code, stdout, stderr)


def pixels(path):
    return np.asarray(Image.open(path).convert('RGB'), dtype=np.int16)


def files(folder):
    """Every file under ``folder`` and a hash of its bytes."""
    return {p.relative_to(folder): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob('*')) if p.is_file()}


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A tiny experiment with fixed noise, whose best weights (generator.pt) are
    those of epoch 1 and whose last checkpoint is epoch 2."""
    root = tmp_path_factory.mktemp('deh')
    images = make_image_folder(root / 'images', per_class=4)
    arguments = tiny_arguments(images, root / 'runs', epochs=1, sample_from_fixed_noise=True)
    train(arguments)
    run_dir = root / 'runs' / 'tiny'
    best = (run_dir / 'generator.pt').read_bytes()
    train([*arguments, '--restore', '--epochs', '2'])
    (run_dir / 'generator.pt').write_bytes(best)
    return run_dir


def experiment_arguments(run_dir):
    return ['--model-dir', run_dir.parent, '--experiment', run_dir.name]


def copy_of(run_dir, tmp_path):
    """A copy of the experiment that a test may change."""
    shutil.copytree(run_dir, tmp_path / 'runs' / run_dir.name,
                    ignore=shutil.ignore_patterns('deh-*'))
    return tmp_path / 'runs' / run_dir.name


# Samples

def test_fixed_noise_gives_the_snapshots_pixel_for_pixel(trained):
    best = deh(*experiment_arguments(trained))
    last = deh(*experiment_arguments(trained), '--checkpoint', 'last')
    assert np.array_equal(pixels(best / 'grid.png'), pixels(trained / 'samples/epoch-0001.png'))
    assert np.array_equal(pixels(last / 'grid.png'), pixels(trained / 'samples/epoch-0002.png'))
    assert not np.array_equal(pixels(best / 'grid.png'), pixels(last / 'grid.png'))
    assert sorted(p.name for p in best.iterdir()) == [
        '0001.png', '0002.png', '0003.png', '0004.png', 'deh.json', 'grid.png']


def test_each_sample_is_a_png_equal_to_its_cell_of_the_grid(trained):
    folder = deh(*experiment_arguments(trained), '--num-samples', 3)
    grid = pixels(folder / 'grid.png')
    for index in range(3):
        sample = pixels(folder / f'{index + 1:04d}.png')
        assert sample.shape == (8, 8, 3)
        row, column = divmod(index, 2)  # 3 images: 2 per row, padding 2
        cell = grid[2 + row * 10:10 + row * 10, 2 + column * 10:10 + column * 10]
        assert np.array_equal(sample, cell), index
    assert not (folder / '0004.png').exists()


def test_the_grid_shows_at_most_64_images_or_the_grid_size(trained):
    arguments = [*experiment_arguments(trained), '--no-sample-from-fixed-noise', '--seed', 1]
    many = deh(*arguments, '--num-samples', 100)
    assert len(list(many.glob('0*.png'))) == 100
    assert Image.open(many / 'grid.png').size == (8 * 10 + 2, 8 * 10 + 2)  # 64: 8 x 8 cells
    first = pixels(many / 'grid.png')[2:10, 2:10]
    assert np.array_equal(first, pixels(many / '0001.png'))
    ten = deh(*arguments, '--num-samples', 100, '--grid-size', 10)
    assert Image.open(ten / 'grid.png').size == (4 * 10 + 2, 3 * 10 + 2)  # 10: 4 per row
    rows = deh(*arguments, '--num-samples', 3, '--interpolate', 5, '--grid-size', 7)
    assert Image.open(rows / 'grid.png').size == (5 * 10 + 2, 1 * 10 + 2)  # whole rows


def test_ganzo_eval_scores_the_samples_of_a_deh_folder_not_its_grid(trained, recwarn):
    folder = deh(*experiment_arguments(trained), '--num-samples', 3)
    options = complete(image_size=8, image_colors=3)
    samples = image_folder(str(folder), options, '--generated-dir')
    assert sorted(Path(path).name for path, _ in samples.samples) == [
        '0001.png', '0002.png', '0003.png']
    assert not recwarn.list  # deh.json is deh's, not a file to warn about
    (folder / 'notes.txt').write_text('not an image')
    assert len(image_folder(str(folder), options, '--generated-dir')) == 3
    [warning] = recwarn.list
    assert str(warning.message) == (f'--generated-dir {folder}: skipped 1 files that are not '
                                    'readable images')


def test_training_options_are_accepted_and_ignored(trained):
    folder = deh(*experiment_arguments(trained), '--epochs', 5, '--restore', '--loss', 'wgan',
                 '--generator-lr', '0.1', '--no-soft-labels', '--discriminator-hooks')
    used = json.loads((folder / 'deh.json').read_text())
    for option in ('epochs', 'restore', 'loss', 'generator_lr', 'soft_labels',
                   'discriminator_hooks'):
        assert option not in used
    assert_user_error(user_error(*experiment_arguments(trained), '--loss', 'nope'), '--loss')


def test_seed_reproduces_and_no_fixed_noise_gives_new_images(trained):
    arguments = [*experiment_arguments(trained), '--no-sample-from-fixed-noise']
    first = deh(*arguments, '--seed', 5)
    again = deh(*arguments, '--seed', 5)
    other = deh(*arguments, '--seed', 6)
    fixed = deh(*experiment_arguments(trained))
    assert files(first) == files(again)
    for folder in (other, fixed):
        assert not np.array_equal(pixels(first / 'grid.png'), pixels(folder / 'grid.png'))
    unseeded = [deh(*arguments) for _ in range(2)]
    seeds = [json.loads((f / 'deh.json').read_text())['seed'] for f in unseeded]
    assert seeds[0] != seeds[1]  # drawn at random, not the training seed, and recorded
    assert json.loads((first / 'deh.json').read_text())['seed'] == 5
    reproduced = deh(*arguments, '--seed', seeds[0])
    assert files(reproduced) == files(unseeded[0])


@pytest.mark.slow
def test_the_spec_command_runs_as_a_module(trained):
    result = run_ganzo(*experiment_arguments(trained), '--num-samples', 10,
                       '--no-sample-from-fixed-noise', module='ganzo.deh', process=True)
    assert result.returncode == 0, result.stderr
    folder = trained / result.stdout.strip().rsplit('/', 1)[1]
    assert len(list(folder.glob('0*.png'))) == 10


def test_every_call_writes_a_new_folder_and_leaves_training_files_alone(trained, tmp_path):
    before = {p: h for p, h in files(trained).items() if not p.parts[0].startswith('deh-')}
    first, second = deh(*experiment_arguments(trained)), deh(*experiment_arguments(trained))
    assert first != second and first.parent == second.parent == trained
    assert {p: h for p, h in files(trained).items()
            if not p.parts[0].startswith('deh-')} == before
    elsewhere = deh(*experiment_arguments(trained), '--output-dir', tmp_path / 'out')
    assert elsewhere == tmp_path / 'out' / 'tiny' / 'deh-0001'


def test_the_training_device_seed_and_output_dir_are_not_inherited(trained, tmp_path):
    run_dir = copy_of(trained, tmp_path)
    options = json.loads((run_dir / 'options.json').read_text())
    options.update(device='cuda:7', output_dir=str(tmp_path / 'no' / 'such'), epochs=99)
    (run_dir / 'options.json').write_text(json.dumps(options))
    folder = deh(*experiment_arguments(run_dir))  # a model trained on a GPU samples on the CPU
    assert folder.parent == run_dir
    used = json.loads((folder / 'deh.json').read_text())
    assert used['device'] is None and used['seed'] != options['seed']
    assert 'epochs' not in used  # irrelevant at inference


# Interpolation

def test_slerp_follows_the_great_circle():
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    path = slerp(a, b, 3)
    assert path.shape == (1, 3, 2)
    assert torch.equal(path[0, 0], a[0]) and torch.equal(path[0, -1], b[0])
    assert torch.allclose(path[0, 1], torch.tensor([1.0, 2.0]) / 2 ** 0.5)  # sin 45° a + sin 45° b
    unit = slerp(a, b / 2, 5)[0]
    assert torch.allclose(unit.norm(dim=1), torch.ones(5))  # on the circle, not the chord
    same = slerp(a, 3 * a, 5)  # parallel: a straight line
    assert torch.allclose(same[0, :, 0], torch.linspace(1, 3, 5))
    noise = torch.randn(2, 4, 1, 1)
    assert slerp(noise, noise.flip(0), 4).shape == (2, 4, 4, 1, 1)


def test_interpolation_rows_go_from_each_latent_point_to_the_next(trained):
    samples = deh(*experiment_arguments(trained))
    folder = deh(*experiment_arguments(trained), '--interpolate', 5, '--num-samples', 3)
    names = sorted(p.name for p in folder.glob('0*.png'))
    assert names == [f'{row:04d}-{step}.png' for row in (1, 2, 3) for step in range(1, 6)]
    assert Image.open(folder / 'grid.png').size == (5 * 10 + 2, 3 * 10 + 2)  # 5 x 3, padding 2
    for row in (1, 2, 3):  # the ends are the samples (up to rounding: another batch size)
        start, end = pixels(folder / f'{row:04d}-1.png'), pixels(folder / f'{row:04d}-5.png')
        assert np.abs(start - pixels(samples / f'{row:04d}.png')).max() <= 1
        assert np.abs(end - pixels(samples / f'{row % 3 + 1:04d}.png')).max() <= 1
    middle = pixels(folder / '0001-3.png')
    assert np.abs(middle - pixels(samples / '0001.png')).max() > 1


# Export

def expected_outputs(run_dir, noise):
    saved = json.loads((run_dir / 'options.json').read_text())
    options = complete(**{k: v for k, v in saved.items() if k != 'ganzo_version'})
    generator = Generator.from_options(options)
    generator.load_state_dict(load(run_dir / 'generator.pt')['state_dict'])
    return generate(generator, noise)


WITHOUT_GANZO = textwrap.dedent('''
    import sys
    sys.modules['ganzo'] = None  # importing ganzo now fails
    import torch
    noise, expected = torch.load(sys.argv[2])
    generator = torch.jit.load(sys.argv[1])
    images = generator(noise)
    assert torch.equal(images, expected), (images - expected).abs().max()
    if len(sys.argv) > 3:
        import onnxruntime
        session = onnxruntime.InferenceSession(sys.argv[3])
        [onnx_images] = session.run(None, {'noise': noise.numpy()})
        assert torch.allclose(torch.from_numpy(onnx_images), expected, atol=1e-5)
    print('matches', tuple(images.shape))
''')


def check_without_ganzo(tmp_path, run_dir, model, onnx=None):
    noise = torch.randn(5, 8)  # another batch size than the one traced
    torch.save((noise, expected_outputs(run_dir, noise)), tmp_path / 'expected.pt')
    result = subprocess.run([sys.executable, '-c', WITHOUT_GANZO, str(model),
                             str(tmp_path / 'expected.pt'), *([str(onnx)] if onnx else [])],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'matches (5, 3, 8, 8)'


def test_without_onnx_the_torchscript_export_is_complete(trained, tmp_path, monkeypatch):
    monkeypatch.setattr('ganzo.export.onnx_available', lambda: False)
    code, stdout, stderr = run(*experiment_arguments(trained), '--export',
                               tmp_path / 'models' / 'generator.pt')
    assert code == 0, stderr
    assert "pip install 'ganzo[onnx]'" in stdout
    assert sorted(p.name for p in (tmp_path / 'models').iterdir()) == ['generator.pt']
    files = {'ganzo.json': ''}
    exported = torch.jit.load(tmp_path / 'models' / 'generator.pt', _extra_files=files)
    assert json.loads(files['ganzo.json'])['input_shape'] == ['B', 8]
    noise = torch.randn(5, 8)
    assert torch.equal(exported(noise), expected_outputs(trained, noise))


@pytest.mark.slow
def test_the_export_runs_without_ganzo_and_matches(trained, tmp_path):
    """TorchScript, and ONNX with onnxruntime where ganzo[onnx] and onnxruntime are installed."""
    code, stdout, stderr = run(*experiment_arguments(trained), '--export', tmp_path / 'g.pt')
    assert code == 0, stderr
    onnx = all(importlib.util.find_spec(name) for name in ('onnx', 'onnxscript', 'onnxruntime'))
    assert (tmp_path / 'g.onnx').is_file() == onnx
    check_without_ganzo(tmp_path, trained, tmp_path / 'g.pt', tmp_path / 'g.onnx' if onnx else None)


# Translation (the generator takes images)

class TinyTranslator(nn.Module):
    """A translation generator: ``B x 3 x H x W`` images to images of the same shape."""

    translation = True

    def __init__(self, options):
        super().__init__()
        self.convolution = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, images):
        return torch.tanh(self.convolution(images))


@pytest.fixture
def translator(tmp_path, monkeypatch):
    """A translation experiment made by hand: options.json and generator.pt."""
    monkeypatch.setitem(Registry._components['generator'], 'tiny-translator', TinyTranslator)
    run_dir = tmp_path / 'runs' / 'translator'
    run_dir.mkdir(parents=True)
    options = {'ganzo_version': '0.1.0', 'experiment': 'translator', 'game': 'translate',
               'data_format': 'pair-of-images', 'direction': 'first-to-second',
               'generator': 'tiny-translator', 'image_size': 8, 'image_colors': 3,
               'batch_size': 3, 'loss': 'pix2pix', 'l1_weight': 100}
    (run_dir / 'options.json').write_text(json.dumps(options))
    torch.manual_seed(0)
    generator = TinyTranslator(None)
    torch.save({'ganzo_version': '0.1.0', 'state_dict': generator.state_dict()},
               run_dir / 'generator.pt')
    return run_dir, generator


def test_translation_keeps_the_file_names(translator, tmp_path):
    run_dir, generator = translator
    inputs = make_image_folder(tmp_path / 'inputs', classes=2, per_class=3, size=12)
    Image.open(inputs / 'class0' / '0.png').convert('RGB').save(inputs / 'photo.jpg')
    (inputs / 'notes.txt').write_text('not an image')
    (inputs / '.hidden.png').write_bytes((inputs / 'class0' / '1.png').read_bytes())
    folder = deh(*experiment_arguments(run_dir), '--input', inputs)
    written = sorted(str(p.relative_to(folder)) for p in folder.rglob('*') if p.is_file())
    assert written == ['class0/0.png', 'class0/1.png', 'class0/2.png', 'class1/0.png',
                       'class1/1.png', 'class1/2.png', 'deh.json', 'photo.jpg']
    image = image_transform(8, 3)(Image.open(inputs / 'class1' / '2.png'))  # as in training
    expected = np.asarray(to_image(generate(generator, image[None])[0]), dtype=np.int16)
    assert np.array_equal(pixels(folder / 'class1' / '2.png'), expected)
    single = deh(*experiment_arguments(run_dir), '--input', inputs / 'class1' / '2.png')
    assert np.array_equal(pixels(single / '2.png'), pixels(folder / 'class1' / '2.png'))


class Colorizer(TinyTranslator):
    """A translation generator from ``B x 1 x H x W`` grey images to colour ones."""

    def __init__(self, options):
        super().__init__(options)
        self.convolution = nn.Conv2d(1, 3, 3, padding=1)


class ColorizationData:
    """A translation data format whose inputs have one channel."""

    @staticmethod
    def input_colors(options):
        return 1


def test_translation_inputs_have_the_channels_of_the_data_format(translator, tmp_path,
                                                                 monkeypatch):
    run_dir, _ = translator
    monkeypatch.setitem(Registry._components['generator'], 'colorizer', Colorizer)
    monkeypatch.setitem(Registry._components['data'], 'tiny-colorization', ColorizationData)
    generator = Colorizer(None)
    torch.save({'ganzo_version': '0.1.0', 'state_dict': generator.state_dict()},
               run_dir / 'generator.pt')
    inputs = make_image_folder(tmp_path / 'inputs', classes=1, per_class=2, size=8)
    folder = deh(*experiment_arguments(run_dir), '--generator', 'colorizer',
                 '--data-format', 'tiny-colorization', '--input', inputs)
    image = image_transform(8, 1)(Image.open(inputs / 'class0' / '1.png'))
    assert image.shape == (1, 8, 8)
    expected = np.asarray(to_image(generate(generator, image[None])[0]), dtype=np.int16)
    assert np.array_equal(pixels(folder / 'class0' / '1.png'), expected)


def test_translation_generator_exports(translator, tmp_path):
    run_dir, generator = translator
    code, _, stderr = run(*experiment_arguments(run_dir), '--export', tmp_path / 't.pt')
    assert code == 0, stderr
    images = torch.rand(2, 3, 8, 8) * 2 - 1
    # deh builds the generator in the memory format of training (channels last by default)
    generator = generator.to(memory_format=torch.channels_last)
    assert torch.equal(torch.jit.load(tmp_path / 't.pt')(images), generate(generator, images))


def test_a_trained_colorization_experiment_translates_grey_inputs(image_folder, tmp_path):
    arguments = tiny_arguments(image_folder, tmp_path / 'runs', data_format='colorization',
                               game='translate', generator='u-gen', discriminator='patch-gan',
                               loss='pix2pix', batch_size=2, epochs=1)
    train(arguments)
    run_dir = tmp_path / 'runs' / 'tiny'
    folder = deh(*experiment_arguments(run_dir), '--input', image_folder)
    names = sorted(str(p.relative_to(image_folder)) for p in image_folder.rglob('*.png'))
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob('*.png')) == names
    saved = json.loads((run_dir / 'options.json').read_text())
    generator = Generator.from_options(complete(**{k: v for k, v in saved.items()
                                                   if k != 'ganzo_version'}))
    generator.load_state_dict(load(run_dir / 'generator.pt')['state_dict'])
    grey = image_transform(8, 1)(Image.open(image_folder / names[0]))  # colorization: grey in
    expected = np.asarray(to_image(generate(generator, grey[None])[0]), dtype=np.int16)
    assert np.array_equal(pixels(folder / names[0]), expected)
    code, _, stderr = run(*experiment_arguments(run_dir), '--export', tmp_path / 'u.pt')
    assert code == 0, stderr
    inputs = torch.rand(3, 1, 8, 8) * 2 - 1
    assert torch.equal(torch.jit.load(tmp_path / 'u.pt')(inputs), generate(generator, inputs))
    if (tmp_path / 'u.onnx').exists() and importlib.util.find_spec('onnxruntime'):
        import onnxruntime
        session = onnxruntime.InferenceSession(str(tmp_path / 'u.onnx'))
        [outputs] = session.run(['images'], {'inputs': inputs.numpy()})
        assert torch.allclose(torch.from_numpy(outputs), generate(generator, inputs), atol=1e-5)


def test_translation_errors(translator, trained, tmp_path):
    run_dir, _ = translator
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'empty' / 'readme.txt').write_text('no images here')
    assert_user_error(user_error(*experiment_arguments(run_dir), '--input', tmp_path / 'empty'),
                      '--input', 'no images')
    assert_user_error(user_error(*experiment_arguments(run_dir), '--input', tmp_path / 'nope'),
                      '--input', 'no such')
    assert_user_error(user_error(*experiment_arguments(run_dir)), '--input')
    assert_user_error(user_error(*experiment_arguments(run_dir), '--input', tmp_path / 'empty',
                                 '--interpolate', 3), '--interpolate')
    assert_user_error(user_error(*experiment_arguments(trained), '--input', tmp_path / 'empty'),
                      '--input', 'noise')
    assert_user_error(user_error(*experiment_arguments(run_dir), '--input', tmp_path / 'empty',
                                 '--direction', 'b-to-a'),
                      '--direction b-to-a', 'trained first-to-second', 'that way only')
    assert not list(run_dir.glob('deh-*'))


# Errors

def broken(run_dir, tmp_path, change):
    """A copy of the experiment with ``change`` applied to it."""
    copy = copy_of(run_dir, tmp_path)
    change(copy)
    return copy


def edit_checkpoint(change):
    def edit(run_dir):
        state = torch.load(run_dir / 'checkpoint.pt', weights_only=True)
        change(state)
        torch.save(state, run_dir / 'checkpoint.pt')
    return edit


def edit_options(**values):
    def change(run_dir):
        options = json.loads((run_dir / 'options.json').read_text())
        (run_dir / 'options.json').write_text(json.dumps({**options, **values}))
    return change


@pytest.mark.parametrize('change, arguments, words', [
    (None, ['--num-samples', 0], ['--num-samples', 'positive']),
    (None, ['--num-samples', -3], ['--num-samples', 'positive']),
    (None, ['--num-samples', 5, '--sample-from-fixed-noise'],
     ['--num-samples 5', 'fixed noise', '--no-sample-from']),
    (None, ['--generator-channels', 8], ['generator.pt', 'does not match the options']),
    (None, ['--checkpoint', 'last', '--generator', 'fc'], ['checkpoint.pt', 'does not match']),
    (None, ['--interpolate', 1], ['--interpolate']),
    (None, ['--interpolate', 3, '--num-samples', 1], ['--interpolate', '--num-samples 2']),
    (None, ['--device', 'nonsense'], ['--device']),
    (None, ['--epochs', -3], ['--epochs']),  # a training option: ignored, but checked
    (None, ['--num-sample', 3], ['--num-sample']),
    (lambda d: (d / 'checkpoint.pt').unlink(), ['--checkpoint', 'last'], ['checkpoint.pt']),
    (lambda d: (d / 'checkpoint.pt').unlink(), [], ['checkpoint.pt', 'fixed noise']),
    (lambda d: (d / 'generator.pt').unlink(), [], ['generator.pt', '--checkpoint last']),
    (lambda d: (d / 'generator.pt').write_bytes(b'junk'), [], ['generator.pt', 'corrupt']),
    (lambda d: (d / 'options.json').write_text('{'), [], ['options.json', 'JSON']),
    (edit_options(generator='nope'), [], ['options.json', '--generator', 'nope']),
    (None, ['--num-samples', 10**12, '--no-sample-from-fixed-noise'], ['--num-samples', 'at most']),
    (None, ['--interpolate', 10**13], ['--interpolate', 'from 2 to 1000']),
    (None, ['--num-samples', 1000, '--interpolate', 1000, '--no-sample-from-fixed-noise'],
     ['--num-samples 1000', '--interpolate 1000', 'more than 100,000']),
    (edit_checkpoint(lambda state: state['snapshot'].update(fixed_noise=torch.zeros(4, 3))), [],
     ['checkpoint.pt', 'fixed noise is (4, 3)', '--state-size 8']),
    (lambda d: (d / 'options.json').write_text('{"seed": 1' + '0' * 5000 + '}'), [],
     ['options.json', 'number too long']),
])
def test_bad_input_is_one_line_status_2_and_writes_nothing(trained, tmp_path, change,
                                                          arguments, words):
    run_dir = broken(trained, tmp_path, change) if change else trained
    before = {p for p in files(run_dir) if not p.parts[0].startswith('deh-')}
    folders = set(run_dir.glob('deh-*'))
    assert_user_error(user_error(*experiment_arguments(run_dir), *arguments), *words)
    assert set(run_dir.glob('deh-*')) == folders
    assert {p for p in files(run_dir) if not p.parts[0].startswith('deh-')} == before


def test_fixed_noise_missing_from_the_checkpoint(trained, tmp_path):
    def drop_fixed_noise(run_dir):
        state = torch.load(run_dir / 'checkpoint.pt', weights_only=True)
        state['snapshot']['fixed_noise'] = None
        torch.save(state, run_dir / 'checkpoint.pt')
    run_dir = broken(trained, tmp_path, drop_fixed_noise)
    assert_user_error(user_error(*experiment_arguments(run_dir)),
                      'without fixed noise', '--no-sample-from-fixed-noise')
    assert deh(*experiment_arguments(run_dir), '--no-sample-from-fixed-noise').is_dir()


def test_missing_model_dir_experiment_and_options(trained, tmp_path):
    assert_user_error(user_error('--model-dir', tmp_path / 'nope', '--experiment', 'tiny'),
                      '--model-dir', 'no such folder')
    assert_user_error(user_error('--model-dir', trained.parent, '--experiment', 'other'),
                      '--experiment other', 'tiny')
    assert_user_error(user_error('--model-dir', trained.parent), '--experiment', 'tiny')
    (tmp_path / 'runs' / 'half').mkdir(parents=True)
    assert_user_error(user_error('--model-dir', tmp_path / 'runs', '--experiment', 'half'),
                      'options.json is missing')
    assert_user_error(user_error('--model-dir', trained.parent, '--experiment', '../x'),
                      '--experiment')


def test_export_refuses_to_overwrite(trained, tmp_path):
    (tmp_path / 'g.pt').write_bytes(b'keep me')
    assert_user_error(user_error(*experiment_arguments(trained), '--export', tmp_path / 'g.pt'),
                      '--export', 'already exists')
    assert (tmp_path / 'g.pt').read_bytes() == b'keep me'
    assert_user_error(user_error(*experiment_arguments(trained), '--export', tmp_path / 'g.onnx'),
                      '--export', 'TorchScript')


def test_help_lists_the_inference_options_only():
    code, stdout, _ = run('--help')
    assert code == 0
    for option in ('--num-samples', '--no-sample-from-fixed-noise', '--checkpoint',
                   '--interpolate', '--input', '--export', '--output-dir', '--seed'):
        assert option in stdout
    assert '--epochs' not in stdout and '--restore' not in stdout


# Write failures: one line, and no folder half written

def no_output(run_dir):
    """Neither a deh-NNNN folder nor a hidden temporary one."""
    return not [path for path in run_dir.iterdir() if 'deh-' in path.name]


def test_a_write_that_fails_midway_leaves_no_folder(trained, tmp_path, monkeypatch):
    run_dir = copy_of(trained, tmp_path)
    save, calls = Image.Image.save, []

    def full_disk(image, path, *arguments, **options):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return save(image, path, *arguments, **options)

    monkeypatch.setattr(Image.Image, 'save', full_disk)
    assert_user_error(user_error(*experiment_arguments(run_dir), '--num-samples', 4),
                      'No space left on device', 'nothing was written')
    assert len(calls) == 3 and no_output(run_dir)
    monkeypatch.undo()
    assert deh(*experiment_arguments(run_dir), '--num-samples', 4).name == 'deh-0001'


def test_an_input_image_that_fails_to_decode_writes_nothing(translator, tmp_path):
    run_dir, _ = translator
    inputs = make_image_folder(tmp_path / 'inputs', classes=1, per_class=2, size=12)
    content = (inputs / 'class0' / '0.png').read_bytes()
    (inputs / 'class0' / 'truncated.png').write_bytes(content[:len(content) // 2])
    assert_user_error(user_error(*experiment_arguments(run_dir), '--input', inputs),
                      'truncated.png')
    assert no_output(run_dir)


def test_an_export_the_disk_refuses_is_one_line(trained, tmp_path, monkeypatch):
    def too_large(*arguments, **options):
        raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))

    monkeypatch.setattr(torch.jit, 'save', too_large)
    assert_user_error(user_error(*experiment_arguments(trained), '--export',
                                 tmp_path / 'generator.pt'), '--export', 'File too large')
    assert not list(tmp_path.iterdir())
def test_a_generator_trained_with_a_moving_average_samples_from_it(image_folder, tmp_path):
    """--ema-decay: snapshots, generator.pt and deh use the average; the trained
    weights stay in the checkpoint and beside the average in generator.pt, and
    --raw-generator asks for them."""
    arguments = tiny_arguments(image_folder, tmp_path, epochs=2, sample_from_fixed_noise=True,
                               ema_decay=0.5, ema_start=1)
    train(arguments)
    run_dir = tmp_path / 'tiny'
    checkpoint = load(run_dir / 'checkpoint.pt')
    saved = load(run_dir / 'generator.pt')
    [average] = checkpoint['game']['hooks']['generator']
    assert average['steps'] == 4
    for name, weights in checkpoint['generator'].items():
        assert torch.equal(saved['raw_state_dict'][name], weights)
        assert torch.equal(saved['state_dict'][name], average['moving_average'][name])
    assert any(not torch.equal(saved['state_dict'][name], weights)
               for name, weights in checkpoint['generator'].items())
    snapshot = pixels(run_dir / 'samples/epoch-0002.png')
    for which in ('best', 'last'):
        averaged = deh(*experiment_arguments(run_dir), '--checkpoint', which)
        raw = deh(*experiment_arguments(run_dir), '--checkpoint', which, '--raw-generator')
        assert np.array_equal(pixels(averaged / 'grid.png'), snapshot)
        assert not np.array_equal(pixels(raw / 'grid.png'), snapshot)
        assert np.array_equal(pixels(raw / 'grid.png'), pixels(
            deh(*experiment_arguments(run_dir), '--checkpoint', 'last', '--raw-generator')
            / 'grid.png'))
