import json

import pytest
import torch
from PIL import Image
from torch import nn

from conftest import run_ganzo, tiny_arguments
from ganzo.errors import GanzoError
from ganzo.kind import run_kind
from ganzo.noise import GaussianNoise
from ganzo.options import complete
from ganzo.snapshot import FolderSnapshot, Snapshot, generate


class Identity(nn.Module):
    """A 'generator' of 1 x 2 x 2 images equal to its noise."""

    def forward(self, noise):
        return noise.view(-1, 1, 2, 2)


def options(tmp_path, **values):
    return complete(model_dir=str(tmp_path), experiment='run', state_size=4, device='cpu',
                    batch_size=8, **values)


def test_folder_snapshot_writes_a_grid_every_n_epochs(tmp_path):
    snapshot = Snapshot.from_options(options(tmp_path, snapshot_size=4, sample_every=2))
    noise = GaussianNoise(options(tmp_path))
    for epoch in (1, 2, 3, 4):
        snapshot.save(None, noise, Identity(), epoch)
    files = sorted(p.name for p in (tmp_path / 'run' / 'samples').iterdir())
    assert files == ['epoch-0002.png', 'epoch-0004.png']
    image = Image.open(tmp_path / 'run' / 'samples' / 'epoch-0002.png')
    assert image.size == (2 * 2 + 3 * 2, 2 * 2 + 3 * 2)  # 2 x 2 grid, padding 2


def test_without_epoch_numbers_the_saves_are_counted_from_1(tmp_path):
    snapshot = Snapshot.from_options(options(tmp_path, snapshot_size=4))
    noise = GaussianNoise(options(tmp_path))
    for _ in range(2):
        snapshot.save(None, noise, Identity())  # the spec's loop
    files = sorted(p.name for p in (tmp_path / 'run' / 'samples').iterdir())
    assert files == ['epoch-0001.png', 'epoch-0002.png']


def test_fixed_noise_is_drawn_once_and_survives_a_restore(tmp_path):
    noise = GaussianNoise(options(tmp_path))
    snapshot = FolderSnapshot(options(tmp_path, sample_from_fixed_noise=True, snapshot_size=3))
    first, = snapshot.inputs(noise)
    assert torch.equal(first, snapshot.inputs(noise)[0])
    restored = FolderSnapshot(options(tmp_path, sample_from_fixed_noise=True, snapshot_size=3))
    restored.load_state_dict(snapshot.state_dict())
    assert torch.equal(restored.inputs(noise)[0], first)
    moving = FolderSnapshot(options(tmp_path, snapshot_size=3))
    assert not torch.equal(moving.inputs(noise)[0], moving.inputs(noise)[0])


class Labelled(nn.Module):
    """A conditional 'generator' of 1 x 2 x 2 images: its noise, plus 10 x the label."""

    def forward(self, noise, labels):
        return noise.view(-1, 1, 2, 2) + 10 * labels.view(-1, 1, 1, 1)


def conditional_options(tmp_path, classes=('a', 'b', 'c'), **values):
    values = options(tmp_path, conditional=True, **values)
    values.kind = run_kind(values, classes)
    return values


def test_a_conditional_grid_has_a_row_per_class_from_the_same_noise(tmp_path):
    noise = GaussianNoise(options(tmp_path))
    snapshot = FolderSnapshot(conditional_options(tmp_path, snapshot_size=7,
                                                  sample_from_fixed_noise=True))
    points, labels = snapshot.inputs(noise)
    assert labels.tolist() == [0, 0, 1, 1, 2, 2]  # 3 rows of 7 // 3 columns
    assert torch.equal(points[0:2], points[2:4]) and torch.equal(points[0:2], points[4:6])
    assert not torch.equal(points[0], points[1])
    snapshot.save(None, noise, Labelled(), 1)
    image = Image.open(tmp_path / 'run' / 'samples' / 'epoch-0001.png')
    assert image.size == (2 * 2 + 3 * 2, 3 * 2 + 4 * 2)  # 2 columns, 3 rows
    restored = FolderSnapshot(conditional_options(tmp_path, snapshot_size=7,
                                                  sample_from_fixed_noise=True))
    restored.load_state_dict(snapshot.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(restored.inputs(noise), (points, labels)))


def test_a_conditional_grid_shows_the_first_classes_when_there_are_more(tmp_path):
    many = [str(label) for label in range(12)]
    snapshot = FolderSnapshot(conditional_options(tmp_path, many, snapshot_size=8))
    _, labels = snapshot.inputs(GaussianNoise(options(tmp_path)))
    assert labels.tolist() == list(range(8))


def test_snapshot_size_defaults_to_the_batch_and_cannot_exceed_it(tmp_path):
    assert FolderSnapshot(options(tmp_path)).size == 8
    assert FolderSnapshot(complete(batch_size=128)).size == 64
    with pytest.raises(GanzoError, match='--snapshot-size 9 is more than --batch-size 8'):
        FolderSnapshot(options(tmp_path, snapshot_size=9))


def test_generate_uses_evaluation_mode_and_restores_training_mode():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.9))
    model.train()
    inputs = torch.ones(2, 4)
    assert torch.equal(generate(model, inputs), generate(model, inputs))
    assert model.training


def test_a_run_saved_with_several_targets_samples_with_deh(image_folder, tmp_path):
    pytest.importorskip('tensorboardX', reason='tensorboardX is an optional extra')
    arguments = tiny_arguments(image_folder, tmp_path, epochs=1)
    result = run_ganzo(*arguments, '--log', 'none', 'file', '--save-images-as', 'folder',
                       'tensorboard')
    assert result.returncode == 0, result.stderr
    saved = json.loads((tmp_path / 'tiny' / 'options.json').read_text())
    assert saved['save_images_as'] == ['folder', 'tensorboard'] and saved['log'] == ['none', 'file']
    result = run_ganzo('--model-dir', tmp_path, '--experiment', 'tiny', '--num-samples', 2,
                       module='ganzo.deh')
    assert result.returncode == 0, result.stderr
    assert (tmp_path / 'tiny' / 'deh-0001' / '0002.png').is_file()
