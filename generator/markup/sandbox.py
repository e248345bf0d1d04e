"""Jinja's sandbox, bounded: what a template may reach, build, and how long it may run.

Jinja's SandboxedEnvironment keeps templates away from Python's internals (names starting with
an underscore, str.format's field reads, unsafe callables), but not from work: ``'x' * 10**9``,
``10 ** 10 ** 10`` or three nested loops of range(99999) are each a line of template. So here

- every value a template builds is measured before the costly step where it can be (``*``,
  ``**``, ``+``, ``%``, ``~``, str.format, size arguments of filters and string methods) and
  after it otherwise (literals, filter and call results, lists grown in place, printed values);
- rendering runs under a deadline: a SIGALRM timer, since Python checks signals between
  bytecodes and so interrupts compiled template loops that call nothing.

Measuring counts characters, items and digits, following shared references (a list holding one
long string a thousand times prints a thousand of them) up to just past the limit.
"""

from __future__ import annotations

import dis
import math
import re
import signal
import string
import threading
import time
import types
from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping, ValuesView
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import MAX_RANGE, SandboxedEnvironment, modifies_known_mutable
from jinja2.utils import Namespace, _PassArg  # _PassArg: how Jinja marks what a filter takes

from generator.errors import Source
from generator.files.userfiles import display_path

MAX_VALUE_SIZE = 1_000_000  # characters or items in one value; a built-in script is < 15,000
MAX_NUMBER_DIGITS = 1_000  # a number no voice will read out
RENDER_SECONDS = 5.0  # the longest built-in session renders (and compiles) in 0.1 s

_MAX_NUMBER_BITS = MAX_NUMBER_DIGITS * math.log2(10)
_TEXT = (str, bytes, bytearray)
_SEQUENCES = (str, bytes, bytearray, list, tuple)
_COLLECTIONS = (list, tuple, set, frozenset)
_SCALARS = (str, bytes, bytearray, range, int)
_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_SIZE_FIX = (
    "Check the repeats, sizes and loops on that line; a spoken script needs nothing this big."
)
RUNAWAY_FIX = "A loop in it runs far too long; check its range and the variables it uses."


class LimitExceeded(Exception):
    """A template asked for more work, or a bigger value, than any spoken script needs."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix


class TooSlow(BaseException):
    """The render deadline passed, at ``where`` when a template was running.

    A BaseException, as KeyboardInterrupt is: no ``except Exception`` in Jinja swallows it, and
    Jinja does not rewrite its traceback (which fails on the instructions without a line number
    that a loop can be interrupted at), so it finds its template line itself.
    """

    def __init__(self, what: str, fix: str, where: Source | None) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix
        self.where = where


class _MeasuringCodeGenerator(CodeGenerator):
    """Compiles as Jinja does, but the lists, tuples and dicts a template writes are measured
    once built, and the parts of a ``~`` before they are joined."""

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load":  # a loop's or a set's target names
            super().visit_Tuple(node, frame)
            return
        self.write("environment.measured(")
        super().visit_Tuple(node, frame)
        self.write(")")

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self.write("environment.measured(")
        super().visit_List(node, frame)
        self.write(")")

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self.write("environment.measured(")
        super().visit_Dict(node, frame)
        self.write(")")

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # Jinja's own choice of join, with the parts measured on the way in.
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"{join}(environment.measured((")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write(")))")


class ScriptSandbox(SandboxedEnvironment):
    """The sandbox templates render in: Jinja's, with every value and loop bounded."""

    code_generator_class = _MeasuringCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=_printable, **options)
        self.globals["range"] = _range
        del self.globals["lipsum"]  # nothing a script says, and megabytes for the asking
        self.filters = {name: _bounded(name, function) for name, function in self.filters.items()}

    def add_filter(self, name: str, function: Callable[..., Any]) -> None:
        self.filters[name] = _bounded(name, function)

    def measured(self, value: Any) -> Any:
        """A value the template built (compiled templates call this), if small enough."""
        _check_size(measure(value))
        return value

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_number(operator, left, right)
        _check_size(_binop_size(operator, left, right))
        return super().call_binop(context, operator, left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        owner = obj.__self__ if isinstance(obj, types.BuiltinMethodType) else None
        name = getattr(obj, "__name__", "")
        if isinstance(owner, _TEXT) and name == "join" and args:
            args = (_materialised(args[0]), *args[1:])  # to measure what it would join
        _check_size(measure(args) + (measure(kwargs) if kwargs else 0))
        if isinstance(owner, (*_TEXT, int)):
            _check_method(owner, name, args, kwargs)
        result = super().call(context, obj, *args, **kwargs)
        if owner is not None and modifies_known_mutable(owner, name):
            _check_size(measure(owner))  # grown in place: append, extend, update …
        return self.measured(result)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None
        text: str = value.__self__
        is_format_map = value.__name__ == "format_map"

        def measured_format(*args: Any, **kwargs: Any) -> str:
            fields = args[0] if is_format_map and args else kwargs
            _check_size(_format_size(text, args, fields))
            result = formatter(*args, **kwargs)
            _check_size(len(result))
            return result

        return measured_format


def measure(value: object, limit: int = MAX_VALUE_SIZE) -> int:
    """About how many characters or items ``value`` holds, counted only to just past ``limit``.

    Containers count their items and what the items hold, shared or not; a number counts its
    digits; anything else (a macro, a loop, an undefined name) counts one.
    """
    if isinstance(value, str):  # most values, and all printed ones: quick
        return len(value)
    if isinstance(value, int):
        return value.bit_length() // 3 + 1
    total = 0
    waiting: list[object] = [value]
    while waiting and total <= limit:
        item = waiting.pop()
        if isinstance(item, _SCALARS):
            total += _measure_one(item)
        elif isinstance(item, _COLLECTIONS):
            total += len(item)
            if total <= limit:
                waiting.extend(item)
        elif isinstance(item, dict):
            total += len(item)
            if total <= limit:
                waiting.extend(item.items())
        elif isinstance(item, Namespace):
            waiting.append(object.__getattribute__(item, "__dict__"))  # its attributes
        elif isinstance(item, Undefined):
            total += 1
        elif isinstance(item, Mapping | KeysView | ValuesView | ItemsView):  # rarer, slower
            waiting.append(list(item.items() if isinstance(item, Mapping) else item))
        else:
            total += 1
    return total


def _measure_one(value: str | bytes | bytearray | range | int) -> int:
    return value.bit_length() // 3 + 1 if isinstance(value, int) else len(value)


def _printable(value: Any) -> Any:
    """The environment's finalize: a value is measured before it is turned into text."""
    _check_size(measure(value))
    return value


def _check_size(size: int) -> None:
    if size > MAX_VALUE_SIZE:
        raise LimitExceeded(
            f"this would make a value of more than {MAX_VALUE_SIZE:,} characters or items",
            _SIZE_FIX,
        )


def _check_number(operator: str, left: object, right: object) -> None:
    if not (isinstance(left, int) and isinstance(right, int)):
        return
    bits = 0.0
    if operator == "**" and right > 0 and abs(left) > 1:
        bits = math.log2(abs(left)) * right
    elif operator == "*" and left and right:
        bits = math.log2(abs(left)) + math.log2(abs(right))
    if bits > _MAX_NUMBER_BITS:
        raise LimitExceeded(
            f"this would make a number of more than {MAX_NUMBER_DIGITS:,} digits",
            "Check the powers and products on that line.",
        )


def _binop_size(operator: str, left: object, right: object) -> int:
    if operator == "*":
        for sequence, times in ((left, right), (right, left)):
            if isinstance(sequence, _SEQUENCES) and isinstance(times, int):
                return measure(sequence) * max(times, 0)
    elif operator == "+" and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        return measure(left) + measure(right)
    elif operator == "%" and isinstance(left, str):
        return _percent_size(left, right)
    return 0


def _percent_size(text: str, values: object) -> int:
    """``text % values`` at most: the text, the values, and every width and precision asked."""
    numbers = values if isinstance(values, tuple) else (values,)
    size = len(text) + measure(values)
    for width, precision in _PERCENT_FIELD.findall(text):
        for asked in (width, precision):
            size += _largest_int(numbers) if asked == "*" else _number(asked)
    return size


def _format_size(text: str, args: tuple[Any, ...], fields: object) -> int:
    """``text.format(…)`` at most: the text, the arguments, and every width or precision asked
    (written in the field, or taken from an argument by a nested ``{}``)."""
    named = tuple(fields.values()) if isinstance(fields, Mapping) else ()
    size = len(text) + measure((args, named))
    for _, _, spec, _ in string.Formatter().parse(text):
        if spec:
            size += sum(_number(digits) for digits in re.findall(r"\d+", spec))
            size += _largest_int((*args, *named)) if "{" in spec else 0
    return size


def _number(digits: str) -> int:
    """A width or precision written in a format string: past the limit when very long."""
    if not digits:
        return 0
    return int(digits) if len(digits) < 10 else MAX_VALUE_SIZE + 1


def _largest_int(values: tuple[Any, ...]) -> int:
    return max((abs(v) for v in values if isinstance(v, int)), default=0)


def _check_method(
    owner: str | bytes | bytearray | int, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    """A string's or number's method: its number arguments are sizes or positions, so none may
    pass the limit (``'x'.center(10**9)``, ``(1).to_bytes(10**9)``); three methods multiply."""
    _check_size(_largest_int((*args, *kwargs.values())))
    if not isinstance(owner, _TEXT):
        return
    if name == "replace" and len(args) >= 2:
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        _check_size(_replaced_size(owner, args[0], args[1], count))
    elif name == "join" and args:
        _check_size(measure(args[0]) + len(owner) * _count(args[0]))
    elif name == "expandtabs":
        tabs = _occurrences(owner, "\t" if isinstance(owner, str) else b"\t")
        _check_size(len(owner) + tabs * _int(args[0] if args else kwargs.get("tabsize", 8)))
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((measure(v) for v in args[0].values()), default=1)
        _check_size(len(owner) * max(longest, 1))


def _replaced_size(text: object, old: object, new: object, count: object) -> int:
    if not (isinstance(text, _TEXT) and isinstance(old, _TEXT) and isinstance(new, _TEXT)):
        return 0  # the call itself will say what is wrong
    found = _occurrences(text, old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(len(new) - len(old), 0)


def _occurrences(text: Any, part: Any) -> int:
    try:
        return int(text.count(part))
    except TypeError:  # str and bytes mixed: the call itself will say so
        return 0


def _count(items: object) -> int:
    return len(items) if isinstance(items, (*_COLLECTIONS, Mapping)) else 0


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _materialised(items: Any) -> Any:
    """Items to join, as a list when they come one at a time, so they can be measured first."""
    if isinstance(items, (*_TEXT, *_COLLECTIONS, Mapping, Undefined)):
        return items
    try:
        return list(items)
    except TypeError:
        return items  # not iterable: the call itself will say so


def _range(*args: int) -> range:
    """Jinja's sandboxed range, saying what was asked and what the limit is."""
    numbers = range(*args)
    try:
        count = len(numbers)
    except OverflowError:
        count = MAX_RANGE + 1  # more than a machine word can count
    if count > MAX_RANGE:
        asked = ", ".join(str(arg) for arg in args)
        raise LimitExceeded(
            f"Range too big: range({asked}) counts {_amount(numbers)} numbers, more than the "
            f"{MAX_RANGE:,} a template may loop over",
            "Loop over fewer numbers; check the range and the variables it uses.",
        )
    return numbers


def _amount(numbers: range) -> str:
    try:
        return f"{len(numbers):,}"
    except OverflowError:
        return "too many"


# Filters whose arguments ask for a size: each estimate takes the filter's own arguments.
def _center_size(value: object, width: object = 80) -> int:
    return max(measure(value), _int(width))


def _indent_size(s: object, width: object = 4, first: object = False, blank: object = False) -> int:
    lines = s.count("\n") + 1 if isinstance(s, str) else 1
    step = len(width) if isinstance(width, str) else _int(width)
    return measure(s) + lines * step


def _wordwrap_size(
    s: object,
    width: object = 79,
    break_long_words: object = True,
    wrapstring: object = None,
    break_on_hyphens: object = True,
) -> int:
    breaks = len(wrapstring) if isinstance(wrapstring, str) else 1
    return measure(s) * (1 + breaks)


def _replace_size(s: object, old: object, new: object, count: object = None) -> int:
    return _replaced_size(str(s) if not isinstance(s, _TEXT) else s, old, new, count)


def _join_size(value: object, d: object = "", attribute: object = None) -> int:
    return measure(value) + len(str(d)) * _count(value)


def _batch_size(value: object, linecount: object, fill_with: object = None) -> int:
    padding = 0 if fill_with is None else _int(linecount) * (1 + measure(fill_with))
    return measure(value) + _int(linecount) + padding


def _slice_size(value: object, slices: object, fill_with: object = None) -> int:
    return measure(value) + _int(slices) * (1 + measure(fill_with))


def _format_filter_size(value: object, *args: Any, **kwargs: Any) -> int:
    return _percent_size(str(value), kwargs or args)


_FILTER_SIZES: dict[str, Callable[..., int]] = {
    "center": _center_size,
    "indent": _indent_size,
    "wordwrap": _wordwrap_size,
    "replace": _replace_size,
    "join": _join_size,
    "batch": _batch_size,
    "slice": _slice_size,
    "format": _format_filter_size,
}


def _bounded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as a filter whose arguments and result are measured.

    The wrapper takes the context, which also keeps Jinja from running the filter at compile
    time on constant arguments, outside the deadline.
    """
    passes = _PassArg.from_obj(function)
    estimate = _FILTER_SIZES.get(name)

    @pass_context
    def bounded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        if name == "attr" and isinstance(value, Undefined):
            str(value)  # raises the undefined's own error: the sandbox's, for an unsafe name
        if name == "join":
            value = _materialised(value)
        _check_size(measure((value, args, kwargs)))
        if estimate is not None:
            _check_size(estimate(value, *args, **kwargs))
        result = function(*_passed(passes, context), value, *args, **kwargs)
        _check_size(measure(result))
        return result

    return bounded


def _passed(passes: _PassArg | None, context: Context) -> tuple[Any, ...]:
    if passes is _PassArg.context:
        return (context,)
    if passes is _PassArg.eval_context:
        return (context.eval_ctx,)
    if passes is _PassArg.environment:
        return (context.environment,)
    return ()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise TooSlow in the block once ``seconds`` have passed.

    A SIGALRM timer: only on the main thread and when no one else handles SIGALRM; otherwise
    the block runs unbounded in time (values and output stay bounded). The previous handler
    and timer are put back.
    """
    if not _alarm_free():
        yield
        return
    armed = True

    def alarm(signum: int, frame: types.FrameType | None) -> None:
        if armed:
            what = f"rendering took longer than {seconds:g} seconds"
            raise TooSlow(what, RUNAWAY_FIX, _template_line(frame))

    previous = signal.signal(signal.SIGALRM, alarm)
    started = time.monotonic()
    earlier = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        armed = False  # first: an alarm from here on does nothing
        signal.setitimer(signal.ITIMER_REAL, *_left(earlier, time.monotonic() - started))
        signal.signal(signal.SIGALRM, previous)


def _template_line(frame: types.FrameType | None) -> Source | None:
    """The template line that the innermost template frame, from ``frame`` out, is running."""
    while frame is not None:
        template = frame.f_globals.get("__jinja_template__")
        line = _python_line(frame)
        if isinstance(template, jinja2.Template) and template.filename and line:
            where = display_path(Path(template.filename))
            return Source(where, template.get_corresponding_lineno(line))
        frame = frame.f_back
    return None


def _python_line(frame: types.FrameType) -> int | None:
    """The frame's line; for an instruction without one (a loop's jump back), the nearest
    line that starts before it."""
    if frame.f_lineno:
        return int(frame.f_lineno)
    starts = [line for start, line in dis.findlinestarts(frame.f_code) if start <= frame.f_lasti]
    return next((line for line in reversed(starts) if line), None)


def _alarm_free() -> bool:
    return (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN)
    )


def _left(timer: tuple[float, float], elapsed: float) -> tuple[float, float]:
    """What remains of a timer that was running ``elapsed`` seconds ago (none stays none)."""
    delay, interval = timer
    return (max(delay - elapsed, 1e-6) if delay else 0.0), interval
