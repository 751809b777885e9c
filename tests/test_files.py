import os
import pickle

import pytest
import torch

from conftest import tiny_arguments
from ganzo.errors import GanzoError
from ganzo.files import TEMPORARY, atomic_write, load
from test_reliability import train


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


def test_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / 'checkpoint.pt'
    torch.save({'weights': torch.zeros(100)}, path)
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


def test_leftovers_of_killed_writes_are_removed_and_a_users_hidden_files_are_not(
        image_folder, tmp_path):
    command = tiny_arguments(image_folder, tmp_path, epochs=1)
    assert train(*command) == 0
    run = tmp_path / 'tiny'
    mine = ['.checkpoint.pt.20241201', '.options.json.original', '.generator.pt.abcdefgh',
            'samples/.epoch-0001.png.backup12']
    for name in mine:
        (run / name).write_text('a backup')
    leftover = run / '.checkpoint.pt.k2j4h5g6.ganzo-tmp'  # as atomic_write names them
    leftover.write_text('half a checkpoint')
    assert TEMPORARY.fullmatch(leftover.name)
    assert train(*command, '--restore', '--epochs', '2') == 0
    assert not leftover.exists()
    assert all((run / name).read_text() == 'a backup' for name in mine)


def test_a_non_regular_file_is_refused_without_reading_it(tmp_path):
    os.mkfifo(tmp_path / 'checkpoint.pt')  # opening it to read would wait for a writer
    with pytest.raises(GanzoError, match='not a regular file'):
        load(tmp_path / 'checkpoint.pt')
