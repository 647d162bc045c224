"""The part of Painless ingest pipelines use most, run without a JVM: `if` conditions made of field
reads (`ctx.a`, `ctx['a']`, `ctx.a?.b`, `params.x`), literals, `==` `!=` `<` `<=` `>` `>=` `&&` `||` `!`
`+` `-` `?:` and a few String/List/Map methods; and script sources made of field assignments
(`ctx.a = ctx.b + ' ' + ctx.c;`). Values follow Painless's `def` rules (numbers compare by value, a
Boolean never equals a number, `+` concatenates as soon as one side is a String); a runtime failure is
the `script_exception` Painless raises. Anything else is refused when the pipeline is put, with what
is missing, never guessed at."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from es_sandbox.errors import EsError
from es_sandbox.ingest.document import METADATA_KEYS, IngestDocument, check_metadata
from es_sandbox.java import INT_MAX, INT_MIN, LONG_MAX, is_number, java_equals, java_str, java_type

CONDITION_FORMS = (
    "field reads (ctx.a, ctx['a'], ctx.a?.b, params.x), string, number, boolean and null literals, "
    "== != < <= > >= && || ! + - ?: and the methods contains, containsKey, equals, equalsIgnoreCase, "
    "startsWith, endsWith, isEmpty, size, length, toLowerCase, toUpperCase, trim, get"
)
SCRIPT_FORMS = (
    "field assignments (ctx.a = <expression>; ctx['b'] = 'x'; ctx.n += 1; ctx.n++), the expressions being "
    + CONDITION_FORMS
)


class Refused(Exception):
    """The source uses Painless the sandbox does not run; `reason` says what and where."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(reason)
        self.reason, self.offset = reason, offset


class PainlessError(Exception):
    """A Java exception raised while the script runs, before it becomes a script_exception."""

    def __init__(self, java_type_name: str, reason: str, offset: int) -> None:
        super().__init__(reason)
        self.type, self.reason, self.offset = java_type_name, reason, offset


# --- lexer ----------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[lLfFdD]?)
  | (?P<string>'(?:\\['\\]|[^'\\])*'|"(?:\\["\\]|[^"\\])*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\?\.|\?:|\+\+|--|\+=|-=|==|!=|<=|>=|&&|\|\||[-+*/%<>!=()\[\].,;?:{}&|^~])
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass
class Token:
    kind: str  # number, string, name, op, end
    text: str
    offset: int


def _tokens(source: str) -> list[Token]:
    tokens, offset = [], 0
    while offset < len(source):
        match = _TOKEN.match(source, offset)
        if match is None:
            raise Refused(f"unexpected character [{source[offset]}]", offset)
        if match.lastgroup != "space":
            tokens.append(Token(match.lastgroup, match.group(), offset))
        offset = match.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


# --- syntax tree ----------------------------------------------------------------------------------

Env = dict[str, Any]  # "ctx": CtxMap, "params": dict


@dataclass
class Node:
    offset: int

    def evaluate(self, env: Env) -> Any:
        raise NotImplementedError


@dataclass
class Literal(Node):
    value: Any

    def evaluate(self, env):
        return self.value


@dataclass
class Variable(Node):
    name: str

    def evaluate(self, env):
        return env[self.name]


@dataclass
class Field(Node):
    """`target.name`, `target?.name`, `target[key]`."""

    target: Node
    key: Node | str
    null_safe: bool = False

    def evaluate(self, env):
        container = self.target.evaluate(env)
        key = self.key if isinstance(self.key, str) else self.key.evaluate(env)
        if container is None:
            if self.null_safe:
                return None
            raise _null_reference(key, self.offset)
        return _read(container, key, isinstance(self.key, str), self.offset)

    def assign(self, env, value):
        container = self.target.evaluate(env)
        key = self.key if isinstance(self.key, str) else self.key.evaluate(env)
        if container is None:
            raise _null_reference(key, self.offset)
        _write(container, key, value, isinstance(self.key, str), self.offset)


@dataclass
class Call(Node):
    target: Node
    method: str
    args: list[Node]
    null_safe: bool = False

    def evaluate(self, env):
        receiver = self.target.evaluate(env)
        if receiver is None:
            if self.null_safe:
                return None
            raise _null_reference(self.method, self.offset)
        args = [a.evaluate(env) for a in self.args]
        method = _method(receiver, self.method, len(args))
        if method is None:
            raise PainlessError(
                "illegal_argument_exception",
                f"dynamic method [{_class_of(receiver)}, {self.method}/{len(args)}] not found",
                self.offset,
            )
        return method(receiver, *args)


@dataclass
class Unary(Node):
    op: str
    operand: Node

    def evaluate(self, env):
        value = self.operand.evaluate(env)
        if self.op == "!":
            return not _boolean(value, self.offset)
        if not is_number(value):
            raise _cannot_apply("-", [value], self.offset)
        return -value


@dataclass
class Binary(Node):
    op: str
    left: Node
    right: Node

    def evaluate(self, env):
        if self.op in ("&&", "||"):
            left = _boolean(self.left.evaluate(env), self.left.offset)
            if left == (self.op == "||"):
                return left
            return _boolean(self.right.evaluate(env), self.right.offset)
        if self.op == "?:":
            left = self.left.evaluate(env)
            return left if left is not None else self.right.evaluate(env)
        left, right = self.left.evaluate(env), self.right.evaluate(env)
        if self.op == "==":
            return java_equals(left, right)
        if self.op == "!=":
            return not java_equals(left, right)
        if self.op == "+" and (isinstance(left, str) or isinstance(right, str)):
            return java_str(left) + java_str(right)
        if not (is_number(left) and is_number(right)):
            raise _cannot_apply(self.op, [left, right], self.offset)
        if self.op in _COMPARISONS:
            return _COMPARISONS[self.op](left, right)
        return _arithmetic(self.op, left, right)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    result = left + right if op == "+" else left - right
    if isinstance(result, float):
        return result
    # Java integer arithmetic wraps: int when both sides are ints, else long.
    bits = 32 if INT_MIN <= left <= INT_MAX and INT_MIN <= right <= INT_MAX else 64
    result &= (1 << bits) - 1
    return result - (1 << bits) if result >= 1 << (bits - 1) else result


@dataclass
class Assignment:
    """`target = value`, or a compound form (`+=`, `-=`, `++`, `--`) read as `target = target op value`."""

    target: Field
    value: Node
    offset: int
    op: str = "="

    def run(self, env):
        value = self.value if self.op == "=" else Binary(self.offset, self.op, self.target, self.value)
        self.target.assign(env, value.evaluate(env))


# --- values ---------------------------------------------------------------------------------------


class CtxMap:
    """`ctx` of an ingest script: the document's _source fields and its metadata fields."""

    def __init__(self, doc: IngestDocument) -> None:
        self.doc = doc

    def _home(self, key: str) -> dict[str, Any]:
        return self.doc.meta if key in METADATA_KEYS else self.doc.source

    def get(self, key: Any) -> Any:
        return self._home(key).get(key) if isinstance(key, str) else None

    def put(self, key: str, value: Any) -> None:
        if key in METADATA_KEYS:
            check_metadata(key, value)
        self._home(key)[key] = value

    def keys(self) -> list[str]:
        return [*self.doc.source, *(k for k in self.doc.meta if self.doc.meta[k] is not None)]


def _class_of(value: Any) -> str:
    return "org.elasticsearch.ingest.IngestCtxMap" if isinstance(value, CtxMap) else java_type(value)


def _read(container: Any, key: Any, dotted: bool, offset: int) -> Any:
    if isinstance(container, CtxMap | dict):
        return container.get(key)
    if isinstance(container, list) and not dotted:
        return container[_index(container, key, offset)]
    if isinstance(container, list) and dotted and key == "length":
        return len(container)
    raise PainlessError(
        "illegal_argument_exception", f"dynamic getter [{_class_of(container)}, {key}] not found", offset
    )


def _write(container: Any, key: Any, value: Any, dotted: bool, offset: int) -> None:
    if isinstance(container, CtxMap):
        if not isinstance(key, str):
            raise PainlessError(
                "class_cast_exception", f"Cannot cast {java_type(key)} to java.lang.String", offset
            )
        container.put(key, value)
    elif isinstance(container, dict):
        container[key] = value
    elif isinstance(container, list) and not dotted:
        container[_index(container, key, offset)] = value
    else:
        raise PainlessError(
            "illegal_argument_exception", f"dynamic setter [{_class_of(container)}, {key}] not found", offset
        )


def _index(values: list, key: Any, offset: int) -> int:
    if not isinstance(key, int) or isinstance(key, bool):
        raise PainlessError(
            "class_cast_exception", f"Cannot cast {java_type(key)} to java.lang.Integer", offset
        )
    if not -len(values) <= key < len(values):
        raise PainlessError(
            "index_out_of_bounds_exception", f"Index {key} out of bounds for length {len(values)}", offset
        )
    return key if key >= 0 else len(values) + key  # Painless lists accept negative indexes from the end


_UNBOXED = {"java.lang.Integer": "int", "java.lang.Long": "long", "java.lang.Double": "double"}


def _boolean(value: Any, offset: int) -> bool:
    """Def.defToboolean."""
    if isinstance(value, bool):
        return value
    if value is None:
        raise PainlessError(
            "null_pointer_exception", 'Cannot invoke "Object.getClass()" because "value" is null', offset
        )
    name = java_type(value)
    raise PainlessError(
        "class_cast_exception", f"cannot cast def [{_UNBOXED.get(name, name)}] to boolean", offset
    )


def _null_reference(name: Any, offset: int) -> PainlessError:
    return PainlessError(
        "null_pointer_exception",
        f"cannot access method/field [{java_str(name)}] from a null def reference",
        offset,
    )


def _cannot_apply(op: str, values: list[Any], offset: int) -> PainlessError:
    """Def's operators: a null operand fails on its getClass(), other types cannot apply."""
    names = ("leftObject", "rightObject") if len(values) == 2 else ("unary",)
    for value, name in zip(values, names, strict=True):
        if value is None:
            return PainlessError(
                "null_pointer_exception",
                f'Cannot invoke "Object.getClass()" because "{name}" is null',
                offset,
            )
    types = " and ".join(f"[{java_type(v)}]" for v in values)
    return PainlessError("class_cast_exception", f"Cannot apply [{op}] operation to types {types}.", offset)


def _contains(receiver: Any, item: Any) -> bool:
    if isinstance(receiver, str):
        return isinstance(item, str) and item in receiver
    return any(java_equals(element, item) for element in receiver)


_STRING_METHODS: dict[tuple[str, int], Callable[..., Any]] = {
    ("contains", 1): _contains,
    ("equals", 1): lambda s, o: java_equals(s, o),
    ("equalsIgnoreCase", 1): lambda s, o: isinstance(o, str) and s.lower() == o.lower(),
    ("startsWith", 1): lambda s, p: s.startswith(p),
    ("endsWith", 1): lambda s, p: s.endswith(p),
    ("isEmpty", 0): lambda s: len(s) == 0,
    ("length", 0): len,
    ("toLowerCase", 0): str.lower,
    ("toUpperCase", 0): str.upper,
    ("trim", 0): lambda s: s.strip("".join(chr(c) for c in range(33))),
}
_LIST_METHODS: dict[tuple[str, int], Callable[..., Any]] = {
    ("contains", 1): _contains,
    ("equals", 1): lambda v, o: java_equals(v, o),
    ("isEmpty", 0): lambda v: len(v) == 0,
    ("size", 0): len,
    ("get", 1): lambda v, i: v[_index(v, i, 0)],
}
_MAP_METHODS: dict[tuple[str, int], Callable[..., Any]] = {
    ("containsKey", 1): lambda m, k: k in (m.keys() if isinstance(m, CtxMap) else m),
    ("get", 1): lambda m, k: m.get(k),
    ("isEmpty", 0): lambda m: len(m.keys()) == 0,
    ("size", 0): lambda m: len(m.keys()),
    ("equals", 1): lambda m, o: isinstance(o, dict) and java_equals(m, o),
}
KNOWN_METHODS = {name for table in (_STRING_METHODS, _LIST_METHODS, _MAP_METHODS) for name, _ in table}


def _method(receiver: Any, name: str, arity: int) -> Callable[..., Any] | None:
    if isinstance(receiver, str):
        table = _STRING_METHODS
    elif isinstance(receiver, list):
        table = _LIST_METHODS
    elif isinstance(receiver, dict | CtxMap):
        table = _MAP_METHODS
    else:
        table = {("equals", 1): java_equals}
    return table.get((name, arity))


# --- parser ---------------------------------------------------------------------------------------

_BINARY_LEVELS: list[tuple[str, ...]] = [("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">="), ("+", "-")]


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokens(source)
        self.at = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def take(self, text: str | None = None) -> Token:
        token = self.token
        if text is not None and token.text != text:
            found = f"[{token.text}]" if token.kind != "end" else "the end"
            raise Refused(f"expected [{text}] but found {found}", token.offset)
        self.at += 1
        return token

    def accept(self, *texts: str) -> Token | None:
        if self.token.kind == "op" and self.token.text in texts:
            return self.take()
        return None

    def statements(self) -> list[Assignment]:
        statements = []
        while self.token.kind != "end":
            statements.append(self.assignment())
            if self.token.kind != "end":
                self.take(";")
        if not statements:
            raise Refused("the script is empty", 0)
        return statements

    def assignment(self) -> Assignment:
        start = self.token.offset
        prefix = self.accept("++", "--")
        target = self.postfix()
        if not isinstance(target, Field) or not _roots_in_ctx(target):
            raise Refused("a statement must assign a ctx field (ctx.a = ...)", start)
        operator = prefix or self.token
        one = Literal(operator.offset, 1)
        if prefix is not None or operator.text in ("++", "--"):
            if prefix is None:
                self.take()
            return Assignment(target, one, start, operator.text[0])
        if operator.text not in ("=", "+=", "-="):
            what = f"[{operator.text}]" if operator.kind != "end" else "nothing"
            raise Refused(
                f"expected [=], [+=], [-=], [++] or [--] after the assigned field but found {what}",
                operator.offset,
            )
        self.take()
        return Assignment(target, self.expression(), start, "=" if operator.text == "=" else operator.text[0])

    def expression(self) -> Node:
        left = self.binary(0)
        elvis = self.accept("?:")
        if elvis:
            return Binary(elvis.offset, "?:", left, self.expression())
        if self.token.text == "?" and self.token.kind == "op":
            raise Refused("the conditional operator (a ? b : c) is not supported", self.token.offset)
        return left

    def binary(self, level: int) -> Node:
        if level == len(_BINARY_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while (op := self.accept(*_BINARY_LEVELS[level])) is not None:
            left = Binary(op.offset, op.text, left, self.binary(level + 1))
        return left

    def unary(self) -> Node:
        op = self.accept("!", "-")
        if op is not None:
            return Unary(op.offset, op.text, self.unary())
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            token = self.token
            if token.kind == "op" and token.text in (".", "?."):
                self.take()
                name = self.take()
                if name.kind != "name":
                    raise Refused(f"expected a field or method name after [{token.text}]", name.offset)
                if self.accept("("):
                    node = Call(token.offset, node, name.text, self.arguments(), token.text == "?.")
                    if name.text not in KNOWN_METHODS:
                        raise Refused(f"the method [{name.text}] is not supported", name.offset)
                else:
                    node = Field(token.offset, node, name.text, token.text == "?.")
            elif token.kind == "op" and token.text == "[":
                self.take()
                key = self.expression()
                self.take("]")
                node = Field(token.offset, node, key)
            else:
                return node

    def arguments(self) -> list[Node]:
        args: list[Node] = []
        if self.accept(")"):
            return args
        args.append(self.expression())
        while self.accept(","):
            args.append(self.expression())
        self.take(")")
        return args

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "number":
            return Literal(token.offset, _number(token))
        if token.kind == "string":
            quote = token.text[0]
            return Literal(token.offset, token.text[1:-1].replace("\\" + quote, quote).replace("\\\\", "\\"))
        if token.kind == "name":
            if token.text in ("true", "false"):
                return Literal(token.offset, token.text == "true")
            if token.text == "null":
                return Literal(token.offset, None)
            if token.text in ("ctx", "params"):
                return Variable(token.offset, token.text)
            raise Refused(
                f"[{token.text}] is not supported (only ctx, params and literals are)", token.offset
            )
        if token.kind == "op" and token.text == "(":
            inner = self.expression()
            self.take(")")
            return inner
        found = f"[{token.text}]" if token.kind != "end" else "the end of the source"
        raise Refused(f"unexpected {found}", token.offset)


def _number(token: Token) -> Any:
    text = token.text
    suffix = text[-1].lower() if text[-1] in "lLfFdD" else ""
    body = text[:-1] if suffix else text
    if suffix in ("f", "d") or any(c in body for c in ".eE"):
        return float(body)
    value = int(body)
    if value > (INT_MAX if suffix != "l" else LONG_MAX):
        raise Refused(f"the number [{text}] is out of range", token.offset)
    return value


def _roots_in_ctx(node: Node) -> bool:
    while isinstance(node, Field | Call):
        node = node.target
    return isinstance(node, Variable) and node.name == "ctx"


# --- compiled scripts -----------------------------------------------------------------------------


class Script:
    """A parsed source with its params; `condition(doc)` or `run(doc)` executes it."""

    def __init__(self, source: str, params: dict[str, Any], *, statements: bool) -> None:
        self.source, self.params = source, params
        parser = _Parser(source)
        if statements:
            self.body: list[Assignment] | Node = parser.statements()
        else:
            self.body = parser.expression()
            if parser.token.kind != "end":
                raise Refused(f"[{parser.token.text}] is not supported here", parser.token.offset)

    def condition(self, doc: IngestDocument) -> bool:
        """IngestConditionalScript: the condition's boolean, over a read-only view of the document."""
        assert isinstance(self.body, Node)
        try:
            return _boolean(self.body.evaluate(self._env(doc)), self.body.offset)
        except PainlessError as err:
            raise self._script_exception(err) from None

    def run(self, doc: IngestDocument) -> None:
        self._run_statements(self._env(doc))

    def run_update(self, ctx: dict[str, Any]) -> None:
        """An update context's script (update, update_by_query, reindex): `ctx` holds `_source`, `op`
        and the document's metadata, changed in place."""
        self._run_statements({"ctx": ctx, "params": self.params})

    def _run_statements(self, env: Env) -> None:
        assert isinstance(self.body, list)
        for statement in self.body:
            try:
                statement.run(env)
            except PainlessError as err:
                raise self._script_exception(err, statement.offset) from None

    def _env(self, doc: IngestDocument) -> Env:
        return {"ctx": CtxMap(doc), "params": self.params}

    def _script_exception(self, err: PainlessError, statement_start: int = 0) -> EsError:
        """Painless's ScriptException for a runtime error: the failing statement and where in it."""
        starts = [s.offset for s in self.body] if isinstance(self.body, list) else [0]
        later = [s for s in starts if s > statement_start]
        end = later[0] if later else len(self.source)
        return EsError(
            400,
            "script_exception",
            "runtime error",
            extra={
                "script_stack": [
                    self.source[statement_start:end],
                    " " * (err.offset - statement_start) + "^---- HERE",
                ],
                "script": self.source,
                "lang": "painless",
                "position": {"offset": err.offset, "start": statement_start, "end": end},
            },
            caused_by={"type": err.type, "reason": err.reason},
        )
