"""Evaluating `${{ … }}` in template values, with Backstage's semantics, in a Jinja2 sandbox.

Backstage renders template values with nunjucks and `${{ }}` delimiters; Paved does the same with Jinja2's
ImmutableSandboxedEnvironment:

- A string that is exactly one `${{ expr }}` yields the expression's own value (number, boolean, list, object);
  any other string containing `${{` yields the rendered text. Strings without `${{` are returned unchanged. Keys
  of objects are never rendered.
- Values are data: what an expression returns is converted to plain JSON-like data and is never rendered again,
  so a parameter `${{ secrets.x }}` or `{{ 7*7 }}` ends up literally in the result.
- Only `${{ }}` is syntax: block and comment delimiters are set to strings containing a NUL character, which a
  template string may not contain, so `{{ }}`, `{% %}` and `{# #}` are plain text.
- A missing value is undefined, as in Backstage: `parameters.missing.deep` is undefined too, it renders as empty
  text, and a single expression that is undefined (or a string that renders empty) leaves its key out of the
  enclosing object, so actions see the input as absent. Comparing or computing with an undefined value fails.
- `secrets` is not in the context: Paved gives templates no secrets, so `${{ secrets.x }}` is undefined like any
  missing value, and publishers use their own credentials.
- Values behave as data, not Python objects: the attributes of an object are its keys (`parameters.values` is the
  parameter called `values`, not a method), other values have none apart from `length`, and names starting with
  `_` that are not keys are refused. There are no global functions, and only the filters listed in `FILTERS`.
- Inside a longer string, booleans render as `true`/`false`, missing values as nothing, lists and objects as JSON.
- Limits: a template string of at most MAX_TEMPLATE_LENGTH characters, and values of at most MAX_VALUE_SIZE
  (characters of text plus items of lists and objects), checked before `*`, `**`, `+`, `~`, `join`, `replace`, `center`
  and `indent` build anything larger; string formatting with `%` is refused. One template string evaluates for at
  most MAX_SECONDS: the sandbox's hooks and every filter check the time.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import lru_cache, wraps
from typing import Any, Final

from jinja2 import ChainableUndefined, TemplateError, TemplateSyntaxError, Undefined, UndefinedError, nodes
from jinja2 import filters as jinja_filters
from jinja2.environment import Template, TemplateExpression
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from scaffolder.expressions import filters
from scaffolder.expressions.errors import (
    FORBIDDEN,
    INVALID,
    SYNTAX,
    TOO_LARGE,
    UNDEFINED,
    ErrorCode,
    ExpressionError,
    FilterError,
)

MAX_TEMPLATE_LENGTH: Final = 10_000
MAX_VALUE_SIZE: Final = 1_000_000
MAX_INTEGER_BITS: Final = 4_096
MAX_DEPTH: Final = 100
MAX_EACH_ITEMS: Final = 256
MAX_SECONDS: Final = 2.0

_START: Final = "${{"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class ExpressionContext:
    """What expressions can see: `parameters`, `steps[id].output`, `user.entity`, `user.ref`, `template` and `each`.

    `step_outputs` maps a step id to that step's output. `each` is `{key, value}` while a step with `each` runs.
    `template` is what the run knows of its template (`entityRef`, `version`, `tag`), like Backstage's templateInfo.
    """

    parameters: Mapping[str, Any] = field(default_factory=dict)
    step_outputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    user_entity: Mapping[str, Any] | None = None
    user_ref: str | None = None
    each: Mapping[str, Any] | None = None
    template: Mapping[str, Any] | None = None

    def with_step_output(self, step_id: str, output: Mapping[str, Any]) -> ExpressionContext:
        return replace(self, step_outputs={**self.step_outputs, step_id: output})

    def with_each(self, key: str, value: Any) -> ExpressionContext:
        return replace(self, each={"key": key, "value": value})

    def namespace(self) -> dict[str, Any]:
        user: dict[str, Any] = {}
        if self.user_entity is not None:
            user["entity"] = self.user_entity
        if self.user_ref is not None:
            user["ref"] = self.user_ref
        names: dict[str, Any] = {
            "parameters": self.parameters,
            "steps": {step_id: {"output": output} for step_id, output in self.step_outputs.items()},
            "user": user,
        }
        if self.each is not None:
            names["each"] = self.each
        if self.template is not None:
            names["template"] = self.template
        return names


class _Omitted:
    """An expression that came out undefined: its key is left out of the enclosing object."""


_OMITTED: Final = _Omitted()


class _TooLarge(Exception):
    pass


def _too_large(what: str) -> _TooLarge:
    return _TooLarge(f"{what} would exceed {MAX_VALUE_SIZE} characters and items")


_DEADLINE: ContextVar[float] = ContextVar("expression_deadline", default=math.inf)
_WRITTEN: ContextVar[list[int] | None] = ContextVar("expression_written", default=None)


def _tick() -> None:
    """Stop an evaluation that runs past its time: every hook of the sandbox and every filter calls this."""
    if time.monotonic() > _DEADLINE.get():
        raise _TooLarge(f"the expression took longer than {MAX_SECONDS} seconds")


def _size(value: Any, limit: int = MAX_VALUE_SIZE) -> int:
    """Characters of text plus items of lists and objects, counted until `limit` is passed."""
    total = 0
    stack = [value]
    steps = 0
    while stack and total <= limit:
        steps += 1
        if steps % 10_000 == 0:
            _tick()
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, Mapping):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            total += len(item)
            stack.extend(item)
        else:
            total += 1
    return total


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with values that behave as data and operators that cannot build huge values."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        if isinstance(obj, Mapping) and not isinstance(obj, Undefined):
            if attribute in obj:
                return obj[attribute]
        elif attribute == "length" and isinstance(obj, str | list | tuple):
            return len(obj)
        if attribute.startswith("_"):
            raise SecurityError(f"access to {attribute!r} is not allowed")
        return self.undefined(obj=obj, name=attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        if isinstance(obj, Mapping) and not isinstance(obj, Undefined):
            try:
                return obj[argument]
            except (LookupError, TypeError):
                pass
        elif isinstance(obj, str | list | tuple) and isinstance(argument, int | slice):
            try:
                return obj[argument]
            except (IndexError, TypeError, ValueError):
                pass
        if isinstance(argument, str):
            return self.getattr(obj, argument)
        return self.undefined(obj=obj, name=argument)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "%" and isinstance(left, str):
            raise SecurityError("string formatting with % is not available; use ~ to join text")
        if operator == "*":
            _check_repetition(left, right)
            _check_repetition(right, left)
            if _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INTEGER_BITS:
                raise _TooLarge(f"the product would exceed {MAX_INTEGER_BITS} bits")
        if (
            operator == "**"
            and _is_int(left)
            and _is_int(right)
            and abs(left) > 1
            and abs(left).bit_length() * right > MAX_INTEGER_BITS
        ):
            raise _TooLarge(f"the power would exceed {MAX_INTEGER_BITS} bits")
        if (
            operator == "+"
            and isinstance(left, str | list | tuple)
            and isinstance(right, str | list | tuple)
            and _size(left) + _size(right) > MAX_VALUE_SIZE
        ):
            raise _too_large("the sum")
        return super().call_binop(context, operator, left, right)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_repetition(sequence: Any, times: Any) -> None:
    if isinstance(sequence, str | list | tuple) and isinstance(times, int) and _size(sequence) * times > MAX_VALUE_SIZE:
        raise _too_large("the repetition")


def _text(value: Any) -> str:
    """How a value reads inside a longer string."""
    if value is None or isinstance(value, Undefined):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    return _json(value)


def _json(value: Any) -> str:
    return json.dumps(_to_data(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _to_data(value: Any, depth: int = 0) -> Any:
    """A fresh copy of a value as JSON-like data; iterators are consumed, anything else is refused."""
    if depth > MAX_DEPTH:
        raise ValueError(f"the value is nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, Undefined):
        return None
    if isinstance(value, bool | int | float):
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INTEGER_BITS:
            raise _TooLarge(f"the number would exceed {MAX_INTEGER_BITS} bits")
        return value
    if isinstance(value, str):
        return str(value)
    if _size(value) > MAX_VALUE_SIZE:
        raise _too_large("the value")
    if isinstance(value, Mapping):
        return {_key(key): _to_data(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_data(item, depth + 1) for item in value]
    if isinstance(value, Iterator):
        items: list[Any] = []
        total = 0
        for item in value:
            _tick()
            items.append(_to_data(item, depth + 1))
            total += 1 + _size(items[-1])
            if total > MAX_VALUE_SIZE:
                raise _too_large("the value")
        return items
    raise ValueError(f"the value is not data (a {type(value).__name__})")


def _key(key: Any) -> str:
    if isinstance(key, str):
        return str(key)
    if isinstance(key, bool | int | float) or key is None:
        return _text(key) if key is not None else "null"
    raise ValueError(f"an object key is not text (a {type(key).__name__})")


# Filters that build text get their size checked before they build it.


def _join(value: Iterable[Any], d: str = "", attribute: str | int | None = None) -> str:
    parts: list[str] = []
    total = 0
    for item in value:
        text = _text(filters.pick(item, attribute) if attribute is not None else item)
        total += len(text) + len(d)
        if total > MAX_VALUE_SIZE:
            raise _too_large("the joined text")
        parts.append(text)
    return str(d).join(parts)


def _replace(value: Any, old: Any, new: Any, count: int | None = None) -> str:
    text, old_text, new_text = _text(value), _text(old), _text(new)
    occurrences = text.count(old_text) if old_text else len(text) + 1
    if count is not None and count >= 0:
        occurrences = min(occurrences, count)
    if len(text) + occurrences * len(new_text) > MAX_VALUE_SIZE:
        raise _too_large("the replaced text")
    return text.replace(old_text, new_text, -1 if count is None else count)


def _center(value: Any, width: int = 80) -> str:
    if width > MAX_VALUE_SIZE:
        raise _too_large("the centred text")
    return _text(value).center(width)


def _indent(value: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    text = _text(value)
    prefix = " " * width if isinstance(width, int) else str(width)
    if len(text) + (text.count("\n") + 1) * len(prefix) > MAX_VALUE_SIZE:
        raise _too_large("the indented text")
    return jinja_filters.do_indent(text, prefix, first, blank)


def _sum(value: Iterable[Any], attribute: str | int | None = None, start: int | float = 0) -> int | float:
    total = start
    for item in value:
        number = filters.pick(item, attribute) if attribute is not None else item
        if not isinstance(number, int | float) or isinstance(number, bool):
            raise FilterError(f"sum adds numbers, got {_text(number)[:200]}")
        total += number
    return total


def _parse_entity_ref(
    value: Any,
    context: Mapping[str, Any] | None = None,
    defaultKind: str | None = None,  # Backstage's spelling
    defaultNamespace: str | None = None,
) -> dict[str, str]:
    options = dict(context or {})
    return filters.parse_entity_ref(
        value,
        default_kind=defaultKind or options.get("defaultKind"),
        default_namespace=defaultNamespace or options.get("defaultNamespace"),
    )


_JINJA_FILTERS: Final = (
    *("abs", "capitalize", "default", "d", "first", "last", "float", "int", "length", "count", "list", "lower"),
    *("upper", "title", "trim", "truncate", "reverse", "round", "sort", "unique", "min", "max", "wordcount"),
    *("dictsort", "items", "select", "reject", "selectattr", "rejectattr", "map", "urlencode"),
)

FILTERS: Final[Mapping[str, Callable[..., Any]]] = {
    **{name: jinja_filters.FILTERS[name] for name in _JINJA_FILTERS},
    "string": _text,
    "safe": _text,
    "dump": _json,
    "tojson": _json,
    "join": _join,
    "replace": _replace,
    "center": _center,
    "indent": _indent,
    "sum": _sum,
    "parseRepoUrl": lambda value: filters.parse_repo_url(value).as_dict(),
    "projectSlug": filters.project_slug,
    "parseEntityRef": _parse_entity_ref,
    "pick": filters.pick,
}


def _timed(function: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(function)  # keeps Jinja's pass_context / pass_environment marks
    def timed(*args: Any, **kwargs: Any) -> Any:
        _tick()
        return function(*args, **kwargs)

    return timed


def _finalize(value: Any) -> str:
    _tick()
    written = _WRITTEN.get()
    if not isinstance(value, str) and _size(value) > MAX_VALUE_SIZE:
        raise _too_large("the value")
    text = _text(value)
    if written is not None:
        written[0] += len(text)
        if written[0] > MAX_VALUE_SIZE:
            raise _too_large("the rendered text")
    return text


def _environment() -> _Sandbox:
    environment = _Sandbox(
        variable_start_string=_START,
        variable_end_string="}}",
        block_start_string="\0{%",
        block_end_string="%}\0",
        comment_start_string="\0{#",
        comment_end_string="#}\0",
        autoescape=False,
        undefined=ChainableUndefined,
        finalize=_finalize,
        keep_trailing_newline=True,
        cache_size=0,
    )
    environment.globals.clear()
    environment.filters.clear()
    environment.filters.update({name: _timed(function) for name, function in FILTERS.items()})
    return environment


_ENVIRONMENT: Final = _environment()


class _Rewrite(NodeTransformer):
    """Two rewrites of the parsed expression: bare names as object keys, and `~` through the size-checked join."""

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        # nunjucks reads `{ defaultKind: "group" }` with bare names as keys
        for pair in node.items:
            if isinstance(pair.key, nodes.Name):
                pair.key = nodes.Const(pair.key.name, lineno=pair.key.lineno)
        return self.generic_visit(node)

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        # Jinja joins `a ~ b ~ c` in one step that no hook sees; the join filter checks the size first
        visited = self.generic_visit(node)
        assert isinstance(visited, nodes.Concat)
        items = nodes.List(visited.nodes, lineno=node.lineno)
        return nodes.Filter(items, "join", [], [], None, None, lineno=node.lineno)


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A template string, compiled: an expression when the string is exactly one `${{ }}`, else a text template."""

    expression: TemplateExpression | None
    text: Template | None


@lru_cache(maxsize=1024)
def _compile(source: str) -> _Compiled:
    tree = _Rewrite().visit(_ENVIRONMENT.parse(source))
    assert isinstance(tree, nodes.Template)
    body = tree.body
    if len(body) == 1 and isinstance(body[0], nodes.Output) and len(body[0].nodes) == 1:
        expression = body[0].nodes[0]
        if not isinstance(expression, nodes.TemplateData):
            assign = nodes.Assign(nodes.Name("result", "store"), expression, lineno=1)
            template = _ENVIRONMENT.from_string(nodes.Template([assign], lineno=1))
            return _Compiled(expression=TemplateExpression(template, undefined_to_none=False), text=None)
    return _Compiled(expression=None, text=_ENVIRONMENT.from_string(tree))


def _render_string(source: str, names: Mapping[str, Any], path: str) -> Any:
    if _START not in source:
        return source
    if len(source) > MAX_TEMPLATE_LENGTH:
        raise ExpressionError(f"the template is longer than {MAX_TEMPLATE_LENGTH} characters", path, code=TOO_LARGE)
    if "\0" in source:
        raise ExpressionError("the template contains a NUL character", path, code=SYNTAX)
    deadline = _DEADLINE.set(time.monotonic() + MAX_SECONDS)
    written = _WRITTEN.set([0])
    try:
        compiled = _compile(source)
        if compiled.expression is not None:
            value = compiled.expression(names)
            return _OMITTED if isinstance(value, Undefined) else _to_data(value)
        assert compiled.text is not None
        text = compiled.text.render(names)
    except ExpressionError:
        raise
    except Exception as error:  # every failure of a template becomes an ExpressionError
        message, code = _describe(error)
        excerpt = source if len(source) <= 120 else f"{source[:119]}…"
        raise ExpressionError(f"{message}, in `{excerpt}`", path, code=code) from error
    finally:
        _DEADLINE.reset(deadline)
        _WRITTEN.reset(written)
    if len(text) > MAX_VALUE_SIZE:
        raise ExpressionError(f"the rendered text is longer than {MAX_VALUE_SIZE} characters", path, code=TOO_LARGE)
    return _OMITTED if text == "" else text


def _describe(error: Exception) -> tuple[str, ErrorCode]:
    if isinstance(error, TemplateSyntaxError):
        return f"the expression does not parse: {error.message}", SYNTAX
    if isinstance(error, SecurityError):
        return str(error), FORBIDDEN
    if isinstance(error, UndefinedError):
        return f"{error.message}", UNDEFINED
    if isinstance(error, _TooLarge | MemoryError):
        return str(error) or "the value is too large", TOO_LARGE
    if isinstance(error, RecursionError):
        return "the expression is nested too deeply", TOO_LARGE
    if isinstance(error, TemplateError):
        return str(error.message), INVALID
    return f"{error}" or type(error).__name__, INVALID


def _child(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if isinstance(key, str) and _IDENTIFIER.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False, default=str)}]"


def _render(value: Any, names: Mapping[str, Any], path: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ExpressionError(f"the template is nested more than {MAX_DEPTH} levels deep", path, code=TOO_LARGE)
    if isinstance(value, str):
        return _render_string(value, names, path)
    if isinstance(value, Mapping):
        rendered = {key: _render(item, names, _child(path, key), depth + 1) for key, item in value.items()}
        return {key: item for key, item in rendered.items() if item is not _OMITTED}
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        items = [_render(item, names, _child(path, index), depth + 1) for index, item in enumerate(value)]
        return [None if item is _OMITTED else item for item in items]
    return value


def render_value(template_value: Any, *, context: ExpressionContext, path: str = "") -> Any:
    """Render a template value: objects and lists are walked, strings with `${{ }}` evaluated (see the module).

    `path` is where the value sits in the template (`steps[1].input`); errors name the place below it. A result
    that is undefined as a whole comes back as None.
    """
    rendered = _render(template_value, context.namespace(), path, 0)
    return None if rendered is _OMITTED else rendered


def is_truthy(value: Any) -> bool:
    """JavaScript's truthiness, which Backstage applies to `if`: false, 0, NaN, "", null and undefined are false,
    everything else is true, empty lists and objects included."""
    if value is None or value is _OMITTED or isinstance(value, Undefined):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str):
        return value != ""
    return True


def condition_true(value: Any, *, context: ExpressionContext, path: str = "if") -> bool:
    """Whether a step's `if` or a guard rail's `if` holds: the value rendered, then JavaScript's truthiness.

    A YAML boolean is taken as it is. `if: "${{ parameters.memoryMiB > 1024 }}"` compares numbers as numbers.
    """
    if isinstance(value, bool):
        return value
    return is_truthy(render_value(value, context=context, path=path))


def expand_each(step: Mapping[str, Any], *, context: ExpressionContext, path: str = "") -> list[ExpressionContext]:
    """The contexts a step runs in: the given one for a step without `each`, else one per item with
    `each.key`/`each.value` (a list's keys are "0", "1", … as Backstage's; an object's are its keys).

    An empty list gives no iteration; `each` must render to a list or an object of at most MAX_EACH_ITEMS items.
    """
    if step.get("each") is None:
        return [context]
    each_path = _child(path, "each") if path else "each"
    items = render_value(step["each"], context=context, path=each_path)
    pairs: list[tuple[str, Any]]
    if isinstance(items, list):
        pairs = [(str(index), item) for index, item in enumerate(items)]
    elif isinstance(items, dict):
        pairs = list(items.items())
    else:
        found = "nothing" if items is None else f"a {type(items).__name__}"
        raise ExpressionError(f"each must be a list or an object, got {found}", each_path, code=INVALID)
    if len(pairs) > MAX_EACH_ITEMS:
        raise ExpressionError(
            f"each has {len(pairs)} items, more than the {MAX_EACH_ITEMS} a step may run", each_path, code=TOO_LARGE
        )
    return [context.with_each(key, item) for key, item in pairs]
