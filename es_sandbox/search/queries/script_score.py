"""`script_score` with the Painless people write for it: arithmetic over numbers, `params`, `_score`,
`doc['f'].value`, `Math.*`, `saturation`/`sigmoid`, and the vector functions cosineSimilarity,
dotProduct, l1norm and l2norm (ScoreScriptUtils), e.g. `cosineSimilarity(params.qv, 'vec') + 1.0`.

Anything else is refused when the query is built, as Painless refuses what it cannot compile
(script_exception "compile error"); errors while scoring are script_exception "runtime error"."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from es_sandbox.errors import EsError, illegal_argument, parse_error
from es_sandbox.search.fields import Field
from es_sandbox.search.queries.common import boost_of
from es_sandbox.search.queries.registry import QUERIES, Matcher, QueryContext

Env = dict[str, Any]  # _score, source, doc id for one evaluation
Expr = Callable[[Env], Any]

_TOKENS = re.compile(
    r"\s*(?:(?P<num>\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+|\d+(?:[eE][+-]?\d+)?)[dDfFlL]?"
    r"|(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*/%().,\[\]]))"
)
_MATH = {
    "max": max,
    "min": min,
    "abs": abs,
    "sqrt": math.sqrt,
    "log": math.log,
    "log10": math.log10,
    "exp": math.exp,
    "pow": math.pow,
    "floor": math.floor,
    "ceil": math.ceil,
    "round": round,
}
_VECTOR_FUNCTIONS = ("cosineSimilarity", "dotProduct", "l1norm", "l2norm")


class _Compile(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class _Parser:
    def __init__(self, source: str, ctx: QueryContext, params: dict[str, Any]) -> None:
        self.source = source
        self.ctx = ctx
        self.params = params
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        text = source.strip().rstrip(";").strip()
        if text.startswith("return "):
            pos = len("return ")
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKENS.match(text, pos)
            if m is None or m.end() == pos:
                raise _Compile(f"unexpected character [{text[pos]}].", pos)
            kind = m.lastgroup or "op"
            self.tokens.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.pos = 0

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, value: str | None = None) -> tuple[str, str, int]:
        token = self._peek()
        if token is None or (value is not None and token[1] != value):
            offset = token[2] if token else len(self.source)
            raise _Compile(f"invalid sequence of tokens near [{token[1] if token else '<EOF>'}].", offset)
        self.pos += 1
        return token

    def parse(self) -> Expr:
        if not self.tokens:
            raise _Compile("invalid sequence of tokens near [<EOF>].", 0)
        expr = self._sum()
        if self._peek() is not None:
            raise _Compile(f"invalid sequence of tokens near [{self._peek()[1]}].", self._peek()[2])
        return expr

    def _sum(self) -> Expr:
        left = self._product()
        while (t := self._peek()) is not None and t[1] in "+-" and t[0] == "op":
            self.pos += 1
            right, lhs = self._product(), left
            left = (
                (lambda a, b: lambda env: a(env) + b(env))(lhs, right)
                if t[1] == "+"
                else (lambda a, b: lambda env: a(env) - b(env))(lhs, right)
            )
        return left

    def _product(self) -> Expr:
        left = self._unary()
        while (t := self._peek()) is not None and t[0] == "op" and t[1] in "*/%":
            self.pos += 1
            right, lhs, op = self._unary(), left, t[1]
            left = _binary(op, lhs, right)
        return left

    def _unary(self) -> Expr:
        t = self._peek()
        if t is not None and t[0] == "op" and t[1] in "-+":
            self.pos += 1
            inner = self._unary()
            return (lambda e: lambda env: -e(env))(inner) if t[1] == "-" else inner
        return self._primary()

    def _primary(self) -> Expr:
        kind, value, offset = self._take()
        if kind == "num":
            number = float(value) if any(c in value for c in ".eE") else int(value)
            return lambda env: number
        if kind == "str":
            text = value[1:-1]
            return lambda env: text
        if value == "(":
            inner = self._sum()
            self._take(")")
            return inner
        if kind != "name":
            raise _Compile(f"invalid sequence of tokens near [{value}].", offset)
        if value == "_score":
            return lambda env: env["_score"]
        if value == "params":
            return self._params()
        if value == "doc":
            return self._doc_value()
        if value == "Math":
            self._take(".")
            name = self._take()[1]
            args = self._args()
            if name not in _MATH:
                raise _Compile(f"Unknown call [{name}] with [{len(args)}] arguments on type [Math].", offset)
            fn = _MATH[name]
            return lambda env: fn(*(a(env) for a in args))
        if value in _VECTOR_FUNCTIONS:
            return self._vector_function(value, offset)
        if value in ("saturation", "sigmoid"):
            args = self._args()
            if value == "saturation" and len(args) == 2:
                return lambda env: (lambda x, k: x / (x + k))(args[0](env), args[1](env))
            if value == "sigmoid" and len(args) == 3:
                return lambda env: (lambda x, k, a: x**a / (k**a + x**a))(*(f(env) for f in args))
        raise _Compile(f"cannot resolve symbol [{value}]", offset)

    def _args(self) -> list[Expr]:
        self._take("(")
        args: list[Expr] = []
        if self._peek() is not None and self._peek()[1] == ")":
            self.pos += 1
            return args
        while True:
            args.append(self._sum())
            if self._take()[1] == ")":
                return args

    def _params(self) -> Expr:
        path: list[str] = []
        while (t := self._peek()) is not None and t[1] in (".", "["):
            self.pos += 1
            if t[1] == ".":
                path.append(self._take()[1])
            else:
                path.append(self._take()[1][1:-1])
                self._take("]")
        value: Any = self.params
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return lambda env: value

    def _doc_value(self) -> Expr:
        self._take("[")
        name = self._take()[1][1:-1]
        self._take("]")
        self._take(".")
        attribute = self._take()[1]
        f = self.ctx.field(name)
        if attribute == "size":
            self._take("(")
            self._take(")")
            return lambda env: len(f.values(env["source"]))
        if attribute != "value":
            raise _Compile(f"cannot resolve symbol [{attribute}]", self.tokens[self.pos - 1][2])

        def value(env: Env) -> Any:
            values = f.values(env["source"])
            if not values:
                raise _Runtime(
                    "A document doesn't have a value for a field! Use doc[<field>].size()==0 to check if a "
                    "document is missing a field!"
                )
            return min(values) if all(isinstance(v, int | float) for v in values) else values[0]

        return value

    def _vector_function(self, name: str, offset: int) -> Expr:
        args_start = self.pos
        self._take("(")
        query = self._sum()
        self._take(",")
        kind, field_name, _ = self._take()
        if kind != "str":
            raise _Compile(f"invalid sequence of tokens near [{field_name}].", self.tokens[args_start][2])
        self._take(")")
        f = self.ctx.field(field_name[1:-1])
        return _vector_call(name, query, f)


def _binary(op: str, left: Expr, right: Expr) -> Expr:
    def apply(env: Env) -> Any:
        a, b = left(env), right(env)
        if op == "*":
            return a * b
        if b == 0 and isinstance(a, int) and isinstance(b, int):
            raise _Runtime("/ by zero")
        if op == "/":
            return (
                a // b
                if isinstance(a, int) and isinstance(b, int)
                else (a / b if b else math.copysign(math.inf, a))
            )
        return math.fmod(a, b)

    return apply


class _Runtime(Exception):
    pass


def _vector_call(name: str, query: Expr, f: Field) -> Expr:
    def call(env: Env) -> float:
        vector = query(env)
        if not isinstance(vector, list):
            raise _Runtime(f"Cannot cast from [{type(vector).__name__}] to [java.util.List].")
        doc = [float(v) for v in f.values(env["source"]) if isinstance(v, int | float)]
        if not doc:
            raise _Runtime("A document doesn't have a value for a vector field!")
        if len(doc) != len(vector):
            raise _Runtime(
                f"The query vector has a different number of dimensions [{len(vector)}] than the document vectors "
                f"[{len(doc)}]."
            )
        q = [float(v) for v in vector]
        if name == "dotProduct":
            return sum(a * b for a, b in zip(q, doc, strict=True))
        if name == "l1norm":
            return sum(abs(a - b) for a, b in zip(q, doc, strict=True))
        if name == "l2norm":
            return math.sqrt(sum((a - b) ** 2 for a, b in zip(q, doc, strict=True)))
        norms = math.sqrt(sum(a * a for a in q)) * math.sqrt(sum(b * b for b in doc))
        return sum(a * b for a, b in zip(q, doc, strict=True)) / norms if norms else 0.0

    return call


def _script_error(kind: str, source: str, reason: str, offset: int = 0) -> EsError:
    return EsError(
        400,
        "script_exception",
        kind,
        extra={
            "script_stack": [source, " " * offset + "^---- HERE"],
            "script": source,
            "lang": "painless",
            "position": {"offset": offset, "start": 0, "end": len(source)},
        },
        caused_by={"type": "illegal_argument_exception", "reason": reason},
    )


def _script_of(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    script = body.get("script")
    if isinstance(script, str):
        return script, {}
    if not isinstance(script, dict) or "source" not in script:
        if isinstance(script, dict) and "id" in script:
            raise illegal_argument(f"unable to find script [{script['id']}] in cluster state")
        raise parse_error("[script] must be an object with a [source]")
    lang = script.get("lang", "painless")
    if lang != "painless":
        raise illegal_argument(f"script_lang not supported [{lang}]")
    return str(script["source"]), dict(script.get("params") or {})


async def _check_parse(body: dict[str, Any], pctx: Any) -> dict[str, Any]:
    """What ScriptScoreQueryBuilder's parser refuses before the search starts."""
    missing = [key for key in ("query", "script") if key not in body]
    if missing:
        raise illegal_argument(f"Required [{', '.join(missing)}]")
    _script_of(body)
    return body


@QUERIES.query("script_score", prepare=_check_parse, children=("query",))
def script_score(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    inner = ctx.compile(body["query"])
    source, params = _script_of(body)
    try:
        expr = _Parser(source, ctx, params).parse()
    except _Compile as err:
        raise _script_error("compile error", source, str(err), err.offset) from None
    boost, min_score = boost_of(body), body.get("min_score")

    def match(doc_id: str, doc_source: dict[str, Any]) -> float | None:
        score = inner(doc_id, doc_source)
        if score is None:
            return None
        try:
            value = float(expr({"_score": score, "source": doc_source}))
        except _Runtime as err:
            raise _script_error("runtime error", source, str(err)) from None
        except (TypeError, ValueError, OverflowError) as err:
            raise _script_error("runtime error", source, str(err)) from None
        if value < 0 or math.isnan(value):
            raise illegal_argument(
                f"script score function must not produce negative scores, but got: [{value}]"
            )
        if min_score is not None and value < float(min_score):
            return None
        return value * boost

    return match
