import pickle

import pytest
import torch

from ganzo.errors import GanzoError
from ganzo.files import atomic_write, load


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
