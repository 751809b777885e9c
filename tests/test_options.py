import json
import re
from argparse import Namespace

import pytest

from ganzo.errors import GanzoError
from ganzo.experiment import check_experiment_name, experiment_name, saved
from ganzo.options import build_parser, complete, parse
from ganzo.registry import with_option_parser

SPEC_OPTIONS = """experiment device epochs model-dir restore delete seed from-json start-epoch
parallel data-format data-dir dataset image-class image-size image-colors batch-size
loader-workers generator generator-dropout generator-layers discriminator
discriminator-dropout discriminator-layers loss gradient-penalty-factor soft-labels
noisy-labels noisy-labels-frequency l1-weight state-size log log-file save-images-as
output-dir snapshot-size sample-every sample-from-fixed-noise evaluation-criterion
generator-iterations discriminator-iterations generator-lr discriminator-lr beta1 beta2
max-batches-per-epoch""".split()  # noqa: SIM905


def test_help_lists_every_option_of_the_spec():
    text = build_parser().format_help()
    for option in SPEC_OPTIONS:
        assert re.search(rf'--{option}\b', text), option


def test_defaults_and_types():
    options = parse([])
    assert options.epochs == 10 and options.batch_size == 64 and options.loss == 'gan'
    options = parse(['--epochs', '3', '--generator-lr', '1e-3', '--soft-labels'])
    assert options.epochs == 3 and options.generator_lr == 1e-3 and options.soft_labels


@pytest.mark.parametrize('arguments, words', [
    (['--epochs', '-1'], '--epochs'),
    (['--batch-size', '0'], '--batch-size'),
    (['--epochs', 'many'], '--epochs'),
    (['--loss', 'nope'], '--loss'),
    (['--beta1', '1.5'], '--beta1'),
    (['--noisy-labels-frequency', '2'], '--noisy-labels-frequency'),
    (['--no-such-option'], '--no-such-option'),
])
def test_bad_values_are_errors_naming_the_option(arguments, words):
    with pytest.raises(GanzoError, match=words):
        parse(arguments)


def test_boolean_flags_accept_no(tmp_path):
    path = tmp_path / 'options.json'
    path.write_text(json.dumps({'sample_from_fixed_noise': True}))
    assert parse(['--from-json', str(path)]).sample_from_fixed_noise
    assert not parse(['--from-json', str(path), '--no-sample-from-fixed-noise']
                     ).sample_from_fixed_noise


def test_command_line_beats_json_beats_base_beats_defaults(tmp_path):
    path = tmp_path / 'options.json'
    path.write_text(json.dumps({'epochs': 5, 'batch-size': 16, 'loss': 'wgan'}))
    options = parse(['--from-json', str(path), '--epochs', '7'],
                    base={'epochs': 2, 'batch_size': 8, 'state_size': 12, 'unknown': 1})
    assert options.epochs == 7            # command line
    assert options.batch_size == 16       # JSON file (dash-case keys work too)
    assert options.state_size == 12       # base
    assert options.beta1 == 0.5           # default


@pytest.mark.parametrize('content, words', [
    ('{"epochs": 3,', 'not valid JSON'),
    ('[1, 2]', 'JSON object'),
    ('{"no_such_option": 1}', "unknown option 'no_such_option'"),
    ('{"epochs": -2}', '--epochs'),
    ('{"soft_labels": "yes"}', 'true or false'),
    ('{"epochs": true}', 'wrong type'),
])
def test_bad_json_files_are_errors(tmp_path, content, words):
    path = tmp_path / 'options.json'
    path.write_text(content)
    with pytest.raises(GanzoError, match=re.escape(words)):
        parse(['--from-json', str(path)])


def test_missing_json_file_is_an_error(tmp_path):
    with pytest.raises(GanzoError, match='cannot read'):
        parse(['--from-json', str(tmp_path / 'missing.json')])


def test_saved_options_reproduce_the_parse(tmp_path):
    options = parse(['--epochs', '4', '--discriminator-hooks', 'weight-clipper', '--seed', '9'])
    path = tmp_path / 'options.json'
    path.write_text(json.dumps(saved(options)))
    again = parse(['--from-json', str(path)])
    assert vars(again) == {**vars(options), 'from_json': str(path)}


def test_complete_fills_defaults_and_keeps_given_values():
    options = complete(Namespace(batch_size=3))
    assert options.batch_size == 3 and options.state_size == 100 and options.loss == 'gan'


def test_experiment_name_is_a_stable_hash_of_what_shapes_results():
    first = experiment_name(parse(['--loss', 'wgan']))
    assert first == experiment_name(parse(['--loss', 'wgan', '--epochs', '50']))
    assert first != experiment_name(parse(['--loss', 'wgan-gp']))
    assert experiment_name(parse(['--experiment', 'mine'])) == 'mine'


@pytest.mark.parametrize('name', ['../x', '/abs', 'a/b', '..', '', '.hidden'])
def test_experiment_names_cannot_escape_the_model_dir(name):
    with pytest.raises(GanzoError, match='--experiment'):
        check_experiment_name(name)


@pytest.mark.parametrize('given, warned', [
    (['--l1-weight', '5'], '--l1-weight is an option of --loss pix2pix, not of the chosen gan'),
    (['--loss', 'wgan', '--soft-labels'], '--soft-labels is an option of --loss gan or pix2pix'),
    (['--clip-to', '0.1'], '--clip-to is an option of --generator-hooks or --discriminator-hooks '
                           'weight-clipper, or of --loss wgan, not of the chosen gan'),
    (['--split', 'vertical'], '--split is an option of --data-format pair-of-images'),
    (['--evaluate-every', '2'], '--evaluate-every is an option of --evaluation-criterion fid'),
    (['--feature-extractor', 'classifier'], '--feature-extractor is an option of '
                                            '--evaluation-criterion fid or kid'),
])
def test_an_option_of_a_component_not_chosen_is_warned_about(given, warned, recwarn):
    parse(given)
    [warning] = recwarn.list
    assert str(warning.message).startswith(warned)
    assert str(warning.message).endswith(': it has no effect')


@pytest.mark.parametrize('given', [
    ['--loss', 'pix2pix', '--l1-weight', '5'],
    ['--discriminator-hooks', 'weight-clipper', '--clip-to', '0.1'],
    ['--loss', 'wgan-gp', '--gradient-penalty-factor', '5'],
    ['--evaluation-criterion', 'kid', '--evaluate-every', '2'],
])
def test_options_of_chosen_components_are_not_warned_about(given, recwarn):
    parse(given)
    assert not recwarn.list


def test_a_json_file_is_warned_about_only_where_it_leaves_the_defaults(tmp_path, recwarn):
    path = tmp_path / 'options.json'
    path.write_text(json.dumps({'loss': 'gan', 'l1_weight': 100.0, 'clip_to': 0.01,
                                'soft_labels': True}))
    parse(['--from-json', str(path)])
    assert not recwarn.list  # a saved options.json holds every option, at its value
    path.write_text(json.dumps({'loss': 'wgan', 'l1_weight': 5}))
    parse(['--from-json', str(path)])
    assert [str(warning.message).split(' is ')[0] for warning in recwarn] == ['--l1-weight']


def test_a_bad_value_in_a_json_file_names_the_file(tmp_path):
    settings = tmp_path / 'settings.json'
    settings.write_text(json.dumps({'epochs': -1}))
    with pytest.raises(GanzoError, match=f'^{settings}: argument --epochs: expected a positive'):
        parse(['--from-json', str(settings)])


def test_the_original_ganzo_spellings_are_aliases():
    options = parse(['--loss', 'wgan-gp', '--gradient-penalty', '3', '--discriminator-hook',
                     'weight-clipper', '--generator-hook', 'weight-clipper',
                     '--snapshot-translate', '--statistics', 'file'])
    assert options.gradient_penalty_factor == 3 and options.log == ['file']
    assert options.discriminator_hooks == options.generator_hooks == ['weight-clipper']
    assert not hasattr(options, 'snapshot_translate')  # snapshots follow the kind of run
    assert parse(['--no-snapshot-translate']) == parse([])


def test_a_plugin_option_without_dashes_is_one_line_for_its_author(plugins):
    @with_option_parser
    def add_my_custom_options(parser, train):  # as the original spec's example declares it
        parser.add_argument_group('custom').add_argument('foos', type=int, default=3)

    with pytest.raises(GanzoError, match=r"^test_options.add_my_custom_options declares the "
                       r"option 'foos' without dashes.*add_argument\('--foos', \.\.\.\)$"):
        parse([])
