import random

import numpy as np
import pytest
import torch
from torch import nn

from ganzo.errors import GanzoError
from ganzo.experiment import Experiment
from ganzo.files import load
from ganzo.kind import RunKind
from ganzo.options import complete
from ganzo.state import (
    FORMAT,
    Checkpoint,
    SavedModel,
    TrainingState,
    rng_state,
    seed_everything,
    set_rng_state,
)

KIND = RunKind('generation', 3, 3)


def experiment(tmp_path):
    return Experiment(complete(model_dir=str(tmp_path), experiment='run'))


def test_checkpoint_round_trip_restores_components_and_rng(tmp_path):
    run = experiment(tmp_path)
    model = nn.Linear(3, 3)
    seed_everything(5)
    run.save_checkpoint(TrainingState(KIND, model=model), 4)
    expected = (torch.rand(3), np.random.rand(), random.random())
    other = nn.Linear(3, 3)
    seed_everything(6)
    assert run.restore(TrainingState(KIND, model=other)) == 4
    assert torch.equal(other.weight, model.weight)
    assert torch.equal(torch.rand(3), expected[0])
    assert (np.random.rand(), random.random()) == expected[1:]


def test_the_checkpoint_names_its_parts(tmp_path):
    run = experiment(tmp_path)
    fixed = torch.randn(4, 8)
    snapshot = type('Snapshot', (), {'state_dict': lambda self: {'fixed_noise': fixed}})()
    generator = nn.Linear(8, 2)
    run.save_checkpoint(TrainingState(KIND, generator=generator, snapshot=snapshot), 7)
    checkpoint = Checkpoint(tmp_path / 'run' / 'checkpoint.pt')
    assert checkpoint.epoch == 7 and checkpoint.kind == KIND
    assert torch.equal(checkpoint.fixed_noise, fixed)
    assert torch.equal(checkpoint.generator_weights['weight'], generator.weight)
    assert load(checkpoint.path)['format'] == FORMAT


def test_restore_without_checkpoint_starts_at_zero(tmp_path):
    assert experiment(tmp_path).restore(TrainingState(KIND, model=nn.Linear(1, 1))) == 0


def test_rng_state_round_trips():
    state = rng_state()
    first = (torch.rand(2), np.random.rand(), random.random())
    set_rng_state(state)
    second = (torch.rand(2), np.random.rand(), random.random())
    assert torch.equal(first[0], second[0]) and first[1:] == second[1:]


def test_a_mismatched_checkpoint_is_a_clear_error(tmp_path):
    run = experiment(tmp_path)
    run.save_checkpoint(TrainingState(KIND, model=nn.Linear(3, 3)), 1)
    with pytest.raises(GanzoError, match='saved model does not match the options'):
        run.restore(TrainingState(KIND, model=nn.Linear(4, 3)))


@pytest.mark.parametrize('saved, words', [(FORMAT + 1, 'upgrade ganzo'),
                                          (0, 'use the ganzo that wrote it'),
                                          ('two', 'upgrade ganzo')])
def test_a_checkpoint_of_another_format_is_a_clear_error(tmp_path, saved, words):
    run = experiment(tmp_path)
    run.save_checkpoint(TrainingState(KIND, model=nn.Linear(3, 3)), 1)
    path = tmp_path / 'run' / 'checkpoint.pt'
    torch.save({**load(path), 'format': saved}, path)
    with pytest.raises(GanzoError, match=f'checkpoint format .*{words}'):
        run.restore(TrainingState(KIND, model=nn.Linear(3, 3)))


def test_a_checkpoint_of_ganzo_0_1_without_format_or_kind_restores(tmp_path):
    run = experiment(tmp_path)
    model = nn.Linear(3, 3)
    run.save_checkpoint(TrainingState(KIND, model=model), 2)
    path = tmp_path / 'run' / 'checkpoint.pt'
    old = {key: value for key, value in load(path).items() if key not in ('format', 'kind')}
    torch.save(old, path)
    other = nn.Linear(3, 3)
    assert run.restore(TrainingState(KIND, model=other)) == 2
    assert torch.equal(other.weight, model.weight) and Checkpoint(path).kind is None


def test_save_models_writes_weights_and_kind_loadable_as_data(tmp_path):
    run = experiment(tmp_path)
    generator, discriminator = nn.Linear(2, 2), nn.Linear(2, 1)
    run.save_models(TrainingState(KIND, generator=generator, discriminator=discriminator))
    saved = SavedModel(tmp_path / 'run' / 'generator.pt')
    assert torch.equal(saved.weights['weight'], generator.weight) and saved.kind == KIND
    assert torch.equal(SavedModel(tmp_path / 'run' / 'discriminator.pt').weights['bias'],
                       discriminator.bias)


def test_a_conditional_run_restores_only_on_the_classes_it_was_trained_on(tmp_path):
    run = experiment(tmp_path)
    trained = RunKind('conditional', 3, 3, ('cat', 'dog'))
    run.save_checkpoint(TrainingState(trained, model=nn.Linear(3, 3)), 1)
    assert Checkpoint(tmp_path / 'run' / 'checkpoint.pt').kind.classes == ('cat', 'dog')
    assert run.restore(TrainingState(trained, model=nn.Linear(3, 3))) == 1
    other = RunKind('conditional', 3, 3, ('cat', 'dog', 'fox'))
    with pytest.raises(GanzoError, match='trained on the classes cat, dog, and the data now '
                                         'has cat, dog, fox'):
        run.restore(TrainingState(other, model=nn.Linear(3, 3)))
