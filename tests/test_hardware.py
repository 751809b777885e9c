"""Tests of ganzo.hardware: what each device computes fast (faked: CPU features,
CUDA compute capabilities), what --precision auto chooses on it, when the warning
about an emulated type appears, and the defaults of the data path."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from conftest import run_ganzo, tiny_arguments
from ganzo import hardware as hardware_module
from ganzo.acceleration import Acceleration, precision
from ganzo.data import SingleImageData
from ganzo.hardware import Hardware, cache_hint, hardware, loader_workers
from ganzo.options import complete

# CPU features as torch.cpu.get_capabilities() names them, for each case of the issue.
CPUS = {
    'avx2 only (AMD Zen 1-3)': ({'avx2': True}, False, '20x'),
    'avx-512 without bf16 (Intel Skylake/Ice Lake Xeon)': (
        {'avx2': True, 'avx512_f': True, 'avx512_bw': True}, False, '3x'),
    'avx512-bf16 (AMD Zen 4/5)': (
        {'avx2': True, 'avx512_f': True, 'avx512_bw': True, 'avx512_bf16': True}, True, None),
    'amx-bf16 (Intel Sapphire Rapids)': (
        {'avx512_f': True, 'avx512_bw': True, 'avx512_bf16': True, 'amx_bf16': True,
         'avx512_fp16': True}, True, None),
    'arm with bf16 (Graviton 3)': ({'neon': True, 'bf16': True, 'fp16_arith': True}, True, None),
}


@pytest.fixture
def fake_cpu(monkeypatch):
    """``fake_cpu(features)``: the CPU answers with ``features`` until the test ends."""
    def fake(features: dict) -> None:
        hardware.cache_clear()
        monkeypatch.setattr(hardware_module, 'cpu_features',
                            lambda: {'cpu_name': 'Fake CPU', **features})
    yield fake
    hardware.cache_clear()


def tiny_options(**values):
    return complete(**{'image_size': 8, 'generator_channels': 4, 'discriminator_channels': 4,
                       'state_size': 8, 'batch_size': 4, 'device': 'cpu', 'seed': 0, **values})


def precision_warnings(**values) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        Acceleration(tiny_options(**values))
    return [str(warning.message) for warning in caught]


@pytest.mark.parametrize('case', list(CPUS))
def test_auto_takes_bf16_exactly_where_the_cpu_has_it_natively(fake_cpu, case):
    features, native, cost = CPUS[case]
    fake_cpu(features)
    assert hardware('cpu').bf16 is native
    assert precision(tiny_options(precision='auto')) == ('bf16' if native else 'fp32')
    assert Acceleration(tiny_options(precision='auto')).dtype is (
        torch.bfloat16 if native else None)
    assert precision_warnings(precision='auto') == []
    assert precision_warnings(precision='fp32') == []
    asked = precision_warnings(precision='bf16')
    if native:
        assert asked == []
    else:  # one line, naming the option, the CPU and the expected cost
        assert len(asked) == 1 and '\n' not in asked[0]
        assert asked[0].startswith('--precision bf16: Fake CPU has no native bf16')
        assert f'about {cost} slower than in fp32' in asked[0]


def test_fp16_on_a_cpu_warns_unless_native_and_auto_never_takes_it(fake_cpu):
    fake_cpu({'avx512_bw': True, 'avx512_fp16': True})  # fp16 without bf16
    assert hardware('cpu').fp16 and precision(tiny_options(precision='auto')) == 'fp32'
    assert precision_warnings(precision='fp16') == []
    fake_cpu({'avx2': True})
    assert 'no native fp16' in precision_warnings(precision='fp16')[0]


@pytest.mark.parametrize('capability, expected', [
    ((9, 0), 'bf16'), ((8, 0), 'bf16'), ((7, 5), 'fp16'), ((6, 0), 'fp16'), ((6, 1), 'fp32')])
def test_auto_on_cuda_follows_the_compute_capability(monkeypatch, capability, expected):
    monkeypatch.setattr(torch.version, 'hip', None)
    monkeypatch.setattr(torch.cuda, 'get_device_name', lambda index: 'Fake GPU')
    monkeypatch.setattr(torch.cuda, 'get_device_capability', lambda index: capability)
    found = hardware_module.cuda_hardware(torch.device('cuda:0'))
    assert found.auto_precision == expected
    assert (found.slow_precision('bf16') is None) is (capability >= (8, 0))
    assert 'compute capability 8.0' in (found.slow_precision('bf16') or 'compute capability 8.0')
    assert found.describe().startswith(f'cuda:0: Fake GPU (compute capability {capability[0]}.')


def test_mps_and_the_description_of_this_machine():
    mps = Hardware('mps', 'Apple GPU (MPS)', (), bf16=False, fp16=True)
    assert mps.auto_precision == 'fp32'  # fp16 with a scaler is chosen on CUDA only
    assert mps.slow_precision('bf16') is None  # not measured: no claim either way
    assert 'bf16 not known to be native, fp16 native' in mps.describe()
    line = hardware('cpu').describe()
    assert line.startswith('cpu: ') and '--precision auto runs in' in line


def test_the_command_saves_the_precision_that_auto_chose(fake_cpu, image_folder, tmp_path):
    """options.json records the type that ran (reproducible elsewhere with
    --from-json); the experiment's default name stays that of 'auto'."""
    fake_cpu({'avx2': True})
    result = run_ganzo(*tiny_arguments(image_folder, tmp_path, precision='auto', epochs=1))
    assert result.returncode == 0 and result.stderr == '', result.stderr
    assert json.loads((tmp_path / 'tiny' / 'options.json').read_text())['precision'] == 'fp32'
    fake_cpu({'avx512_bf16': True})
    result = run_ganzo(*tiny_arguments(image_folder, tmp_path, precision='auto'), '--dry-run')
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert lines['epochs'].endswith('on cpu in bf16'), lines['epochs']
    assert lines['hardware'].startswith('cpu: Fake CPU (avx512_bf16): bf16 native')
    assert lines['data'].endswith('0 loader workers') and result.stderr == ''


def test_asking_for_emulated_bf16_warns_once_and_still_runs(fake_cpu, image_folder, tmp_path):
    fake_cpu({'avx2': True})
    result = run_ganzo(*tiny_arguments(image_folder, tmp_path, precision='bf16', epochs=1))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        'ganzo: warning: --precision bf16: Fake CPU has no native bf16 (AVX512-BF16, AMX-BF16 '
        'or ARM BF16), so it is emulated: expect training about 20x slower than in fp32, '
        'which --precision auto runs in here']
    assert (tmp_path / 'tiny' / 'checkpoint.pt').exists()


# The data path

def fake_device(monkeypatch, name: str) -> None:
    monkeypatch.setattr(hardware_module, 'device', lambda options: torch.device(name))


@pytest.mark.parametrize('cpus, processes, expected', [(16, 1, 8), (4, 1, 3), (2, 1, 1),
                                                       (16, 4, 3), (2, 2, 1)])
def test_loader_workers_default_on_cuda_from_the_cpu_count(monkeypatch, cpus, processes,
                                                           expected):
    fake_device(monkeypatch, 'cuda')
    monkeypatch.setattr(hardware_module.os, 'sched_getaffinity', lambda pid: set(range(cpus)),
                        raising=False)
    monkeypatch.setenv('LOCAL_WORLD_SIZE', str(processes))
    assert loader_workers(complete(device='cuda')) == expected
    assert loader_workers(complete(device='cuda', loader_workers=0)) == 0  # as asked


def test_loader_workers_default_on_the_cpu_is_the_training_process():
    assert loader_workers(complete(device='cpu')) == 0
    assert loader_workers(complete(device='cpu', loader_workers=2)) == 2


def test_cache_images_is_suggested_on_cuda_when_the_images_fit(monkeypatch):
    options = complete(device='cpu', image_size=64, image_colors=3)
    assert cache_hint(options, 10_000) is None  # on the CPU: training is the bottleneck
    fake_device(monkeypatch, 'cuda')
    monkeypatch.setattr(hardware_module, 'memory', lambda: 16 * 2**30)
    assert '10,000 images take 117 MiB decoded: --cache-images' in cache_hint(options, 10_000)
    assert cache_hint(options, 10_000_000) is None  # 114 GiB: does not fit
    assert cache_hint(complete(options, cache_images=True), 10_000) is None
    assert cache_hint(complete(options, data_format='pair-of-images'), 10_000) is None


def test_the_batches_do_not_depend_on_the_number_of_workers(image_folder):
    """On CUDA the default loads with workers: the batches are those of 0 workers."""
    def first_epoch(workers: int) -> list[torch.Tensor]:
        torch.manual_seed(0)
        data = SingleImageData(complete(data_dir=str(image_folder), image_size=8, batch_size=4,
                                        loader_workers=workers, device='cpu'))
        return [images for images, _ in data]

    expected, with_workers = first_epoch(0), first_epoch(2)
    assert len(expected) == len(with_workers) == 4
    assert all(torch.equal(a, b) for a, b in zip(with_workers, expected))
