"""Oniguruma (Ruby syntax, as Elasticsearch's grok compiles with Joni) translated to Python's `re`.

What carries over as it is: literals, classes, \\d \\w \\s \\b, greedy/lazy/possessive quantifiers,
atomic groups, lookahead and fixed-width lookbehind. What is rewritten: named groups (Oniguruma allows
any characters and repeated names, Python allows neither, so groups become g0, g1, ... and a table
keeps the original names), plain groups (Oniguruma does not capture them once named groups exist),
\\h, \\z and \\Z, POSIX brackets like [[:alnum:]], nested classes, and inline flags ((?m) is Python's
DOTALL; ^ and $ always match at line breaks, Python's MULTILINE). What Python cannot do is refused
with the construct named: variable-width lookbehind, \\p{...} properties, \\G, \\K, \\R, \\X, subexpression
calls, numbered backreferences, conditionals, absent operators and class intersections."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field


class Untranslatable(Exception):
    """A construct of Oniguruma that Python's re cannot run."""


_POSIX_INLINE = {  # POSIX bracket -> class contents Python accepts inside [...]
    "digit": r"\d",
    "space": r"\s",
    "word": r"\w",
    "xdigit": "0-9A-Fa-f",
    "blank": r" \t",
    "cntrl": r"\x00-\x1f\x7f",
    "ascii": r"\x00-\x7f",
    "punct": r"!-/:-@\[-`{-~",
    "upper": "A-Z",
    "lower": "a-z",
}
_POSIX_ATOM = {  # Unicode-aware classes with no inline form: matched by an alternative
    "alnum": r"[^\W_]",
    "alpha": r"[^\W\d_]",
    "print": r"[^\x00-\x1f\x7f]",
    "graph": r"[^\s\x00-\x1f\x7f]",
}
_ESCAPES = {"h": "[0-9a-fA-F]", "H": "[^0-9a-fA-F]", "z": r"\Z", "Z": r"(?=\n?\Z)", "e": r"\x1b"}
_REFUSED_ESCAPES = {
    "G": r"\G (match start anchor)",
    "K": r"\K (keep)",
    "R": r"\R (generic newline)",
    "X": r"\X (extended grapheme)",
    "p": r"\p{...} (Unicode properties)",
    "P": r"\P{...} (Unicode properties)",
    "g": r"\g<...> (subexpression calls)",
}


@dataclass
class Translation:
    pattern: str
    names: list[str] = field(default_factory=list)  # group gN's Oniguruma name is names[N]
    numbers: dict[str, int] = field(default_factory=dict)


class _Translator:
    def __init__(self, source: str) -> None:
        self.source = source
        self.i = 0
        self.out: list[str] = []
        self.names: list[str] = []
        self.quantified = False  # the last output was a quantifier

    def translate(self) -> Translation:
        closers: list[int] = [0]  # scoped-flag groups to close at the end of each group level
        while self.i < len(self.source):
            char = self.source[self.i]
            if char == "\\":
                self.out.append(self._escape())
            elif char == "[":
                self.out.append(self._class())
            elif char == "(":
                kind, text = self._group()
                self.out.append(text)
                if kind == "flags":
                    closers[-1] += 1
                elif kind == "group":
                    closers.append(0)
            elif char == ")":
                self.out.append(")" * closers.pop())
                if not closers:
                    raise Untranslatable("unmatched close parenthesis")
                self.out.append(")")
                self.i += 1
            elif char in "?*+" and self.out and self.out[-1] in ("?", "*", "+") and self.quantified:
                # A quantifier right after a quantifier: lazy or possessive (?, +) in both syntaxes;
                # Oniguruma reduces ?*, ** and +* to *, which Python calls a multiple repeat.
                if char == "*":
                    self.out[-1] = "*"
                else:
                    self.out.append(char)
                self.quantified = False
                self.i += 1
                continue
            else:
                self.out.append(char)
                self.i += 1
            self.quantified = char in "?*+"
        self.out.append(")" * closers.pop())
        if closers:
            raise Untranslatable("end pattern with unmatched parenthesis")
        return Translation("".join(self.out), self.names)

    def _escape(self) -> str:
        if self.i + 1 >= len(self.source):
            raise Untranslatable("end pattern at escape")
        letter = self.source[self.i + 1]
        self.i += 2
        if letter in _ESCAPES:
            return _ESCAPES[letter]
        if letter in _REFUSED_ESCAPES:
            raise Untranslatable(f"Python's re has no {_REFUSED_ESCAPES[letter]}")
        if letter == "k":
            match = re.compile(r"<([^>]+)>").match(self.source, self.i)
            if match is None or match.group(1) not in self.names:
                raise Untranslatable(r"\k backreferences must name an earlier group")
            self.i = match.end()
            return f"(?P=g{self.names.index(match.group(1))})"
        if letter.isdigit() and letter != "0":
            raise Untranslatable("numbered backreferences are not allowed with named groups")
        if letter == "x" and self.source[self.i : self.i + 1] == "{":
            end = self.source.index("}", self.i)
            code = int(self.source[self.i + 1 : end], 16)
            self.i = end + 1
            return re.escape(chr(code))
        return "\\" + letter

    def _group(self) -> tuple[str, str]:
        """("group", opening) for a group, ("flags", scoped opening) for (?flags) that applies to the
        rest of the enclosing group, ("none", "") for a comment."""
        rest = self.source[self.i :]
        named = re.match(r"\(\?(?:<([^=!>][^>]*)>|'([^']+)')", rest)
        if named:
            self.i += named.end()
            self.names.append(named.group(1) or named.group(2))
            return "group", f"(?P<g{len(self.names) - 1}>"
        for opening in ("(?<=", "(?<!", "(?:", "(?=", "(?!", "(?>"):
            if rest.startswith(opening):
                self.i += len(opening)
                return "group", opening
        if rest.startswith("(?#"):
            self.i = self.source.index(")", self.i) + 1
            return "none", ""
        flags = re.match(r"\(\?([imx]*)(?:-([imx]*))?([:)])", rest)
        if flags:
            on, off, end = flags.group(1), flags.group(2) or "", flags.group(3)
            self.i += flags.end()
            python = _flags(on) + ("-" + _flags(off) if off else "")
            return ("group" if end == ":" else "flags"), (f"(?{python}:" if python else "(?:")
        if rest.startswith("(?"):
            raise Untranslatable(f"Python's re has no group construct {rest[:3]!r}")
        self.i += 1
        return "group", "(?:"

    def _class(self) -> str:
        """One bracket expression (nested sets and POSIX brackets included) as Python regex."""
        start = self.i
        self.i += 1
        negated = self.source[self.i : self.i + 1] == "^"
        if negated:
            self.i += 1
        items: list[str] = []
        atoms: list[str] = []
        first = True
        while True:
            if self.i >= len(self.source):
                raise Untranslatable(f"premature end of char-class at offset {start}")
            char = self.source[self.i]
            if char == "]" and not first:
                self.i += 1
                break
            first = False
            posix = re.compile(r"\[:(\^?)([a-z]+):\]").match(self.source, self.i)
            if posix:
                negate, name = posix.groups()
                if negate or name not in {**_POSIX_INLINE, **_POSIX_ATOM}:
                    raise Untranslatable(f"the POSIX bracket [:{negate}{name}:] is not supported")
                if name in _POSIX_INLINE:
                    items.append(_POSIX_INLINE[name])
                else:
                    atoms.append(_POSIX_ATOM[name])
                self.i = posix.end()
            elif char == "[":
                nested = self._class()
                if nested.startswith("[") and not nested.startswith("[^") and nested.endswith("]"):
                    items.append(nested[1:-1])
                else:
                    atoms.append(nested)
            elif char == "&" and self.source[self.i : self.i + 2] == "&&":
                raise Untranslatable("character class intersections (&&) are not supported")
            elif char == "\\":
                escaped = self._escape()
                if escaped.startswith("[^"):
                    atoms.append(escaped)
                else:
                    items.append(escaped[1:-1] if escaped.startswith("[") else escaped)
            else:
                # Python warns on what could be a future set operation (--, &&, ~~, ||) or nested set.
                doubled = char in "-&~|" and self.source[self.i + 1 : self.i + 2] == char
                items.append("\\" + char if doubled or char in "[]" else char)
                self.i += 1
        body = "".join(items)
        if not atoms:
            return f"[{'^' if negated else ''}{body}]"
        alternatives = ([f"[{body}]"] if body else []) + atoms
        if negated:
            return f"(?:(?!{'|'.join(alternatives)})[\\s\\S])"
        return f"(?:{'|'.join(alternatives)})"


def _flags(onig: str) -> str:
    return "".join({"m": "s", "i": "i", "x": "x"}[f] for f in onig)


def translate(pattern: str) -> Translation:
    return _Translator(pattern).translate()


def compile_oniguruma(pattern: str) -> tuple[re.Pattern[str], list[str]]:
    """The compiled Python regex and its group names (gN -> names[N]); Untranslatable when Python's
    re cannot run the pattern, with the reason."""
    translation = translate(pattern)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)
            return re.compile(translation.pattern, re.MULTILINE), translation.names
    except re.error as err:
        if "look-behind requires fixed-width pattern" in str(err):
            raise Untranslatable(
                "Python's re allows only fixed-width lookbehind (?<=...) and (?<!...)"
            ) from None
        raise Untranslatable(str(err)) from None
    except FutureWarning as warning:
        raise Untranslatable(str(warning)) from None
