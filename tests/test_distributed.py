"""Distributed training on the CPU: torchrun processes talking gloo over loopback.

Each torchrun start costs seconds of CPU (every process imports torch), so the
runs are tiny, shared through module fixtures, and bounded by timeouts."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import ROOT, assert_user_error, tiny_arguments
from ganzo.distributed import EpochOrder, launch, reason, timeout
from ganzo.errors import GanzoError
from ganzo.lock import RunLock
from ganzo.train import main
from ganzo.train import run as ganzo_run

pytestmark = pytest.mark.slow  # processes that each import torch
TIMEOUT = 240
LAUNCH = 'import sys; from ganzo.train import run; from ganzo.distributed import launch; ' \
         'run(lambda argv: launch(argv, 2), sys.argv[1:])'


def environment() -> dict[str, str]:
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(
        [str(ROOT / 'src'), os.environ.get('PYTHONPATH', '')]), 'OMP_NUM_THREADS': '1'}
    if Path('/sys/class/net/lo').exists():
        env['GLOO_SOCKET_IFNAME'] = 'lo'  # loopback only
    return env


def torchrun(*arguments: str) -> list[str]:
    return [sys.executable, '-m', 'torch.distributed.run', *map(str, arguments)]


def run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, env=environment(),
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def standalone(processes: int, *ganzo: str) -> None:
    """``processes`` processes of ``python -m ganzo`` in one process group, started
    with the variables that ``torchrun --standalone`` sets (without torchrun itself,
    whose own start costs seconds: the tests of torchrun are below)."""
    group = {**environment(), 'MASTER_ADDR': '127.0.0.1', 'MASTER_PORT': str(free_port()),
             'WORLD_SIZE': str(processes), 'LOCAL_WORLD_SIZE': str(processes)}
    started = [subprocess.Popen([sys.executable, '-m', 'ganzo', *map(str, ganzo)],
                                env={**group, 'RANK': str(rank), 'LOCAL_RANK': str(rank)},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL) for rank in range(processes)]
    try:
        outputs = [process.communicate(timeout=TIMEOUT) for process in started]
    finally:
        for process in started:
            process.kill()
    assert [process.returncode for process in started] == [0] * processes, outputs


def checkpoint(run_dir: Path) -> dict:
    return torch.load(run_dir / 'checkpoint.pt', weights_only=True)


def assert_same_models(first: dict, second: dict) -> None:
    assert first['epoch'] == second['epoch']
    for model in ('generator', 'discriminator'):
        for name, tensor in first[model].items():
            assert torch.equal(tensor, second[model][name]), (model, name)


def arguments(image_folder: Path, model_dir: Path, **options) -> list[str]:
    """A tiny run that logs to a file, with the game that asks most of
    DistributedDataParallel: a gradient penalty, several discriminator steps
    per generator step (a generator forward without gradients), a hook. torchrun
    would take ``--log`` for an abbreviation of its own ``--log-dir``: the option
    is spelled ``--statistics``."""
    return tiny_arguments(image_folder, model_dir, log=None, statistics='file',
                          loss='wgan-gp', discriminator_iterations=2, max_batches_per_epoch=4,
                          discriminator_hooks='weight-clipper', **options)


# Labels through DistributedDataParallel as well: conditional batch normalization,
# and an auxiliary classifier, which the loss calls beside the wrapper's forward.
CONDITIONAL = dict(conditional=True, generator_conditioning='batch-norm',
                   discriminator_conditioning='auxiliary')


@pytest.fixture(scope='module')
def two_processes(image_folder, tmp_path_factory) -> Path:
    """A conditional run of 3 epochs by two processes on one machine."""
    model_dir = tmp_path_factory.mktemp('two')
    standalone(2, *arguments(image_folder, model_dir, epochs=3, **CONDITIONAL))
    return model_dir / 'tiny'


def test_two_processes_train_and_only_rank_0_writes(two_processes):
    assert checkpoint(two_processes)['epoch'] == 3
    log = (two_processes / 'statistics.log').read_text().splitlines()
    assert [json.loads(line)['epoch'] for line in log] == [1, 2, 3]
    assert sorted(path.name for path in (two_processes / 'samples').iterdir()) == [
        'epoch-0001.png', 'epoch-0002.png', 'epoch-0003.png']
    assert sorted(path.name for path in two_processes.iterdir()) == [
        'checkpoint.pt', 'discriminator.pt', 'generator.pt', 'history.json', 'options.json',
        'plots.png', 'samples', 'statistics.log']
    history = json.loads((two_processes / 'history.json').read_text())['epochs']
    assert [record['epoch'] for record in history] == [1, 2, 3]


def test_restored_run_continues_exactly_and_with_another_number_of_processes(
        image_folder, tmp_path, two_processes):
    standalone(2, *arguments(image_folder, tmp_path / 'split', epochs=2, **CONDITIONAL))
    shutil.copytree(tmp_path / 'split', tmp_path / 'other')
    standalone(2, *arguments(image_folder, tmp_path / 'split', epochs=3, **CONDITIONAL),
               '--restore')
    assert_same_models(checkpoint(two_processes), checkpoint(tmp_path / 'split' / 'tiny'))
    # One process continues the run of two.
    before = checkpoint(tmp_path / 'other' / 'tiny')
    assert main(arguments(image_folder, tmp_path / 'other', epochs=3, **CONDITIONAL)
                + ['--restore']) is None
    after = checkpoint(tmp_path / 'other' / 'tiny')
    assert after['epoch'] == 3
    assert any(not torch.equal(tensor, after['generator'][name])
               for name, tensor in before['generator'].items())
    assert all(torch.isfinite(tensor).all() for tensor in after['generator'].values())


def readme_command(start: str, **values: str) -> list[str]:
    """The README's command line that begins with ``start`` (its continued lines
    joined), split as a shell would, with the ``values`` of its variables."""
    text = (ROOT / 'README.md').read_text().replace('\\\n', ' ')
    [line] = [line for line in text.splitlines() if line.startswith(start)]
    for name, value in values.items():
        line = line.replace(f'${name}', value)
    return shlex.split(line)


def on_this_machine(command: list[str], port: int, **replaced: str) -> list[str]:
    """A README torchrun command on loopback, one process per node: the values
    of the options ``replaced`` (such as ``--from-json``) changed."""
    values = {'--nproc-per-node': '1', '--rdzv-endpoint': f'127.0.0.1:{port}',
              '--rdzv-id': f'test-{port}', **replaced}
    return [values.get(command[index - 1], argument)
            for index, argument in enumerate(command)]


def test_torchrun_reads_the_readme_commands_and_leaves_statistics_to_ganzo():
    from torch.distributed.run import get_args_parser
    node = readme_command('torchrun --nnodes 2')
    slurm = readme_command('srun torchrun', SLURM_NNODES='2', head='host0',
                           SLURM_JOB_ID='7')[1:]
    for command in (node, slurm):
        parsed = get_args_parser().parse_args(command[1:])
        ganzo = parsed.training_script_args
        assert parsed.training_script == 'ganzo' and parsed.module and parsed.log_dir is None
        assert ganzo[ganzo.index('--statistics') + 1] == 'file'
    with pytest.raises(SystemExit):  # what --log would do: torchrun takes it for its own
        get_args_parser().parse_args([*node[1:-2], '--log', 'file'])


def test_two_nodes_on_loopback_train_as_two_processes_on_one(image_folder, tmp_path,
                                                             two_processes):
    """The README's command for several machines, run on this one as two nodes."""
    settings = tmp_path / 'run.json'
    settings.write_text(json.dumps({}))
    command = on_this_machine(readme_command('torchrun --nnodes 2'), free_port(),
                              **{'--from-json': str(settings)})
    extra = [argument for argument in arguments(image_folder, tmp_path, epochs=3, **CONDITIONAL)
             if not argument.startswith('--statistics')]
    nodes = [subprocess.Popen(torchrun(*command[1:], *extra), env=environment(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL) for _ in range(2)]
    try:
        outputs = [node.communicate(timeout=TIMEOUT) for node in nodes]
    finally:
        for node in nodes:
            node.kill()
    assert [node.returncode for node in nodes] == [0, 0], outputs
    assert_same_models(checkpoint(two_processes), checkpoint(tmp_path / 'tiny'))
    log = (tmp_path / 'tiny' / 'statistics.log').read_text().splitlines()
    assert [json.loads(line)['epoch'] for line in log] == [1, 2, 3]


def test_a_killed_rank_ends_the_job_with_an_error_in_bounded_time(image_folder, tmp_path):
    launcher = subprocess.Popen(
        [sys.executable, '-c', LAUNCH, *arguments(image_folder, tmp_path, epochs=10**6)],
        env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL)
    try:
        started = time.monotonic()
        while not (tmp_path / 'tiny' / 'checkpoint.pt').exists():  # training is under way
            assert launcher.poll() is None, launcher.stderr.read()
            assert time.monotonic() - started < TIMEOUT
            time.sleep(0.2)
        [victim] = [pid for pid in children(launcher.pid) if rank_of(pid) == 1]
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        _, stderr = launcher.communicate(timeout=60)
    finally:
        launcher.kill()
    assert time.monotonic() - killed < 60
    assert launcher.returncode == 1
    assert 'ganzo: error: rank 1 of 2 was killed by SIGKILL' in stderr, stderr
    assert 'Traceback' not in stderr, stderr


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f'/proc/{pid}/task').iterdir():
        found += map(int, (task / 'children').read_text().split())
    return found


def rank_of(pid: int) -> int | None:
    variables = Path(f'/proc/{pid}/environ').read_bytes().split(b'\0')
    ranks = [int(line[5:]) for line in variables if line.startswith(b'RANK=')]
    return ranks[0] if ranks else None


def test_a_mistake_is_told_once_by_rank_0(image_folder, tmp_path, capfd, monkeypatch):
    for name, value in environment().items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit:  # the launcher here, its two processes apart
        launch_in_this_process(arguments(image_folder, tmp_path, snapshot_size=9))
    result = subprocess.CompletedProcess([], exit.value.code, *capfd.readouterr())
    assert_user_error(result, '--snapshot-size')
    assert not (tmp_path / 'tiny').exists()


def test_a_run_locked_by_another_ganzo_is_told_once_by_rank_0(image_folder, tmp_path, capfd,
                                                               monkeypatch):
    for name, value in environment().items():
        monkeypatch.setenv(name, value)
    lock = RunLock(tmp_path / 'tiny')  # this process trains the run, as far as they know
    lock.acquire()
    try:
        with pytest.raises(SystemExit) as exit:
            launch_in_this_process(arguments(image_folder, tmp_path))
    finally:
        lock.release()
    result = subprocess.CompletedProcess([], exit.value.code, *capfd.readouterr())
    assert_user_error(result, 'is being trained by another ganzo', f'(pid {os.getpid()} on ')
    assert not list((tmp_path / 'tiny').iterdir())


def launch_in_this_process(argv: list[str]) -> None:
    ganzo_run(lambda argv: launch(argv, 2), [str(argument) for argument in argv])


def test_parallel_without_a_gpu_is_a_user_error(image_folder, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip('there is a GPU here')
    with pytest.raises(SystemExit) as exit:
        main([*tiny_arguments(image_folder, tmp_path), '--parallel'])
    result = subprocess.CompletedProcess([], exit.value.code, '', capsys.readouterr().err)
    assert_user_error(result, '--parallel', 'torchrun')
    assert not tmp_path.joinpath('tiny').exists()


def test_shards_are_disjoint_equal_and_reshuffled_each_epoch():
    generator = torch.Generator().manual_seed(0)
    saved = generator.get_state()

    def epoch(generator_state):
        shards = []
        for rank in range(3):
            generator.set_state(generator_state)
            order = EpochOrder(11, generator, replicas=3, rank=rank)
            order.shuffle()
            shards.append(list(order))
        return shards

    first, second = epoch(saved), epoch(generator.get_state())
    for shards in (first, second):
        assert [len(shard) for shard in shards] == [3, 3, 3]
        assert len(set().union(*shards)) == 9
    assert first != second
    assert epoch(saved) == first  # the same generator state, the same order


def test_reason_is_the_gist_of_a_gloo_error():
    error = RuntimeError('[/pytorch/gloo/transport/tcp/pair.cc:545] Read error '
                         '[127.0.0.1]:32463: Connection reset by peer. This is typically...')
    assert reason(error) == 'Read error [127.0.0.1]:32463: Connection reset by peer'


@pytest.mark.parametrize('value, seconds', [(None, 600), ('30', 30), ('0', None), ('x', None)])
def test_parallel_timeout_comes_from_the_environment(monkeypatch, value, seconds):
    if value is not None:
        monkeypatch.setenv('GANZO_PARALLEL_TIMEOUT', value)
    else:
        monkeypatch.delenv('GANZO_PARALLEL_TIMEOUT', raising=False)
    if seconds is None:
        with pytest.raises(GanzoError, match='GANZO_PARALLEL_TIMEOUT'):
            timeout()
    else:
        assert timeout().total_seconds() == seconds


def test_a_conditional_run_trains_in_two_processes(two_processes):
    saved = checkpoint(two_processes)
    assert saved['epoch'] == 3 and saved['kind']['classes'] == ['class0', 'class1']
    assert all(torch.isfinite(tensor).all() for tensor in saved['discriminator'].values())
