"""Untrusted files: checkpoints are data, experiment names stay inside
--model-dir, --delete removes one Ganzo run and nothing else, JSON never
imports code."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest
import torch

from conftest import ROOT, tiny_arguments
from ganzo.errors import GanzoError
from ganzo.experiment import check_experiment_name
from ganzo.files import load
from ganzo.train import ganzo as train
from ganzo.train import run


def status(arguments: list) -> int:
    try:
        run(train, [str(argument) for argument in arguments])
    except SystemExit as exit:
        return exit.code
    return 0


def torch_load_calls() -> list[tuple[Path, ast.Call]]:
    calls = []
    for path in [*(ROOT / 'src').rglob('*.py'), *(ROOT / 'examples').rglob('*.py')]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == 'load' and isinstance(node.func.value, ast.Name) \
                    and node.func.value.id == 'torch':
                calls.append((path, node))
    return calls


def test_every_torch_load_is_weights_only():
    calls = torch_load_calls()
    assert calls, 'no torch.load found: the scan is broken'
    for path, call in calls:
        keywords = {keyword.arg: keyword.value for keyword in call.keywords}
        flag = keywords.get('weights_only')
        assert isinstance(flag, ast.Constant) and flag.value is True, f'{path}:{call.lineno}'


class Payload:
    """Unpickled, it creates the file ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


@pytest.mark.parametrize('name', ['checkpoint.pt', 'generator.pt'])
def test_a_pickle_payload_never_runs(tmp_path, name):
    marker = tmp_path / 'pwned'
    path = tmp_path / name
    torch.save({'ganzo_version': '0.1.0', 'state_dict': Payload(marker)}, path)
    with pytest.raises(GanzoError, match='refusing to load it'):
        load(path)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the payload is live: an unsafe load runs it
    assert marker.exists()


@pytest.mark.parametrize('name', ['..', '.', '../up', 'a/b', '/abs', '', '.hidden', '~',
                                  '~user', 'a\\b', 'a\nb', 'sub/../..', '-rf', 'a b'])
def test_experiment_names_cannot_leave_the_model_dir(name):
    with pytest.raises(GanzoError, match='--experiment'):
        check_experiment_name(name)


def test_a_tampered_options_json_cannot_move_the_run(image_folder, tmp_path):
    model_dir = tmp_path / 'runs'
    arguments = tiny_arguments(image_folder, model_dir, epochs=1)
    assert train(arguments) is None
    options = model_dir / 'tiny' / 'options.json'
    values = json.loads(options.read_text())
    values.update(experiment='../../escaped', model_dir=str(tmp_path / 'elsewhere'))
    options.write_text(json.dumps(values))
    assert status([*arguments, '--restore', '--epochs', '2']) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ['runs']
    assert sorted(path.name for path in model_dir.iterdir()) == ['tiny']
    assert load(model_dir / 'tiny' / 'checkpoint.pt')['epoch'] == 2


def test_delete_removes_that_run_and_nothing_else(image_folder, tmp_path):
    model_dir = tmp_path / 'runs'
    for name in ('tiny', 'neighbour'):
        assert train(tiny_arguments(image_folder, model_dir, experiment=name, epochs=1)) is None
    (model_dir / 'notes.txt').write_text('mine')
    (model_dir / 'tiny' / 'extra.txt').write_text('in the run')
    neighbour = {path: path.read_bytes() for path in (model_dir / 'neighbour').rglob('*')
                 if path.is_file()}
    assert status([*tiny_arguments(image_folder, model_dir, epochs=1), '--delete']) == 0
    assert not (model_dir / 'tiny' / 'extra.txt').exists()
    assert (model_dir / 'notes.txt').read_text() == 'mine'
    assert {path: path.read_bytes() for path in (model_dir / 'neighbour').rglob('*')
            if path.is_file()} == neighbour


def test_a_delete_cut_short_can_be_done_again(image_folder, tmp_path, monkeypatch, capsys):
    """Ctrl-C in the middle of --delete leaves a run that --delete still recognizes."""
    arguments = tiny_arguments(image_folder, tmp_path, epochs=2)
    assert train(arguments) is None
    unlink = Path.unlink

    def interrupted(path, *rest, **options):
        unlink(path, *rest, **options)
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, 'unlink', interrupted)
    assert status([*arguments, '--delete']) == 130
    assert capsys.readouterr().err.strip() == 'ganzo: interrupted'
    monkeypatch.setattr(Path, 'unlink', unlink)
    assert (tmp_path / 'tiny' / 'options.json').exists()
    assert status([*arguments, '--delete', '--epochs', '1']) == 0
    assert load(tmp_path / 'tiny' / 'checkpoint.pt')['epoch'] == 1


def test_delete_refuses_what_does_not_look_like_a_run(image_folder, tmp_path, capsys):
    model_dir = tmp_path / 'runs'
    arguments = [*tiny_arguments(image_folder, model_dir, epochs=1), '--delete']
    # a folder of someone else's files, then the same with an options.json Ganzo did not write
    (model_dir / 'tiny').mkdir(parents=True)
    (model_dir / 'tiny' / 'thesis.tex').write_text('years of work')
    assert status(arguments) == 2
    assert 'not a Ganzo run' in capsys.readouterr().err
    (model_dir / 'tiny' / 'options.json').write_text('{"epochs": 3}')
    assert status(arguments) == 2
    assert 'does not look like a Ganzo run' in capsys.readouterr().err
    assert (model_dir / 'tiny' / 'thesis.tex').read_text() == 'years of work'
    # a symbolic link to a real run elsewhere
    assert train(tiny_arguments(image_folder, tmp_path / 'real', epochs=1)) is None
    (model_dir / 'tiny' / 'options.json').unlink()
    (model_dir / 'tiny' / 'thesis.tex').unlink()
    (model_dir / 'tiny').rmdir()
    (model_dir / 'tiny').symlink_to(tmp_path / 'real' / 'tiny')
    assert status(arguments) == 2
    assert 'does not look like a Ganzo run' in capsys.readouterr().err
    assert (tmp_path / 'real' / 'tiny' / 'checkpoint.pt').exists()


@pytest.fixture
def spy_module(tmp_path, monkeypatch):
    """A module on the Python path that creates a marker file when imported."""
    marker = tmp_path / 'imported'
    (tmp_path / 'spy_module.py').write_text(f'open({str(marker)!r}, "w").close()\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    sys.modules.pop('spy_module', None)


@pytest.mark.parametrize('values', [
    {'loss': 'spy_module'}, {'generator': 'spy_module'}, {'data_format': 'spy_module'},
    {'GANZO_LOAD_MODULES': 'spy_module'}, {'ganzo_load_modules': 'spy_module'},
    {'load_modules': ['spy_module']}, {'__import__': 'spy_module'},
])
def test_json_options_never_import_code(image_folder, tmp_path, spy_module, values):
    arguments = tiny_arguments(image_folder, tmp_path / 'runs', epochs=1)
    (tmp_path / 'options.json').write_text(json.dumps(values))
    assert status([*arguments, '--from-json', tmp_path / 'options.json']) == 2
    assert not spy_module.exists()
    # nor as the saved options.json of a run that is restored (unknown keys are skipped)
    assert status(arguments) == 0
    saved = tmp_path / 'runs' / 'tiny' / 'options.json'
    saved.write_text(json.dumps({**json.loads(saved.read_text()), **values}))
    status([*arguments, '--restore', '--epochs', '2'])
    assert not spy_module.exists()


@pytest.mark.parametrize('key', ['delete', 'restore'])
def test_a_json_file_never_decides_what_happens_to_an_existing_run(image_folder, tmp_path,
                                                                   capsys, key):
    model_dir = tmp_path / 'runs'
    arguments = tiny_arguments(image_folder, model_dir, epochs=1)
    assert train(arguments) is None
    (model_dir / 'tiny' / 'notes.txt').write_text('mine')  # gone with --delete only
    before = {path: path.read_bytes() for path in (model_dir / 'tiny').rglob('*')
              if path.is_file()}
    (tmp_path / 'recipe.json').write_text(json.dumps({key: True, 'epochs': 2}))
    capsys.readouterr()
    assert status([*arguments, '--from-json', tmp_path / 'recipe.json', '--epochs', '2']) == 2
    warning, error = capsys.readouterr().err.strip().splitlines()
    assert warning.startswith(f'ganzo: warning: {tmp_path / "recipe.json"}: {key!r} is ignored')
    assert 'already exists' in error and f'--{key}' in error
    assert {path: path.read_bytes() for path in (model_dir / 'tiny').rglob('*')
            if path.is_file()} == before
    # the same flag on the command line decides
    assert status([*arguments, '--from-json', tmp_path / 'recipe.json', f'--{key}',
                   '--epochs', '2']) == 0
    assert load(model_dir / 'tiny' / 'checkpoint.pt')['epoch'] == 2
    assert (model_dir / 'tiny' / 'notes.txt').exists() == (key == 'restore')


@pytest.mark.parametrize('flags', [[], ['--restore'], ['--delete']])
def test_a_symlinked_run_folder_is_never_written_through(image_folder, tmp_path, capsys,
                                                          flags):
    """Neither a new run (the link leads to an empty folder) nor a restore or a
    deletion (it leads to a real run) writes through a link out of --model-dir."""
    model_dir = tmp_path / 'runs'
    model_dir.mkdir()
    outside = tmp_path / 'outside'
    if flags:
        assert train(tiny_arguments(image_folder, tmp_path, experiment='outside',
                                    epochs=1)) is None
    else:
        outside.mkdir()
    before = {path: path.read_bytes() for path in outside.rglob('*') if path.is_file()}
    (model_dir / 'tiny').symlink_to(outside)
    capsys.readouterr()
    assert status([*tiny_arguments(image_folder, model_dir, epochs=2), *flags]) == 2
    assert 'is a symbolic link' in capsys.readouterr().err
    assert sorted(path for path in outside.rglob('*') if path.is_file()) == sorted(before)
    assert {path: path.read_bytes() for path in before} == before
