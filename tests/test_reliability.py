"""Reliability under faults: SIGKILL at random moments and inside checkpoint
writes, SIGINT and SIGTERM, divergence, and disks that refuse to write.

Killed runs are forked from this process (already past the imports, so a
trial takes a fraction of a second) and run the real ``ganzo`` command;
SIGINT and SIGTERM go to ``python -m ganzo`` subprocesses, as from a
terminal or a job scheduler.
"""

from __future__ import annotations

import errno
import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest
import torch

from conftest import ROOT, tiny_arguments
from ganzo import experiment as ganzo_experiment
from ganzo.errors import GanzoError
from ganzo.files import TEMPORARY, load
from ganzo.loss import GANLoss
from ganzo.safeguards import (
    Interrupted,
    StopSignals,
    check_finite,
    enough_memory,
    non_finite,
)
from ganzo.statistics import read_history
from ganzo.train import main

EPOCHS = 6


def train(*arguments: str) -> int:
    """Run the ganzo command in this process; its exit status."""
    try:
        main(list(arguments))
    except SystemExit as exit:
        return exit.code
    return 0


def arguments(image_folder: Path, model_dir: Path, **options) -> list[str]:
    """A tiny run with fixed-noise samples and a file log, resumable with the same arguments."""
    values = dict(epochs=EPOCHS, sample_from_fixed_noise=True, log='file', restore=True)
    return tiny_arguments(image_folder, model_dir, **{**values, **options})


def fork(command: list[str], log: Path, pause_at: tuple[str, int, str] | None = None,
         limit: int | None = None) -> tuple[int, int]:
    """Start ``ganzo command`` in a forked child; its pid, and a pipe that gets a
    byte when the child pauses. ``pause_at = (name, n, how)`` pauses the child at
    the n-th atomic write of a file called name, just before its rename: with
    ``how == 'half'`` the temporary file is first cut to half its size, as if
    killed in the middle of writing it. ``limit`` caps the size of any file the
    child writes (RLIMIT_FSIZE), as a full disk would."""
    read, write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write)
        return pid, read
    code = 1
    try:  # the child: never returns into pytest
        os.close(read)
        output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(output, 1)
        os.dup2(output, 2)
        sys.stdout = open(1, 'w', buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, 'w', buffering=1, closefd=False)  # noqa: SIM115
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.default_int_handler if number == signal.SIGINT
                          else signal.SIG_DFL)
        if limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
        if pause_at is not None:
            _pause_in_writes(*pause_at, write)
        code = train(*command)
    except BaseException:  # noqa: BLE001 (report anything, then exit)
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 1)


def _pause_in_writes(name: str, occurrence: int, how: str, pipe: int) -> None:
    replace, seen = os.replace, [0]

    def pausing_replace(source, target):
        if Path(target).name == name:
            seen[0] += 1
            if seen[0] == occurrence:
                if how == 'half':
                    os.truncate(source, os.path.getsize(source) // 2)
                os.write(pipe, b'!')
                time.sleep(60)
        return replace(source, target)

    os.replace = pausing_replace


def wait(pid: int, seconds: float = 60) -> int:
    """The exit status of the child ``pid`` (-N when killed by signal N)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f'child {pid} did not end in {seconds} s')


def kill(pid: int, read: int, delay: float | None) -> None:
    """SIGKILL ``pid`` after ``delay`` seconds, or once it pauses (``delay`` None)."""
    if delay is None:
        assert os.read(read, 1) == b'!', 'the child ended before the write it should pause in'
    else:
        time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    os.close(read)
    wait(pid)


def assert_loadable(run: Path) -> None:
    """Every weights file of the run loads, as data."""
    for path in run.glob('*.pt'):
        load(path)


def state(run: Path) -> dict:
    # plots.png is drawn from history.json at the end of a run (and once a minute):
    # a run killed after its last checkpoint may lack it, as ganzo-report does not.
    files = {path.relative_to(run).as_posix(): path for path in run.rglob('*')
             if path.is_file() and path.name != 'plots.png'}
    weights = {name: load(path) for name, path in files.items() if name.endswith('.pt')}
    samples = {name: path.read_bytes() for name, path in files.items()
               if name.startswith('samples/')}  # not plots.png, which shows the speed
    log = {}
    for line in (run / 'statistics.log').read_text().splitlines():
        values = json.loads(line)  # the last line of each epoch counts
        log[values['epoch']] = {key: values[key] for key in ('generator', 'discriminator')}
    history = {record['epoch']: {key: record[key] for key in ('generator', 'discriminator')}
               for record in read_history(run)}
    options = json.loads((run / 'options.json').read_text())
    del options['model_dir']
    return dict(files=sorted(files), weights=weights, samples=samples, log=log, history=history,
                options=options)


def assert_equal_states(first, second, path: str = '') -> None:
    """Equal nested states: tensors bit for bit."""
    if isinstance(first, torch.Tensor):
        assert isinstance(second, torch.Tensor) and first.dtype == second.dtype, path
        assert torch.equal(first, second), path
    elif isinstance(first, dict):
        assert first.keys() == second.keys(), path
        for key in first:
            assert_equal_states(first[key], second[key], f'{path}/{key}')
    elif isinstance(first, (list, tuple)):
        assert len(first) == len(second), path
        for index, (a, b) in enumerate(zip(first, second)):
            assert_equal_states(a, b, f'{path}/{index}')
    else:
        assert first == second, path


@pytest.fixture(scope='module')
def reference(image_folder, tmp_path_factory):
    """``reference(**options)``: an uninterrupted run with these options, and how
    long it took (each made once)."""
    runs = {}

    def run(**options) -> tuple[dict, float]:
        key = json.dumps(options, sort_keys=True)
        if key not in runs:
            model_dir = tmp_path_factory.mktemp('reference')
            started = time.perf_counter()
            assert train(*arguments(image_folder, model_dir, **options)) == 0
            runs[key] = state(model_dir / 'tiny'), time.perf_counter() - started
        return runs[key]
    return run


# Each trial: how the first run is killed, then how the first restore is
# (None: it runs to the end). A kill is ('random', None) at a random moment, or
# (file, n, 'half' | 'whole'): in the n-th write of that file, with the temporary
# file half written or whole but not yet renamed.
TRIALS = [
    [('random',), ('random',)],
    [('random',), None],
    [('random',), ('random',)],
    [('random',), None],
    [('random',), ('random',)],
    [('checkpoint.pt', 2, 'half'), None],
    [('checkpoint.pt', 4, 'whole'), ('checkpoint.pt', 2, 'half')],
    [('generator.pt', 3, 'half'), None],
    [('discriminator.pt', 1, 'whole'), ('random',)],
    [('options.json', 1, 'half'), None],
    [('checkpoint.pt', 1, 'half'), ('options.json', 1, 'whole')],
    [('epoch-0003.png', 1, 'half'), ('checkpoint.pt', 1, 'whole')],
    # killed before its first checkpoint, then at random: numbered from --start-epoch
    [('checkpoint.pt', 1, 'whole'), ('random',)],
    [('random',), ('random',)],  # with loader workers
]
# The options of the trials that are not run with the default ones.
TRIAL_OPTIONS = {12: {'start_epoch': 3}, 13: {'loader_workers': 2}}


@pytest.mark.parametrize('trial', range(len(TRIALS)))
def test_sigkill_then_restore_ends_bit_identical(image_folder, tmp_path, reference, trial):
    options = TRIAL_OPTIONS.get(trial, {})
    expected, seconds = reference(**options)
    chance = random.Random(trial)
    command = arguments(image_folder, tmp_path, **options)
    run = tmp_path / 'tiny'
    for step, kill_at in enumerate(TRIALS[trial]):
        if kill_at is None:
            break
        log = tmp_path / f'run{step}.log'
        if kill_at[0] == 'random':
            pid, read = fork(command, log)
            kill(pid, read, chance.uniform(0, seconds))
        else:
            pid, read = fork(command, log, pause_at=kill_at)
            kill(pid, read, None)
        assert 'Traceback' not in log.read_text(), log.read_text()
        assert_loadable(run)
    assert train(*command) == 0
    got = state(run)
    assert got['files'] == expected['files']
    assert_equal_states(got['weights'], expected['weights'])
    assert got['samples'] == expected['samples']
    assert got['log'] == expected['log'] == got['history']
    assert got['options'] == expected['options']
    assert not [path for path in run.rglob('*') if TEMPORARY.fullmatch(path.name)]


# Interrupts

def ganzo_process(command: list[str], **popen) -> subprocess.Popen:
    environment = {**os.environ, 'PYTHONPATH': str(ROOT / 'src'), 'OMP_NUM_THREADS': '1'}
    return subprocess.Popen([sys.executable, '-m', 'ganzo', *command], env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def wait_for(path: Path, ended, seconds: float = 120) -> None:
    """Wait until ``path`` exists; ``ended()`` says whether the run ended before."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert ended() is None, 'the run ended early'
        assert time.monotonic() < deadline, f'{path} never appeared'
        time.sleep(0.05)


@pytest.mark.slow
def test_sigint_from_a_terminal_stops_cleanly_and_restore_continues(image_folder, tmp_path):
    """Ctrl-C in a terminal: SIGINT to the whole process group of ``python -m
    ganzo``, DataLoader workers included."""
    command = tiny_arguments(image_folder, tmp_path / 'runs', epochs=100000, loader_workers=1)
    process = ganzo_process(command, start_new_session=True)
    try:
        wait_for(tmp_path / 'runs' / 'tiny' / 'checkpoint.pt', process.poll)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert_stopped_cleanly('SIGINT', process.returncode, stderr, command, image_folder, tmp_path)


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_restore_continues(image_folder, tmp_path):
    """SIGTERM, as a job scheduler sends it to the training process."""
    command = tiny_arguments(image_folder, tmp_path / 'runs', epochs=100000)
    pid, read = fork(command, tmp_path / 'stderr')
    os.close(read)
    try:
        wait_for(tmp_path / 'runs' / 'tiny' / 'checkpoint.pt',
                 lambda: os.waitpid(pid, os.WNOHANG)[0] or None)
    finally:
        os.kill(pid, signal.SIGTERM)
    status = wait(pid)
    assert_stopped_cleanly('SIGTERM', status, (tmp_path / 'stderr').read_text(), command,
                           image_folder, tmp_path)


def assert_stopped_cleanly(name, status, stderr, command, image_folder, tmp_path):
    """Exit status 128 + N, the messages, and a checkpoint that --restore continues exactly."""
    assert status == 128 + getattr(signal, name), stderr
    assert 'Traceback' not in stderr, stderr
    assert stderr.count(f'{name} received: stopping at the end of this batch') == 1, stderr
    last = stderr.strip().splitlines()[-1]
    epoch = load(tmp_path / 'runs' / 'tiny' / 'checkpoint.pt')['epoch']
    assert last == (f'ganzo: stopped by {name}; checkpoint.pt holds epoch {epoch}: run the '
                    'same command with --restore to continue from there'), stderr
    # --restore continues exactly: as a run of one more epoch without a stop.
    assert train(*command, '--restore', '--epochs', str(epoch + 1)) == 0
    assert train(*tiny_arguments(image_folder, tmp_path / 'whole', epochs=epoch + 1)) == 0
    assert_equal_states(load(tmp_path / 'runs' / 'tiny' / 'checkpoint.pt'),
                        load(tmp_path / 'whole' / 'tiny' / 'checkpoint.pt'))


def test_a_second_signal_stops_at_once_and_handlers_are_restored():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as stopped, StopSignals(last=4) as stop:
        progress = stop.checking(lambda *arguments: None)
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)
        progress(1)  # not reached: the second signal raised already
    assert stopped.value.status == 143
    assert str(stopped.value).startswith('SIGTERM again: stopped at once; checkpoint.pt holds '
                                         'epoch 4')
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_signal_during_the_checkpoint_stops_after_it():
    with pytest.raises(Interrupted) as stopped, StopSignals(last=0) as stop:
        os.kill(os.getpid(), signal.SIGINT)
        stop.saved(1)
    assert stopped.value.status == 130 and 'checkpoint.pt holds epoch 1' in str(stopped.value)


# Divergence

def test_nan_loss_stops_naming_epoch_and_loss_and_keeps_the_checkpoint(
        image_folder, tmp_path, monkeypatch, capsys):
    command = tiny_arguments(image_folder, tmp_path, epochs=2, sample_from_fixed_noise=True)
    assert train(*command) == 0
    run = tmp_path / 'tiny'
    saved = [path for path in run.rglob('*') if path.is_file() and path.name != 'options.json']
    before = {path: path.read_bytes() for path in saved}
    capsys.readouterr()
    loss = GANLoss.for_discriminator
    monkeypatch.setattr(GANLoss, 'for_discriminator',
                        lambda self, *tensors: loss(self, *tensors) * float('nan'))
    assert train(*command, '--restore', '--epochs', '4') == 2
    [line] = capsys.readouterr().err.strip().splitlines()[-1:]
    assert line.startswith('ganzo: error: training diverged in epoch 3: the discriminator '
                           'loss is nan'), line
    assert {path: path.read_bytes() for path in run.rglob('*')
            if path.is_file() and path.name != 'options.json'} == before


def test_non_finite_weights_with_finite_losses_are_caught(image_folder, tmp_path, monkeypatch,
                                                          capsys):
    from ganzo.game import StandardGame
    command = tiny_arguments(image_folder, tmp_path, epochs=1)
    assert train(*command) == 0
    before = (tmp_path / 'tiny' / 'checkpoint.pt').read_bytes()
    run_epoch = StandardGame.run_epoch

    def poisoned(self, *arguments):
        losses = run_epoch(self, *arguments)
        with torch.no_grad():
            weight = next(self.generator.parameters())  # channels-last: no view(-1)
            weight[(0,) * weight.dim()] = float('inf')
        return losses

    monkeypatch.setattr(StandardGame, 'run_epoch', poisoned)
    assert train(*command, '--restore', '--epochs', '2') == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert 'training diverged in epoch 2: generator' in line and 'is not finite' in line
    assert 'generator loss' in line and 'discriminator loss' in line
    assert (tmp_path / 'tiny' / 'checkpoint.pt').read_bytes() == before


def test_huge_learning_rates_diverge_with_a_clear_message(image_folder, tmp_path, capsys):
    command = tiny_arguments(image_folder, tmp_path, epochs=20, generator_lr=1e30,
                             discriminator_lr=1e30)
    assert train(*command) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith('ganzo: error: training diverged in epoch ') and '\n' not in line
    assert '--generator-lr' in line


def test_non_finite_finds_the_tensor():
    assert non_finite({'a': [torch.ones(2), {'b': torch.tensor([1.0, float('-inf')])}]}) == 'a.1.b'
    assert non_finite({'a': torch.ones(2), 'n': torch.tensor([7]), 'best': float('inf')}) is None
    with pytest.raises(GanzoError, match='epoch 5: the generator loss is inf'):
        check_finite(5, {'discriminator': 1.0, 'generator': float('inf')}, {})


def test_restore_with_a_new_learning_rate_uses_it(image_folder, tmp_path):
    """The advice on divergence works: the saved optimizer state keeps its
    moments but takes the learning rate of the options."""
    command = tiny_arguments(image_folder, tmp_path, epochs=1)
    assert train(*command) == 0
    assert train(*command, '--restore', '--epochs', '2', '--generator-lr', '1e-5') == 0
    assert json.loads((tmp_path / 'tiny' / 'options.json').read_text())['generator_lr'] == 1e-5
    game = load(tmp_path / 'tiny' / 'checkpoint.pt')['game']
    assert game['generator_optimizer']['param_groups'][0]['lr'] == 1e-5
    assert game['discriminator_optimizer']['param_groups'][0]['lr'] == 2e-4


# Full or failing disks

def test_a_checkpoint_the_disk_refuses_keeps_the_previous_one(image_folder, tmp_path,
                                                              reference):
    expected, _ = reference()
    command = arguments(image_folder, tmp_path, epochs=2)
    assert train(*command) == 0
    run = tmp_path / 'tiny'
    before = (run / 'checkpoint.pt').read_bytes()
    limit = len(before) - 1  # options, samples, models fit; the checkpoint does not
    log = tmp_path / 'full.log'
    pid, read = fork(arguments(image_folder, tmp_path, epochs=3), log, limit=limit)
    os.close(read)
    assert wait(pid) == 2, log.read_text()
    restored, line = log.read_text().strip().splitlines()
    assert restored.endswith('after epoch 2')
    assert line == (f'ganzo: error: cannot write {run / "checkpoint.pt"} (File too large): the '
                    'previous checkpoint.pt, if any, is intact; free some space or fix the '
                    'permissions, then run again with --restore')
    assert (run / 'checkpoint.pt').read_bytes() == before
    assert load(run / 'checkpoint.pt')['epoch'] == 2
    assert not [path for path in run.rglob('*') if TEMPORARY.fullmatch(path.name)]
    assert train(*arguments(image_folder, tmp_path)) == 0
    assert_equal_states(state(run)['weights'], expected['weights'])


def test_no_space_left_for_the_best_models_stops_the_run(image_folder, tmp_path, monkeypatch,
                                                         capsys):
    command = tiny_arguments(image_folder, tmp_path, epochs=1)
    assert train(*command) == 0
    run = tmp_path / 'tiny'
    before = {path.name: path.read_bytes() for path in run.glob('*.pt')}

    def full(data, file):
        file.write(data[:len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ganzo_experiment, "write_bytes", full)
    capsys.readouterr()
    assert train(*command, '--restore', '--epochs', '2') == 2
    [line] = capsys.readouterr().err.strip().splitlines()[-1:]
    assert 'generator.pt (No space left on device): the previous generator.pt' in line
    assert {path.name: path.read_bytes() for path in run.glob('*.pt')} == before
    assert sorted(path.name for path in run.iterdir()) == [
        'checkpoint.pt', 'discriminator.pt', 'generator.pt', 'history.json', 'options.json',
        'plots.png', 'samples']


def test_samples_and_logs_that_cannot_be_written_are_warnings(image_folder, tmp_path, capsys):
    blocked = tmp_path / 'out' / 'tiny'
    blocked.mkdir(parents=True)
    (blocked / 'samples').write_text('a file where the samples folder should be')
    (tmp_path / 'log-is-a-folder').mkdir()
    command = tiny_arguments(image_folder, tmp_path / 'runs', epochs=2, log='file',
                             output_dir=tmp_path / 'out', log_file=tmp_path / 'log-is-a-folder')
    assert train(*command) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith('ganzo: warning: cannot write ')
                                   and line.endswith('training goes on') for line in lines)
    assert sum('samples/epoch-000' in line for line in lines) == 2
    assert load(tmp_path / 'runs' / 'tiny' / 'checkpoint.pt')['epoch'] == 2


def test_models_too_large_for_memory_are_one_line():
    message = ("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't "
               'allocate memory: you tried to allocate 1649267441664 bytes. Error code 12')
    expected = 'do not fit in memory .it tried to allocate 1649267441664 bytes.: lower'
    with pytest.raises(GanzoError, match=expected), enough_memory():
        raise RuntimeError(message)
    with pytest.raises(GanzoError, match='do not fit in memory'), enough_memory():
        raise MemoryError
    with pytest.raises(RuntimeError, match='something else'), enough_memory():
        raise RuntimeError('something else')


def test_every_guarantee_in_the_readme_names_tests_that_exist():
    import re
    readme = (ROOT / 'README.md').read_text()
    section = readme.split('## Guarantees', 1)[1].split('\n## ', 1)[0]
    for subsection in section.split('\n### ')[1:]:
        title = subsection.splitlines()[0]
        named, module = [], None
        for file, name in re.findall(r'`(test_\w+\.py)?::(\w+)', subsection):
            module = file or module
            named.append((module, name))
        assert named, f'no test backs the guarantees of "{title}"'
        for file, name in named:
            assert f'def {name}(' in (ROOT / 'tests' / file).read_text(), (title, file, name)
