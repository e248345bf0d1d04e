"""Templates are untrusted: escapes are refused, and the work, size and time they take is bounded.

Every refusal is one TemplateError at the template's file:line; every bound ends in well under a
second (the deadline is shortened here, except in one CLI test of the real default).
"""

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator.cli import app
from generator.errors import TemplateError
from generator.markup import sandbox
from generator.markup.templating import render_script
from generator.recipes.recipe import load_recipe
from tests.conftest import write

runner = CliRunner()
QUICK = 1.0  # seconds: every refusal below ends well within this

TOO_BIG = "more than 1,000,000 characters or items"
TOO_LONG_A_NUMBER = "a number of more than 1,000 digits"
UNSAFE = "template refused by the sandbox: access to attribute"


def render(folder: Path, template: str) -> str:
    write(folder / "templates" / "t.j2", template)
    recipe = write(folder / "sessions" / "s.toml", '[[part]]\ntemplate = "t.j2"\n')
    script = render_script(load_recipe(recipe), (folder / "templates",))
    return "\n".join(line.text for line in script.lines).strip()


def refused(folder: Path, template: str, message: str, line: int = 1) -> TemplateError:
    """Render ``template``: it must fail quickly with ``message`` at t.j2:``line``."""
    started = time.monotonic()
    with pytest.raises(TemplateError, match=message) as caught:
        render(folder, template)
    assert time.monotonic() - started < QUICK
    assert str(caught.value.where).endswith(f"t.j2:{line}")
    assert "\n" not in str(caught.value)
    return caught.value


@pytest.fixture
def short_deadline(monkeypatch: pytest.MonkeyPatch) -> Iterator[float]:
    monkeypatch.setattr(sandbox, "RENDER_SECONDS", 0.3)
    yield 0.3
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL  # put back as found
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", f"{UNSAFE} '__class__' of 'str'"),
        ("{{ [].__class__.__base__.__subclasses__() }}", f"{UNSAFE} '__class__' of 'list'"),
        ("{{ held.__globals__ }}", f"{UNSAFE} '__globals__' of 'function'"),
        ("{{ held.__init__.__globals__ }}", f"{UNSAFE} '__init__' of 'function'"),
        ("{{ self.__init__.__globals__ }}", f"{UNSAFE} '__init__' of 'TemplateReference'"),
        ("{{ self._TemplateReference__context }}", f"{UNSAFE} '_TemplateReference__context'"),
        ("{{ cycler.__init__.__globals__.os }}", f"{UNSAFE} '__init__' of 'type'"),
        ("{{ joiner.__init__.__globals__ }}", f"{UNSAFE} '__init__' of 'type'"),
        ("{{ namespace.__init__.__globals__ }}", f"{UNSAFE} '__init__' of 'type'"),
        ("{{ range.__globals__ }}", f"{UNSAFE} '__globals__' of 'function'"),
        ("{{ dict.mro() }}", f"{UNSAFE} 'mro' of 'type'"),
        ("{{ ''|attr('__class__') }}", f"{UNSAFE} '__class__' of 'str'"),
        ("{{ ''|attr('__class__')|attr('__mro__') }}", f"{UNSAFE} '__class__' of 'str'"),
        ("{{ '{0.__class__}'.format('') }}", f"{UNSAFE} '__class__' of 'str'"),
        ("{{ '{x.__class__}'.format_map({'x': ''}) }}", f"{UNSAFE} '__class__' of 'str'"),
        ("{% set f = '{0.__class__}'.format %}{{ f('') }}", f"{UNSAFE} '__class__' of 'str'"),
        ("{{ ('{0.__class__}'|attr('format'))('') }}", f"{UNSAFE} '__class__' of 'str'"),
        ("{{ '%s'|format(''.__class__) }}", f"{UNSAFE} '__class__' of 'str'"),
        ("{{ '%(x)s' % {'x': ''.__class__} }}", f"{UNSAFE} '__class__' of 'str'"),
        ("{{ lipsum.__globals__ }}", "'lipsum' is undefined"),  # not offered at all
        ("{{ config.items() }}", "'config' is undefined"),
        ("{{ request.application.__globals__ }}", "'request' is undefined"),
        ("{{ __import__('os').system('true') }}", "'__import__' is undefined"),
    ],
)
def test_escapes_are_refused_at_their_line(tmp_path: Path, template: str, message: str) -> None:
    error = refused(tmp_path, f"Hello.\n{template}\n", message, line=2)
    assert error.fix


def test_a_template_cannot_reach_os(tmp_path: Path) -> None:
    """The classic payloads that would run a command leave no trace of having run."""
    touched = tmp_path / "touched"
    for reach in ("cycler.__init__.__globals__.os", "self.__init__.__globals__['os']"):
        template = f"{{{{ {reach}.system('touch {touched}') }}}}"
        refused(tmp_path, template, UNSAFE)
    assert not touched.exists()


@pytest.mark.parametrize(
    "load",
    [
        "{% include '/SECRET' %}",
        "{% include '../secret.txt' %}",
        "{% import '../../secret.txt' as x %}",
        "{% from '../secret.txt' import x %}",
        "{% extends '/SECRET' %}",
        "{% include 'link.j2' %}",
    ],
)
def test_a_template_cannot_read_files_outside_the_scripts_folders(
    tmp_path: Path, load: str
) -> None:
    secret = write(tmp_path / "secret.txt", "TOP SECRET\n")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "link.j2").symlink_to(secret)
    error = refused(tmp_path, "Hello.\n" + load.replace("/SECRET", str(secret)), "outside", 2)
    assert "TOP SECRET" not in str(error)


def test_import_names_a_template_not_a_python_module(tmp_path: Path) -> None:
    refused(tmp_path, "{% import 'os' as os %}{{ os.system('true') }}", "template 'os' not found")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 'x' * 10**9 }}", TOO_BIG),
        ("{{ 10**9 * 'x' }}", TOO_BIG),
        ("{{ [0] * 10**9 }}", TOO_BIG),
        ("{{ 10 ** (10 ** 10) }}", TOO_LONG_A_NUMBER),
        ("{{ 10 ** 10 ** 10 ** 10 }}", TOO_LONG_A_NUMBER),  # Jinja's ** groups from the left
        ("{{ 10 ** 600 * 10 ** 600 }}", TOO_LONG_A_NUMBER),
        ("{{ 'x'|center(10**9) }}", TOO_BIG),
        ("{{ 'x'|indent(10**9) }}", TOO_BIG),
        ("{{ 'x'|center(1000000000) }}", TOO_BIG),  # constant: still not run while compiling
        ("{{ ('a\\n' * 400000)|indent(10) }}", TOO_BIG),
        ("{{ ('x' * 1000)|wordwrap(1, wrapstring='y' * 2000) }}", TOO_BIG),
        ("{{ [1]|batch(10**9, 'x')|list }}", TOO_BIG),
        ("{{ [1]|slice(10**9)|list }}", TOO_BIG),
        ("{{ [1, 2]|map('center', 10**9)|list }}", TOO_BIG),
        ("{{ '%0999999999d'|format(1) }}", TOO_BIG),
        ("{{ '%0999999999d' % 1 }}", TOO_BIG),
        ("{{ '%*d' % (10**9, 1) }}", TOO_BIG),
        ("{{ '{:>999999999}'.format(1) }}", TOO_BIG),
        ("{{ '{:>{}}'.format(1, 10**9) }}", TOO_BIG),
        ("{{ '{x:>{w}}'.format_map({'x': 1, 'w': 10**9}) }}", TOO_BIG),
        ("{{ 'x'.ljust(10**9) }}", TOO_BIG),
        ("{{ ('\t' * 1000).expandtabs(10**5) }}", TOO_BIG),
        ("{{ (1).to_bytes(10**9, 'big') }}", TOO_BIG),
        ("{{ (range(99999)|list|join) * 3 }}", TOO_BIG),
        ("{% set s = 'x' * 900000 %}{{ s ~ s }}", TOO_BIG),
        ("{% set s = 'x' * 900000 %}{{ s + s }}", TOO_BIG),
        ("{% set s = 'x' * 2000 %}{{ s.replace('x', s) }}", TOO_BIG),
        ("{% set s = 'x' * 2000 %}{{ s|replace('x', s) }}", TOO_BIG),
        ("{% set s = 'x' * 2000 %}{{ s.encode().replace(s.encode()[:1], s.encode()) }}", TOO_BIG),
        ("{% set s = 'x' * 2000 %}{{ s.translate({120: s}) }}", TOO_BIG),
        ("{% set s = 'x' * 900000 %}{{ s.join('abc') }}", TOO_BIG),
        ("{% set s = 'x' * 900000 %}{{ s.join(range(3)|map('string')) }}", TOO_BIG),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(99) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            TOO_BIG,
        ),
        ("{% set l = [1] %}{% for i in range(99) %}{{ l.extend(l) }}{% endfor %}", TOO_BIG),
        (  # a list holding one long text many times joins into a longer one
            "{% set m = 'x' * 9000 %}{% set l = [] %}"
            "{% for i in range(999) %}{{ l.append(m) }}{% endfor %}{{ l|join }}",
            TOO_BIG,
        ),
        (  # lists nested by hand print, or compare, a billion items
            "{% set a = ['x' * 1000] * 10 %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}"
            "{% set c = [b, b, b, b, b, b, b, b, b, b] %}{% set d = [c, c, c, c, c] %}",
            TOO_BIG,
        ),
    ],
)
def test_huge_values_are_refused_before_they_are_built(
    tmp_path: Path, template: str, message: str
) -> None:
    error = refused(tmp_path, template, message)
    assert "Check the" in error.fix


def test_a_too_big_range_says_what_was_asked_and_the_limit(tmp_path: Path) -> None:
    refused(
        tmp_path,
        "{% for i in range(10**9) %}{% endfor %}",
        r"Range too big: range\(1000000000\) counts 1,000,000,000 numbers, more than the "
        "100,000 a template may loop over",
    )
    refused(tmp_path, "{{ range(10**30) }}", "counts too many numbers")


def test_big_but_bounded_values_still_render(tmp_path: Path) -> None:
    """Left-grouped ``10 ** 10 ** 10`` is 10**100; 99,999 numbers joined are under the caps."""
    started = time.monotonic()
    assert render(tmp_path, "{{ 10 ** 10 ** 10 }}") == "1" + "0" * 100
    assert len(render(tmp_path, "{{ range(99999)|list|join }}")) == 488_885
    assert time.monotonic() - started < QUICK


def test_constant_expressions_are_not_computed_while_compiling(tmp_path: Path) -> None:
    """Jinja folds constant expressions at compile time, outside the deadline and the checks of
    rendering; a bounded filter is never folded, so this costs nothing."""
    huge = " ~ ".join(["('x'|center(999999))"] * 200)
    started = time.monotonic()
    assert render(tmp_path, f"{{% if false %}}{{{{ {huge} }}}}{{% endif %}}ok") == "ok"
    assert time.monotonic() - started < QUICK


def test_output_is_capped_at_the_line_being_written(tmp_path: Path) -> None:
    template = (
        "Intro.\n{% for i in range(99999) %}{% for j in range(99999) %}\n"
        "Breathe in and out, slowly.\n{% endfor %}{% endfor %}\n"
    )
    refused(tmp_path, template, "t.j2 produced more than 5,000,000 characters", line=3)


@pytest.mark.parametrize(
    "loop",
    [
        "{% set r = range(99999) %}\n{% for a in r %}{% for b in r %}{% for c in r %}"
        "{% endfor %}{% endfor %}{% endfor %}",
        "{% for a in range(99999) %}\n{% for b in range(99999) %}{% if a == b %}{% endif %}"
        "{% endfor %}{% endfor %}",
        "{% macro m(n) %}{% for b in range(99999) %}{% endfor %}{% endmacro %}\n"
        "{% for a in range(99999) %}{{ m(a) }}{% endfor %}",
    ],
)
def test_a_render_that_runs_too_long_is_stopped_at_its_loop(
    tmp_path: Path, loop: str, short_deadline: float
) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError, match=r"rendering took longer than 0\.3 seconds") as caught:
        render(tmp_path, f"Hello.\n{loop}\n")
    assert time.monotonic() - started < short_deadline + QUICK
    assert str(caught.value.where)[-6:] in ("t.j2:2", "t.j2:3")
    assert "loop in it runs far too long" in str(caught.value)


def test_the_deadline_leaves_other_timers_and_handlers_alone() -> None:
    """Another handler of SIGALRM, or a thread other than the main one: no deadline at all.
    A timer running before is still running after, less the time spent."""
    seen: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: seen.append(signum))
    try:
        with sandbox.deadline(0.01):
            time.sleep(0.05)
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        signal.setitimer(signal.ITIMER_REAL, 100)
        with sandbox.deadline(0.2):
            pass
        assert signal.getsignal(signal.SIGALRM) == signal.SIG_IGN
        assert 99 < signal.getitimer(signal.ITIMER_REAL)[0] <= 100
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert seen == []

    finished: list[bool] = []

    def elsewhere() -> None:
        with sandbox.deadline(0.01):
            time.sleep(0.05)
        finished.append(True)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert finished == [True]


def test_a_template_that_includes_or_calls_itself_is_stopped(tmp_path: Path) -> None:
    refused(tmp_path, "Hello.\n{% include 't.j2' %}\n", "includes, imports or calls itself", 2)
    refused(tmp_path, "{% macro f() %}{{ f() }}{% endmacro %}\n{{ f() }}\n", "calls itself", 1)


def test_ordinary_template_features_still_work(tmp_path: Path) -> None:
    """The bounds wrap every filter, call, operator and literal: all still behave as Jinja's."""
    template = """\
{% set ns = namespace(n=0, seen=[]) %}
{% for side in ["right", "left"] %}{% set ns.n = ns.n + 1 %}{% set _ = ns.seen.append(side) %}
{{ loop.index }}. {{ side|title }} side{{ ", " ~ listener if listener }} {{ loop.cycle("a", "b") }}
{% endfor %}
{{ ns.seen|join(" then ") }} ({{ ns.n }}) {{ "%s and %d" % ("x", 2) }} {{ "{} {}".format(1, "y") }}
{{ [3, 1, 2]|sort|map("string")|join(",") }} {{ {"b": 2, "a": 1}|dictsort|first|join("=") }}
{{ "pad"|center(9)|replace(" ", ".") }} {{ "a b c d"|wordwrap(3) }} {{ [1, 2, 3]|batch(2)|list }}
{{ "two\nlines"|indent(2) }} {{ "%05.1f"|format(3.14159) }} {{ [1, 2, 3]|slice(2)|list }}
{{ "x"|attr("upper")() }} {{ missing|default("given") }} {{ "2m"|spoken }} {{ held(4) }}
{{ "ab" * 3 }} {{ 2 ** 10 }} {{ [1] + [2] }} {{ "a,b".split(",") }} {{ dict(a=1).items()|list }}
"""
    assert render(tmp_path, template).splitlines() == [
        "1. Right side a",
        "2. Left side b",
        "right then left (2) x and 2 1 y",
        "1,2,3 a=1",
        "...pad... a b",
        "c d [[1, 2], [3]]",
        "two",
        "  lines 003.1 [[1, 2], [3]]",
        "X given two minutes 4",
        "ababab 1024 [1, 2] ['a', 'b'] [('a', 1)]",
    ]


def write_session(folder: Path, template: str) -> Path:
    write(folder / "sessions" / "t.j2", template)
    return write(folder / "sessions" / "s.toml", '[[part]]\ntemplate = "t.j2"\n')


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "Hello.\n{{ ''.__class__.__mro__[1].__subclasses__() }}\n",
            "t.j2:2: template refused by the sandbox: access to attribute '__class__' of 'str'",
        ),
        ("Hello.\n{% include '/etc/passwd' %}\n", "t.j2:2: template name '/etc/passwd'"),
        ("Hello.\n\n{{ cycler.__init__.__globals__.os }}\n", "t.j2:3: template refused"),
        ("Hello.\n{{ 'x' * 10**9 }}\n", f"t.j2:2: this would make a value of {TOO_BIG}"),
        ("{{ 'x'|center(10**9) }}\n", f"t.j2:1: this would make a value of {TOO_BIG}"),
    ],
)
def test_the_cli_refuses_in_one_line(tmp_path: Path, template: str, message: str) -> None:
    started = time.monotonic()
    result = runner.invoke(app, ["script", str(write_session(tmp_path, template))])
    assert time.monotonic() - started < QUICK + 1
    assert result.exit_code == 2
    assert message in result.output
    assert result.output.count("\n") == 1
    assert "Traceback" not in result.output
    assert "root:" not in result.output  # nothing of /etc/passwd


def test_the_cli_stops_a_runaway_loop_at_the_default_deadline(tmp_path: Path) -> None:
    loop = (
        "Hello.\n{% set r = range(99999) %}\n"
        "{% for a in r %}{% for b in r %}{% endfor %}{% endfor %}\n"
    )
    started = time.monotonic()
    result = runner.invoke(app, ["script", str(write_session(tmp_path, loop))])
    took = time.monotonic() - started
    assert result.exit_code == 2
    assert "t.j2:3: rendering took longer than 5 seconds" in result.output
    assert result.output.count("\n") == 1
    assert sandbox.RENDER_SECONDS <= took < sandbox.RENDER_SECONDS + 1.5
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL
