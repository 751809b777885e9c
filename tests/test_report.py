"""The ganzo-report command: a page about a run, a page comparing runs."""

import base64
import io
import json
import re
import shutil
import subprocess
import tempfile

import pytest
from PIL import Image

from conftest import assert_user_error, run_ganzo, tiny_arguments
from ganzo.report.page import strip


def report(*arguments):
    return run_ganzo(*arguments, module='ganzo.report')


@pytest.fixture(scope='module')
def runs(image_folder, tmp_path_factory):
    """Two tiny runs of 3 epochs, ``a`` and ``b``, that differ in --generator-lr."""
    model_dir = tmp_path_factory.mktemp('runs')
    for name, rate in (('a', 0.0002), ('b', 0.001)):
        result = run_ganzo(*tiny_arguments(image_folder, model_dir, experiment=name, epochs=3,
                                           generator_lr=rate))
        assert result.returncode == 0, result.stderr
    return model_dir


def images(page: str) -> list[Image.Image]:
    """The images embedded in ``page``; it refers to nothing else."""
    assert not re.search(r'(src|href)="(?!data:)', page) and '<script' not in page
    sources = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    return [Image.open(io.BytesIO(base64.b64decode(source))) for source in sources]


def test_a_report_shows_the_best_epoch_the_plots_the_samples_and_the_deh_command(runs):
    (runs / 'a' / 'plots.png').unlink()
    result = report(runs / 'a')
    assert result.returncode == 0, result.stderr
    assert 'wrote' in result.stderr and 'report.html' in result.stderr
    page = (runs / 'a' / 'report.html').read_text()
    assert '<h1>a</h1>' in page and 'Epoch 3, by the last epoch' in page
    assert f'deh --model-dir {runs} --experiment a --num-samples 16' in page
    assert '<span>generator_lr</span> 0.0002' in page  # the options
    shown = images(page)
    assert len(shown) == 1 + 1 + 3  # the plots, the last grid, the strip of every epoch
    assert shown[0].size == (2 * 420, 290)  # losses, images per second
    assert (runs / 'a' / 'plots.png').is_file()  # drawn again


def test_the_strip_keeps_at_most_n_evenly_spaced_epochs(runs, tmp_path):
    result = report(runs / 'a', '--grids', '2', '--output', tmp_path / 'page.html')
    assert result.returncode == 0, result.stderr
    page = (tmp_path / 'page.html').read_text()
    assert '2 of the 3 epochs sampled' in page and len(images(page)) == 1 + 1 + 2
    assert strip(list(range(1, 31)), 4) == [1, 11, 20, 30]
    assert strip([1, 2, 3], 0) == [1, 2, 3] and strip([1, 2, 3], 1) == [3]


def test_a_comparison_shows_the_option_that_differs_the_curves_and_the_last_grids(runs):
    result = report(runs / 'a', runs / 'b')
    assert result.returncode == 0, result.stderr
    page = (runs / 'comparison.html').read_text()
    differing = re.findall(r'<tr><td>([a-z_]+)</td>', page.split('Options that differ')[1]
                           .split('<h2>')[0])
    assert differing == ['generator_lr']
    assert '<td>0.0002</td><td>0.001</td>' in page
    assert len(images(page)) == 1 + 2  # the curves, a last grid per run


def test_model_dir_and_a_pattern_choose_the_runs(runs, tmp_path):
    (runs / 'not-a-run').mkdir(exist_ok=True)
    result = report('--model-dir', runs, '--experiment', 'b*', '--output', tmp_path / 'b.html')
    assert result.returncode == 0, result.stderr
    assert '<h1>b</h1>' in (tmp_path / 'b.html').read_text()
    result = report('--model-dir', runs, '--output', tmp_path / 'all.html')
    assert result.returncode == 0, result.stderr
    assert 'Comparison of 2 runs' in (tmp_path / 'all.html').read_text()


def test_a_translation_report_shows_triples_and_the_best_by_its_criterion(tmp_path):
    run = tmp_path / 'facades'
    (run / 'samples').mkdir(parents=True)
    options = {'ganzo_version': '0.1.0', 'game': 'translate', 'evaluation_criterion': 'l1'}
    (run / 'options.json').write_text(json.dumps(options))
    records = [{'epoch': 1, 'generator': 3.0, 'test_l1': 0.3},
               {'epoch': 2, 'generator': 2.0, 'test_l1': 0.2},
               {'epoch': 3, 'generator': 1.0, 'test_l1': 0.25}]
    (run / 'history.json').write_text(json.dumps({'epochs': records}))
    for epoch in (1, 2, 3):
        Image.new('RGB', (30, 10)).save(run / 'samples' / f'epoch-{epoch:04d}.png')
    (run / 'checkpoint.pt').write_bytes(b'')
    result = report(run)
    assert result.returncode == 0, result.stderr
    page = (run / 'report.html').read_text()
    assert 'input | generated | target' in page
    assert 'Epoch 2, by the lowest test_l1 (--evaluation-criterion l1)' in page
    assert 'epoch 2, the best' in page and 'epoch 3, the last' in page
    assert f'deh --model-dir {tmp_path} --experiment facades --checkpoint last --input' in page


def test_bad_input_is_one_line(runs, tmp_path):
    assert_user_error(report(tmp_path), 'is not a Ganzo run', 'options.json')
    (tmp_path / 'new').mkdir()
    (tmp_path / 'new' / 'options.json').write_text('{"ganzo_version": "0.1.0"}')
    assert_user_error(report(tmp_path / 'new'), 'has no statistics yet')
    assert_user_error(report(runs / 'a', '--output', runs / 'a' / 'options.json' / 'x.html'),
                      'cannot write')
    assert_user_error(report(runs / 'a', '--output', tmp_path), 'cannot write')
    assert_user_error(report('--model-dir', runs, '--experiment', 'zzz*'), 'no experiment')
    assert_user_error(report(), 'give the run directories')
    assert not list(tmp_path.glob('*.html'))


@pytest.mark.slow  # starts a browser
def test_the_page_renders_its_images_without_console_messages_in_a_browser(runs, tmp_path):
    browser = shutil.which('chromium') or shutil.which('chromium-browser')
    if browser is None:
        pytest.skip('no chromium to render the page in (apt-get install chromium)')
    assert report(runs / 'a', '--output', tmp_path / 'page.html').returncode == 0
    page = (tmp_path / 'page.html').read_text()
    check = ('<script>console.log("check"); addEventListener("load", () => { const all = '
             '[...document.images]; document.title = "loaded " + all.filter(image => '
             'image.complete && image.naturalWidth > 0).length + " of " + all.length; });'
             '</script></body>')
    (tmp_path / 'checked.html').write_text(page.replace('</body>', check))
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [browser, '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
             '--disable-background-networking', '--disable-component-update', '--disable-sync',
             f'--user-data-dir={profile}', '--enable-logging=stderr', '--v=0',
             '--virtual-time-budget=5000', '--dump-dom', (tmp_path / 'checked.html').as_uri()],
            capture_output=True, text=True, timeout=120)
    assert '<title>loaded 5 of 5</title>' in result.stdout, result.stdout[:300]
    console = [line for line in result.stderr.splitlines() if ':CONSOLE' in line]
    assert len(console) == 1 and '"check"' in console[0], console  # ours, and nothing else


def test_ganzo_report_is_a_console_script():
    import importlib

    from conftest import ROOT
    scripts = (ROOT / 'pyproject.toml').read_text().split('[project.scripts]')[1]
    module, function = re.search(r'^ganzo-report = "(.+)"$', scripts, re.M)[1].split(':')
    assert getattr(importlib.import_module(module), function) is importlib.import_module(
        'ganzo.report').main
