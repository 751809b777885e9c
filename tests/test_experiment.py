import pickle
import random

import numpy as np
import pytest
import torch
from torch import nn

from ganzo.errors import GanzoError
from ganzo.experiment import (
    Experiment,
    atomic_write,
    load,
    rng_state,
    seed_everything,
    set_rng_state,
)
from ganzo.options import complete


def experiment(tmp_path):
    return Experiment(complete(model_dir=str(tmp_path), experiment='run'))


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / 'file.bin'
    atomic_write(path, lambda file: file.write(b'old'))

    def failing(file):
        file.write(b'partial')
        raise OSError(28, 'No space left on device')
    with pytest.raises(OSError):
        atomic_write(path, failing)
    assert path.read_bytes() == b'old'
    assert [p.name for p in tmp_path.iterdir()] == ['file.bin']  # no temporary left


def test_checkpoint_round_trip_restores_components_and_rng(tmp_path):
    run = experiment(tmp_path)
    model = nn.Linear(3, 3)
    seed_everything(5)
    run.save_checkpoint(4, {'model': model})
    expected = (torch.rand(3), np.random.rand(), random.random())
    other = nn.Linear(3, 3)
    seed_everything(6)
    assert run.restore({'model': other}) == 4
    assert torch.equal(other.weight, model.weight)
    assert torch.equal(torch.rand(3), expected[0])
    assert (np.random.rand(), random.random()) == expected[1:]


def test_restore_without_checkpoint_starts_at_zero(tmp_path):
    assert experiment(tmp_path).restore({'model': nn.Linear(1, 1)}) == 0


def test_rng_state_round_trips():
    state = rng_state()
    first = (torch.rand(2), np.random.rand(), random.random())
    set_rng_state(state)
    second = (torch.rand(2), np.random.rand(), random.random())
    assert torch.equal(first[0], second[0]) and first[1:] == second[1:]


def test_a_mismatched_checkpoint_is_a_clear_error(tmp_path):
    run = experiment(tmp_path)
    run.save_checkpoint(1, {'model': nn.Linear(3, 3)})
    with pytest.raises(GanzoError, match='saved model does not match the options'):
        run.restore({'model': nn.Linear(4, 3)})


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    run = experiment(tmp_path)
    run.save_checkpoint(1, {'model': nn.Linear(3, 3)})
    path = tmp_path / 'run' / 'checkpoint.pt'
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(GanzoError, match='corrupt or truncated'):
        load(path)


class Payload:
    """Unpickling this creates a file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, 'w'))


def test_a_pickle_payload_is_refused_and_does_not_run(tmp_path):
    target, created = tmp_path / 'evil.pt', tmp_path / 'created-by-pickle'
    target.write_bytes(pickle.dumps({'epoch': Payload(created)}, protocol=2))
    with pytest.raises(GanzoError, match='refusing to load'):
        load(target)
    assert not created.exists()


def test_a_checkpoint_from_a_newer_ganzo_is_refused(tmp_path):
    path = tmp_path / 'new.pt'
    torch.save({'ganzo_version': '99.0.0'}, path)
    with pytest.raises(GanzoError, match='newer than this ganzo'):
        load(path)


def test_delete_refuses_a_folder_that_is_not_a_ganzo_run(tmp_path):
    (tmp_path / 'run').mkdir()
    (tmp_path / 'run' / 'precious.txt').write_text('keep me')
    with pytest.raises(GanzoError, match='does not look like a Ganzo run'):
        experiment(tmp_path).delete()
    assert (tmp_path / 'run' / 'precious.txt').exists()


def test_save_models_writes_weights_loadable_as_data(tmp_path):
    run = experiment(tmp_path)
    model = nn.Linear(2, 2)
    run.save_models(generator=model)
    weights = load(tmp_path / 'run' / 'generator.pt')
    assert torch.equal(weights['state_dict']['weight'], model.weight)
