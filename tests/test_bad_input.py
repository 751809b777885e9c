"""The bad-input matrix: options, JSON files, data folders and checkpoints.

Each case prepares a model folder that already holds two runs (``tiny``, which
the checkpoint cases damage, and ``other``), then runs the ganzo command. It
ends either with exit status 2 and one line on stderr naming the problem, or
(``OK``) trains as the README's Guarantees section says. Either way there is
no traceback and no existing file of any run is changed or deleted.
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, make_image_folder, tiny_arguments
from ganzo.data import image_transform
from ganzo.train import ganzo as train
from ganzo.train import run

OK = None  # the case trains: no error expected


@dataclass
class Case:
    """``prepare(tmp_path, model_dir) -> arguments`` and the words of the error line
    (``OK`` when the run must succeed). A problem that shows only once the data
    is read (a truncated image) stops the new run ``fresh`` in its first epoch:
    it is removed, so nothing is left either way."""
    prepare: Callable[[Path, Path], list[str]]
    words: list[str] | None
    checks: list[Callable[[Path], None]] = field(default_factory=list)


def new(**options) -> Callable[[Path, Path], list[str]]:
    """A new run ``fresh`` on the shared good images, with these options."""
    def prepare(tmp: Path, model_dir: Path) -> list[str]:
        values = {key: value(tmp) if callable(value) else value for key, value in options.items()}
        return fresh(tmp / 'images', model_dir, **values)
    return prepare


def fresh(images: Path, model_dir: Path, **options) -> list[str]:
    return tiny_arguments(images, model_dir, **{'experiment': 'fresh', 'epochs': 1,
                                                'max_batches_per_epoch': 1, **options})


def json_file(text: str | bytes) -> Callable[[Path, Path], list[str]]:
    def prepare(tmp: Path, model_dir: Path) -> list[str]:
        path = tmp / 'options.json'
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return [*fresh(tmp / 'images', model_dir), '--from-json', str(path)]
    return prepare


def data(*files: tuple[str, Callable[[Path], None]], **options) -> Callable:
    """A new run on a data folder holding ``files``: (name, write(path))."""
    def prepare(tmp: Path, model_dir: Path) -> list[str]:
        folder = tmp / 'data'
        folder.mkdir()
        for name, write in files:
            write(folder / name)
        return fresh(folder, model_dir, **{'batch_size': 4, **options})
    return prepare


def restore(damage: Callable[[Path], None], *arguments: str) -> Callable:
    """``--restore`` the run ``tiny`` after ``damage(run directory)``."""
    def prepare(tmp: Path, model_dir: Path) -> list[str]:
        damage(model_dir / 'tiny')
        return ['--model-dir', str(model_dir), '--experiment', 'tiny', '--restore',
                '--epochs', '2', *arguments]
    return prepare


# Images

def png(mode: str = 'RGB', size: tuple[int, int] = (12, 12), seed: int = 0, **info):
    def write(path: Path) -> None:
        rng = np.random.default_rng(seed)
        image = Image.new(mode, size)
        if mode in ('RGB', 'L'):
            channels = 3 if mode == 'RGB' else 1
            pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
            image = Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels)
        elif mode == 'P':
            image.putpalette(list(range(256)) * 3)
        image.info.update(info)
        image.save(path, **info)
    return write


def grey16(path: Path) -> None:
    Image.fromarray((np.arange(144).reshape(12, 12) * 400).astype(np.uint16)).save(path)


def cmyk_jpeg(path: Path) -> None:
    Image.new('CMYK', (12, 12), (0, 50, 100, 0)).save(path, format='JPEG')


def truncated(path: Path) -> None:
    png(size=(64, 64))(path)
    path.write_bytes(path.read_bytes()[:300])


def corrupt_pixels(path: Path) -> None:
    """A valid header, then compressed pixel data that is garbage."""
    png(size=(32, 32))(path)
    content = bytearray(path.read_bytes())
    start = content.index(b'IDAT') + 8
    content[start:start + 40] = bytes(40)
    path.write_bytes(bytes(content))


def bomb(path: Path) -> None:
    """A PNG whose header claims 40000 x 40000 pixels: PIL refuses to open it."""
    png(size=(8, 8))(path)
    content = bytearray(path.read_bytes())
    content[16:24] = struct.pack('>II', 40000, 40000)
    content[29:33] = struct.pack('>I', zlib.crc32(bytes(content[12:29])))
    path.write_bytes(bytes(content))


def very_large(path: Path) -> None:
    Image.new('RGB', (4000, 3000), (40, 80, 120)).save(path)


def text(content: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(content)


def lab_tiff(path: Path) -> None:
    """A TIFF in the LAB colour space, which PIL decodes but cannot make grey."""
    Image.new('LAB', (12, 12), (50, 10, 10)).save(path, format='TIFF')


GOOD = [(f'good{index}.png', png(seed=index)) for index in range(4)]


def symlink_loops(tmp: Path, model_dir: Path) -> list[str]:
    """Images in a folder whose sub-folders link back to it, twice, and to each other."""
    folder = tmp / 'loops'
    (folder / 'images').mkdir(parents=True)
    for name, write in GOOD:
        write(folder / 'images' / name)
    (folder / 'images' / 'up').symlink_to('..')
    (folder / 'images' / 'again').symlink_to('../images')
    (folder / 'images' / 'down').symlink_to('.')
    return fresh(folder, model_dir, batch_size=4)


def empty_mnist(tmp: Path, model_dir: Path) -> list[str]:
    raw = tmp / 'mnist' / 'MNIST' / 'raw'
    raw.mkdir(parents=True)
    for name in ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
                 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'):
        (raw / name).write_bytes(b'')
    return fresh(tmp / 'mnist', model_dir, dataset='mnist', image_colors=1)


# Checkpoints

def edit_checkpoint(change: Callable[[dict], object]) -> Callable[[Path], None]:
    """Save the checkpoint again after ``change(state)`` edited it in place."""
    def damage(run_dir: Path) -> None:
        path = run_dir / 'checkpoint.pt'
        state = torch.load(path, weights_only=True)
        change(state)
        torch.save(state, path)
    return damage


def cut(fraction: float) -> Callable[[Path], None]:
    def damage(run_dir: Path) -> None:
        path = run_dir / 'checkpoint.pt'
        path.write_bytes(path.read_bytes()[:int(len(path.read_bytes()) * fraction)])
    return damage


def other_architecture(run_dir: Path) -> None:
    shutil.copy(run_dir.parent / 'other' / 'checkpoint.pt', run_dir / 'checkpoint.pt')


class Payload:
    """Unpickled, it would create the file ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def malicious(run_dir: Path) -> None:
    torch.save({'ganzo_version': '0.1.0', 'epoch': 1, 'generator': Payload(run_dir.parent.parent
                                                                           / 'pwned')},
               run_dir / 'checkpoint.pt')


def not_pwned(tmp: Path) -> None:
    assert not (tmp / 'pwned').exists()


def options_text(content: str) -> Callable[[Path], None]:
    return lambda run_dir: (run_dir / 'options.json').write_text(content)


def set_options(**values) -> Callable[[Path], None]:
    def damage(run_dir: Path) -> None:
        import json
        path = run_dir / 'options.json'
        path.write_text(json.dumps({**json.loads(path.read_text()), **values}))
    return damage


def fifo_checkpoint(run_dir: Path) -> None:
    """A named pipe where the checkpoint should be: reading it would wait forever."""
    (run_dir / 'checkpoint.pt').unlink()
    os.mkfifo(run_dir / 'checkpoint.pt')


def symlinked_run(tmp: Path, model_dir: Path) -> list[str]:
    """``runs/tiny`` is a link to a real run outside the model folder."""
    shutil.move(model_dir / 'tiny', tmp / 'elsewhere')
    (model_dir / 'tiny').symlink_to(tmp / 'elsewhere')
    return restore(lambda run_dir: None)(tmp, model_dir)


def outside_untouched(tmp: Path) -> None:
    assert not (tmp / 'elsewhere' / '.lock').exists()
    assert torch.load(tmp / 'elsewhere' / 'checkpoint.pt', weights_only=True)['epoch'] == 1


def foreign_folder(tmp: Path, model_dir: Path) -> list[str]:
    (model_dir / 'fresh').mkdir()
    (model_dir / 'fresh' / 'thesis.tex').write_text('years of work')
    return [*fresh(tmp / 'images', model_dir), '--delete']


def delete_not_a_run(tmp: Path, model_dir: Path) -> list[str]:
    options_text('{"epochs": 2}')(model_dir / 'tiny')
    return [*tiny_arguments(tmp / 'images', model_dir, epochs=1), '--delete']


def unpaired(layout: str, **options) -> Callable[[Path, Path], list[str]]:
    """A new cycle run on a folder holding trainA/ and trainB/ of good images,
    changed by ``layout``."""
    def prepare(tmp: Path, model_dir: Path) -> list[str]:
        root = tmp / 'domains'
        for name in ('trainA', 'trainB'):
            (root / name).mkdir(parents=True)
            for file, write in GOOD:
                write(root / name / file)
        if layout == 'no trainA':
            shutil.rmtree(root / 'trainA')
        elif layout == 'empty trainB':
            for path in (root / 'trainB').iterdir():
                path.unlink()
        elif layout == 'grey trainB':
            for path in (root / 'trainB').iterdir():
                png('L')(path)
        elif layout == 'testA only':
            shutil.copytree(root / 'trainA', root / 'testA')
        return fresh(root, model_dir, **{'game': 'cycle', 'batch_size': 2, **options})
    return prepare


def file_as(name: str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        (tmp / name).write_text('a file')
        return tmp / name
    return make


CASES = {
    # command line options
    'unknown option': Case(lambda t, m: [*fresh(t / 'images', m), '--no-such-option'],
                           ['unrecognized arguments', '--no-such-option']),
    'unknown loss': Case(new(loss='nope'), ['--loss', "'nope'"]),
    'zero epochs': Case(new(epochs=0), ['--epochs', 'positive integer']),
    'negative batch size': Case(new(batch_size=-3), ['--batch-size']),
    'image size not a number': Case(new(image_size='big'), ['--image-size', "'big'"]),
    'learning rate nan': Case(new(generator_lr='nan'), ['--generator-lr']),
    'learning rate inf': Case(new(discriminator_lr='inf'), ['--discriminator-lr']),
    'beta1 of 1': Case(new(beta1=1), ['--beta1']),
    'unknown device': Case(new(device='quantum'), ['--device', 'quantum']),
    'absent cuda device': Case(new(device='cuda:97'), ['--device cuda:97']),
    'experiment ../escape': Case(new(experiment='../escape'), ['--experiment']),
    'experiment with a slash': Case(new(experiment='a/b'), ['--experiment']),
    'empty experiment': Case(new(experiment=''), ['--experiment']),
    'hidden experiment': Case(new(experiment='.hidden'), ['--experiment']),
    'snapshot larger than batch': Case(new(snapshot_size=99), ['--snapshot-size']),
    'r1 with the penalty of wgan-gp': Case(new(loss='wgan-gp', regularizers='r1'),
                                           ['--regularizers r1', '--loss wgan-gp']),
    'attention at a resolution never reached': Case(new(generator_attention=16),
                                                    ['--generator-attention 16']),
    'unknown regularizer': Case(new(regularizers='r3'), ['--regularizers', 'r3']),
    'ema decay of 1': Case(new(ema_decay=1), ['--ema-decay']),
    'unknown augmentation': Case(new(augment='color,zoom'), ['--augment', 'zoom']),
    'learning rates that never decay': Case(new(lr_decay_start=5), ['--lr-decay-start 5']),
    'conditional on data of one class': Case(new(conditional=True),
                                             ['--conditional', 'has 1 (class0)']),
    'conditional discriminator, unconditional generator': Case(
        new(discriminator_conditioning='projection'),
        ['--discriminator-conditioning projection', '--conditional']),
    'conditioning a network cannot do': Case(
        new(conditional=True, generator='fc', generator_conditioning='batch-norm'),
        ['--generator-conditioning batch-norm', 'concat', 'conv, good, resnet']),
    'conditional with a network without labels': Case(
        new(conditional=True, discriminator='patch-gan'),
        ['--conditional', '--discriminator', 'not patch-gan']),
    'conditional translation': Case(new(conditional=True, game='translate'),
                                    ['--conditional', '--game translate']),
    'unknown image class': Case(new(image_class='zebra'), ['--image-class', 'zebra']),
    'batch larger than data': Case(new(batch_size=1000), ['--batch-size 1000']),
    'missing data folder': Case(new(data_dir='/no/such/folder'), ['--data-dir']),
    'data folder is a file': Case(new(data_dir=file_as('file')), ['--data-dir']),
    'model folder under a file': Case(
        lambda t, m: fresh(t / 'images', file_as('file')(t) / 'runs'), ['--model-dir']),
    'experiment folder of other files': Case(foreign_folder, ['not a Ganzo run']),
    # JSON option files
    'json missing': Case(lambda t, m: [*fresh(t / 'images', m), '--from-json', '/no/such.json'],
                         ['cannot read /no/such.json']),
    'json malformed': Case(json_file('{"epochs": 2,'), ['options.json is not valid JSON']),
    'json not an object': Case(json_file('[1, 2]'), ['must hold a JSON object']),
    'json unknown key': Case(json_file('{"no_such": 1}'), ['unknown option', 'no_such']),
    'json object value': Case(json_file('{"epochs": {"a": 1}}'), ["'epochs'", 'wrong type']),
    'json true for a number': Case(json_file('{"epochs": true}'), ["'epochs'", 'wrong type']),
    'json bad value': Case(json_file('{"batch_size": -1}'), ['--batch-size']),
    'json not utf-8': Case(json_file(b'\xff\xfe{"epochs": 1}'), ['not valid JSON']),
    'json names code': Case(json_file('{"loss": "os.system"}'), ['--loss', 'os.system']),
    'json loads modules': Case(json_file('{"GANZO_LOAD_MODULES": "os"}'), ['unknown option']),
    # data folders
    'empty data folder': Case(data(), ['holds no images']),
    'only non-images': Case(data(('a.txt', text(b'words')), ('b.png', text(b'')),
                                 ('c.png', text(b'\x89PNG\r\n\x1a\n' + b'junk' * 9))),
                            ['holds no images']),
    'truncated image': Case(data(*GOOD[:3], ('truncated.png', truncated)),
                            ['cannot decode the image', 'truncated.png']),
    'truncated image, loader workers': Case(
        data(*GOOD[:3], ('truncated.png', truncated), loader_workers=1),
        ['cannot decode the image', 'truncated.png']),
    'corrupt pixel data': Case(data(*GOOD[:3], ('corrupt.png', corrupt_pixels)),
                               ['cannot decode the image', 'corrupt.png']),
    'non-images among images': Case(data(*GOOD, ('notes.txt', text(b'words')),
                                         ('junk.png', text(b'junk')), ('.hidden.png', bomb)),
                                    OK),
    'mixed modes': Case(data(('rgb.png', png()), ('grey.png', png('L')), ('rgba.png', png('RGBA')),
                             ('palette.png', png('P')),
                             ('palette-alpha.png', png('P', transparency=0)),
                             ('grey-alpha.png', png('LA')), ('grey16.png', grey16),
                             ('cmyk.jpg', cmyk_jpeg), image_colors=3), OK),
    'mixed modes to grey': Case(data(('rgb.png', png()), ('rgba.png', png('RGBA')),
                                     ('palette.png', png('P')), ('grey16.png', grey16),
                                     image_colors=1), OK),
    'images smaller than image size': Case(data(*[(f'{i}.png', png(size=(3, 2), seed=i))
                                                  for i in range(4)], image_size=16), OK),
    'one very large image': Case(data(*GOOD[:3], ('large.png', very_large)), OK),
    'decompression bomb': Case(data(*GOOD, ('bomb.png', bomb)), OK),
    # unpaired data (the cycle game)
    'unpaired without trainA': Case(unpaired('no trainA'), ['--data-dir', 'no trainA/ folder']),
    'unpaired with an empty trainB': Case(unpaired('empty trainB'), ['trainB holds no images']),
    'unpaired with a grey domain': Case(unpaired('grey trainB'),
                                        ['trainB holds only grey images', '--image-colors 1']),
    'unpaired with testA but no testB': Case(unpaired('testA only'), ['has testA/ but no testB/']),
    'unpaired with one domain folder': Case(unpaired('', domain_a_dir='/x'),
                                            ['--domain-a-dir and --domain-b-dir go together']),
    'cycle game with paired data': Case(
        unpaired('', data_format='pair-of-images'),
        ['--game cycle is for unpaired image-to-image translation', 'not pair-of-images']),
    'translate game with unpaired data': Case(
        unpaired('', game='translate', generator='u-gen', discriminator='patch-gan',
                 data_format='unpaired'), ['--game translate', 'pair-of-images', 'not unpaired']),
    'unpaired data with the standard game': Case(
        unpaired('', game='standard', data_format='unpaired'),
        ['--data-format unpaired is for unpaired image-to-image translation', '--game cycle']),
    # checkpoints and saved options
    'truncated checkpoint': Case(restore(cut(0.5)), ['checkpoint.pt', 'corrupt or truncated']),
    'empty checkpoint': Case(restore(cut(0)), ['checkpoint.pt', 'corrupt or truncated']),
    'checkpoint is a folder': Case(
        restore(lambda r: ((r / 'checkpoint.pt').unlink(), (r / 'checkpoint.pt').mkdir())),
        ['checkpoint.pt']),
    'checkpoint of another architecture': Case(restore(other_architecture),
                                               ['the saved generator does not match']),
    'restore with another architecture': Case(
        restore(lambda r: None, '--generator-channels', '8'),
        ['the saved generator does not match']),
    'checkpoint of a newer ganzo': Case(
        restore(edit_checkpoint(lambda s: s.update(ganzo_version='99.0'))),
        ['ganzo 99.0', 'upgrade ganzo']),
    'checkpoint with a pickle payload': Case(restore(malicious), ['refusing to load it'],
                                             checks=[not_pwned]),
    'checkpoint not a dict': Case(
        restore(lambda r: torch.save(torch.zeros(3), r / 'checkpoint.pt')),
        ['not a Ganzo checkpoint']),
    'checkpoint without the game': Case(restore(edit_checkpoint(lambda s: s.pop('game'))),
                                        ['has no saved game']),
    'checkpoint without rng': Case(restore(edit_checkpoint(lambda s: s.pop('rng'))),
                                   ['has no saved rng']),
    'checkpoint with a garbled rng': Case(
        restore(edit_checkpoint(lambda s: s['rng'].update(torch=torch.zeros(3)))),
        ['the saved rng does not match']),
    'options.json malformed': Case(restore(options_text('{"loss":')),
                                   ['options.json is not valid JSON']),
    'options.json of a newer ganzo': Case(restore(set_options(ganzo_version='99.0')),
                                          ['ganzo 99.0', 'upgrade ganzo']),
    'options.json with a plugin not loaded': Case(restore(set_options(loss='my-loss')),
                                                  ['--loss', 'my-loss']),
    'delete a folder that is not a run': Case(delete_not_a_run,
                                              ['does not look like a Ganzo run']),
    # round 2 (issue 13): options
    'start epoch after the last epoch': Case(new(start_epoch=5, epochs=3),
                                             ['--start-epoch 5', '--epochs 3']),
    'seed of 2**64': Case(new(seed=2**64), ['--seed', '2**63']),
    'size beyond any memory': Case(new(generator_channels=2**31 - 1, state_size=2**31 - 1),
                                   ['do not fit in memory', '--generator-channels']),
    'count beyond a C int': Case(new(epochs=2**31), ['--epochs', 'at most']),
    'device meta': Case(new(device='meta'), ['--device meta']),
    'device xla': Case(new(device='xla'), ['--device xla']),
    'batch of one through BatchNorm at 1x1': Case(new(batch_size=1, discriminator_layers=3),
                                                  ['--batch-size 1', 'BatchNorm']),
    '300-character experiment name': Case(new(experiment='x' * 300),
                                          ['--experiment', '300 characters']),
    # JSON option files and saved options
    'json integer of 5000 digits': Case(json_file('{"epochs": 1' + '0' * 5000 + '}'),
                                        ['options.json', 'number too long']),
    'json nested 100000 deep': Case(json_file('{"epochs": ' + '[' * 100000 + ']' * 100000 + '}'),
                                    ['options.json', 'nested too deeply']),
    'json with a byte order mark': Case(json_file(b'\xef\xbb\xbf{"epochs": 1}'), OK),
    'json duplicate key': Case(json_file('{"epochs": 1, "epochs": 2}'),
                               ["'epochs' twice"]),
    'json list for one value': Case(json_file('{"epochs": [1, 2]}'), ["'epochs'", 'one value']),
    'options.json with an integer of 5000 digits': Case(
        restore(options_text('{"epochs": 1' + '0' * 5000 + '}')),
        ['options.json', 'number too long']),
    'options.json nested 100000 deep': Case(
        restore(options_text('{"epochs": ' + '[' * 100000 + ']' * 100000 + '}')),
        ['options.json', 'nested too deeply']),
    # data
    'folder with symlink loops': Case(symlink_loops, OK),
    'LAB image to grey': Case(data(*GOOD[:3], ('lab.tif', lab_tiff), image_colors=1),
                              ['cannot convert the image', 'lab.tif']),
    'empty MNIST files': Case(empty_mnist, ['--dataset mnist', 'corrupt or truncated']),
    # checkpoints and run folders
    'checkpoint is a named pipe': Case(restore(fifo_checkpoint),
                                       ['checkpoint.pt', 'not a regular file']),
    'checkpoint with a string epoch': Case(restore(edit_checkpoint(lambda s: s.update(epoch='1'))),
                                           ['checkpoint.pt', "epoch '1'"]),
    'checkpoint with fixed noise of the wrong shape': Case(
        restore(edit_checkpoint(lambda s: s['snapshot'].update(fixed_noise=torch.zeros(4, 3)))),
        ['checkpoint.pt', 'fixed noise']),
    'restore a folder whose options.json Ganzo did not write': Case(
        restore(options_text('{"epochs": 2}')), ['does not look like a Ganzo run']),
    'restore a symlinked run': Case(symlinked_run, ['symbolic link'],
                                    checks=[outside_untouched]),
}


@pytest.fixture(scope='module')
def template(tmp_path_factory) -> Path:
    """A model folder with two finished runs: ``tiny``, and ``other`` (wider generator)."""
    root = tmp_path_factory.mktemp('template')
    images = make_image_folder(root / 'images', classes=1, per_class=8)
    for name, channels in (('tiny', 4), ('other', 8)):
        arguments = tiny_arguments(images, root / 'runs', experiment=name, epochs=1,
                                   generator_channels=channels)
        train(arguments)
    return root


def files(*folders: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for folder in folders for path in folder.rglob('*')
            if path.is_file()}


@pytest.mark.parametrize('name', CASES)
def test_bad_input(name, template, tmp_path, capsys):
    case = CASES[name]
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    model_dir = tmp_path / 'runs'
    arguments = [str(argument) for argument in case.prepare(tmp_path, model_dir)]
    existing = files(model_dir)
    fresh_existed = (model_dir / 'fresh').exists()
    capsys.readouterr()
    try:
        run(train, arguments)
        status = 0
    except SystemExit as exit:
        status = exit.code
    stderr = capsys.readouterr().err
    assert 'Traceback' not in stderr
    lines = stderr.strip().splitlines()
    if case.words is OK:
        assert status == 0, stderr
        assert all(line.startswith('ganzo: warning: ') for line in lines), stderr
        assert torch.load(model_dir / 'fresh' / 'checkpoint.pt', weights_only=True)['epoch'] == 1
    else:
        assert status == 2 and len(lines) == 1, stderr
        for word in case.words:
            assert word in lines[0], lines[0]
        assert lines[0].startswith('ganzo: error: ')
    after = files(model_dir)
    assert {path: after.get(path) for path in existing} == existing, 'an existing file changed'
    created = {path.relative_to(model_dir).as_posix() for path in after.keys() - existing.keys()}
    if case.words is not OK:
        assert not created, created
        assert (model_dir / 'fresh').exists() == fresh_existed, 'a run folder was left behind'
    assert not list(model_dir.rglob('.lock')), 'the lock of the run was not released'
    for check in case.checks:
        check(tmp_path)


def test_the_matrix_has_enough_cases_and_the_readme_counts_them():
    assert len(CASES) >= 30
    assert f'({len(CASES)} cases:' in (ROOT / 'README.md').read_text()


def test_sixteen_bit_grey_images_are_scaled_not_clipped(tmp_path):
    grey16(tmp_path / 'grey16.png')
    pixels = image_transform(12, 1)(Image.open(tmp_path / 'grey16.png'))
    assert pixels.min() == -1 and -0.9 < pixels.median() < 0.9  # clipping made most pixels 1
