"""One writer per run: a second ganzo on a run being trained ends with one line
naming the first; deh and ganzo-eval read the run meanwhile; the lock of a
killed run is taken over, and said so. The first run is forked from this
process (as in test_reliability.py) and paused inside one of its writes."""

from __future__ import annotations

import os
import signal
import socket

import pytest

from conftest import tiny_arguments
from ganzo.deh import main as deh
from ganzo.files import load
from ganzo.lock import LOCK, RunLock
from test_reliability import fork, train, wait


def paused_run(image_folder, tmp_path, name: str, occurrence: int) -> tuple[int, list[str]]:
    """A run forked and paused just before it renames its ``occurrence``-th ``name``: its
    pid, and its command (which continues it)."""
    command = tiny_arguments(image_folder, tmp_path, epochs=3, restore=True)
    pid, read = fork(command, tmp_path / 'first.log', pause_at=(name, occurrence, 'whole'))
    assert os.read(read, 1) == b'!'
    os.close(read)
    return pid, command


def stop(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    wait(pid)


@pytest.mark.parametrize('name, occurrence', [('options.json', 1), ('checkpoint.pt', 1)])
def test_a_second_ganzo_on_a_run_in_training_ends_naming_the_first(image_folder, tmp_path,
                                                                   capsys, name, occurrence):
    """Two new runs started together (the first has not written its options yet),
    or a --restore while the first trains."""
    pid, command = paused_run(image_folder, tmp_path, name, occurrence)
    try:
        before = {path: path.read_bytes() for path in (tmp_path / 'tiny').rglob('*')
                  if path.is_file()}
        capsys.readouterr()
        assert train(*command) == 2
        [line] = capsys.readouterr().err.strip().splitlines()
        assert line.startswith(f'ganzo: error: {tmp_path / "tiny"} is being trained by another '
                               f'ganzo (pid {pid} on {socket.gethostname()} since '), line
        assert {path: path.read_bytes() for path in (tmp_path / 'tiny').rglob('*')
                if path.is_file()} == before
    finally:
        stop(pid)


def test_deh_reads_a_run_in_training(image_folder, tmp_path):
    pid, _ = paused_run(image_folder, tmp_path, 'checkpoint.pt', 2)
    try:
        deh(['--model-dir', str(tmp_path), '--experiment', 'tiny', '--num-samples', '2'])
    finally:
        stop(pid)
    assert (tmp_path / 'tiny' / 'deh-0001' / 'grid.png').is_file()


def test_the_lock_of_a_killed_run_is_taken_over_and_said_so(image_folder, tmp_path, capsys):
    pid, command = paused_run(image_folder, tmp_path, 'checkpoint.pt', 2)
    stop(pid)  # SIGKILL: the kernel releases the lock, the file stays
    assert (tmp_path / 'tiny' / LOCK).read_text().startswith(f'pid {pid} on ')
    capsys.readouterr()
    assert train(*command) == 0
    warning = capsys.readouterr().err.strip().splitlines()[0]
    assert warning.startswith(f'ganzo: warning: {tmp_path / "tiny"}: taking over the lock of '
                              f'pid {pid} on {socket.gethostname()} since '), warning
    assert load(tmp_path / 'tiny' / 'checkpoint.pt')['epoch'] == 3
    assert not (tmp_path / 'tiny' / LOCK).exists()


def test_the_lock_is_released_when_the_run_ends_or_fails(image_folder, tmp_path):
    command = tiny_arguments(image_folder, tmp_path, epochs=1)
    assert train(*command) == 0
    assert not (tmp_path / 'tiny' / LOCK).exists()
    assert train(*command, '--restore', '--generator-channels', '8') == 2  # does not match
    assert not (tmp_path / 'tiny' / LOCK).exists()


def test_a_forked_child_does_not_hold_the_lock(tmp_path):
    """DataLoader workers are forked from the training process: were the lock
    theirs too, a run killed while they wind down would still look locked."""
    read, write = os.pipe()
    holder = os.fork()
    if holder == 0:  # never returns into pytest
        code = 1
        try:
            RunLock(tmp_path / 'run').acquire()
            if os.fork() == 0:  # a worker, which outlives the holder
                os.read(read, 1)
                os._exit(0)
            code = 0
        finally:
            os._exit(code)  # ends without releasing the lock, as if killed
    os.close(read)
    try:
        assert wait(holder) == 0
        lock = RunLock(tmp_path / 'run')
        lock.acquire()  # the worker still runs: the lock is free all the same
        lock.release()
    finally:
        os.write(write, b'!')
        os.close(write)
