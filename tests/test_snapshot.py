import json

import pytest
import torch
from PIL import Image
from torch import nn

from conftest import run_ganzo, tiny_arguments
from ganzo.errors import GanzoError
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
    first = snapshot.noise(noise)
    assert torch.equal(first, snapshot.noise(noise))
    restored = FolderSnapshot(options(tmp_path, sample_from_fixed_noise=True, snapshot_size=3))
    restored.load_state_dict(snapshot.state_dict())
    assert torch.equal(restored.noise(noise), first)
    moving = FolderSnapshot(options(tmp_path, snapshot_size=3))
    assert not torch.equal(moving.noise(noise), moving.noise(noise))


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
