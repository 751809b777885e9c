import pytest

from ganzo.errors import GanzoError
from ganzo.registry import (
    ComponentRegistry,
    Registry,
    RegistryException,
    load_modules,
    register,
    with_option_parser,
)


def test_add_get_build_and_names():
    registry = ComponentRegistry()
    registry.add('loss', 'b', dict)
    registry.add('loss', 'a', list, default=True)
    assert registry.get('loss', 'b') is dict
    assert registry.build('loss', 'a', (1, 2)) == [1, 2]
    assert registry.names('loss') == ['a', 'b']
    assert registry.default('loss') == 'a'
    assert registry.default('game') is None


def test_second_default_in_a_namespace_is_an_error():
    registry = ComponentRegistry()
    registry.add('loss', 'a', list, default=True)
    with pytest.raises(RegistryException, match="default 'a'"):
        registry.add('loss', 'b', dict, default=True)
    registry.add('game', 'c', set, default=True)  # another namespace has its own default


def test_a_name_registered_twice_is_an_error():
    registry = ComponentRegistry()
    registry.add('loss', 'a', list)
    with pytest.raises(RegistryException, match='already registered'):
        registry.add('loss', 'a', dict)


def test_unknown_name_lists_the_known_ones():
    registry = ComponentRegistry()
    registry.add('loss', 'gan', list)
    registry.add('loss', 'wgan', dict)
    with pytest.raises(RegistryException, match="unknown loss 'nope': choose one of gan, wgan"):
        registry.get('loss', 'nope')


def test_register_decorator_returns_the_class():
    @register('test-namespace', 'thing')
    class Thing:
        pass
    assert Registry.get('test-namespace', 'thing') is Thing


def test_with_option_parser_registers_and_returns_the_function():
    def add_options(parser, train):
        pass
    assert with_option_parser(add_options) is add_options
    assert add_options in Registry.option_parsers


def test_load_modules_imports_each_module(tmp_path, monkeypatch):
    (tmp_path / 'plugin_one.py').write_text(
        "from ganzo.registry import register\n"
        "@register('test-plugins', 'one')\nclass One: pass\n")
    (tmp_path / 'plugin_two.py').write_text(
        "from ganzo.registry import register\n"
        "@register('test-plugins', 'two')\nclass Two: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    load_modules({'GANZO_LOAD_MODULES': 'plugin_one, plugin_two'})
    assert Registry.names('test-plugins') == ['one', 'two']


def test_load_modules_names_a_missing_module():
    with pytest.raises(GanzoError, match='GANZO_LOAD_MODULES.*no_such_module'):
        load_modules({'GANZO_LOAD_MODULES': 'no_such_module'})


@pytest.mark.parametrize('source, words', [
    ('x = undefined_name\n', ["importing 'broken_plugin' failed", 'NameError', 'undefined_name',
                              'broken_plugin.py:1']),
    ('def f(:\n', ["importing 'broken_plugin' failed", 'SyntaxError', 'broken_plugin.py:1']),
    ('import no_such_dependency\n', ["importing 'broken_plugin' failed",
                                     "No module named 'no_such_dependency'"]),
])
def test_a_plugin_that_fails_to_import_is_one_line_naming_it(tmp_path, monkeypatch, source,
                                                              words):
    (tmp_path / 'broken_plugin.py').write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(GanzoError) as error:
        load_modules({'GANZO_LOAD_MODULES': 'broken_plugin'})
    message = str(error.value)
    assert message.startswith('GANZO_LOAD_MODULES: ') and '\n' not in message
    for word in words:
        assert word in message


@pytest.mark.parametrize('value', ['.x', '..', 'a..b', 'x.', '1st', 'a b'])
def test_load_modules_refuses_what_is_not_a_module_name(value):
    with pytest.raises(GanzoError, match='is not a module name'):
        load_modules({'GANZO_LOAD_MODULES': value})
