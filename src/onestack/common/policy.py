"""Role-based access rules in the oslo.policy language.

Each service declares its rules in code (``<service>/policies.py``) as :class:`Rule` objects;
operators override any of them from a YAML/JSON file mapping rule names to check strings.

The language: ``@`` (always), ``!`` (never), ``role:NAME``, ``rule:NAME``, generic checks
``KEY:VALUE`` comparing a credential attribute with a literal or a target attribute
(``project_id:%(target.project.id)s``), literal checks (``'member':%(role.name)s``,
``True:%(enabled)s``), joined with ``and``/``or``/``not`` and parentheses. An empty check
string allows everything, as in oslo.policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from onestack.common.context import RequestContext
from onestack.common.errors import Forbidden

Check = Callable[[Mapping[str, Any], Mapping[str, Any], "Enforcer"], bool]

_SUBST = re.compile(r"%\(([^)]+)\)s")


class PolicySyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    name: str
    check_str: str
    description: str = ""
    scope_types: tuple[str, ...] = ()
    operations: tuple[tuple[str, str], ...] = field(default=())


def _lookup(data: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """Find ``a.b.c`` in nested dicts, also accepting a flat key named ``a.b.c``."""
    if path in data:
        return True, data[path]
    current: Any = data
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        else:
            return False, None
    return True, current


def _literal(text: str) -> tuple[bool, Any]:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return True, text[1:-1]
    if text in ("True", "False"):
        return True, text == "True"
    return False, None


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    return "" if value is None else str(value)


def _generic(kind: str, match: str) -> Check:
    """``kind:match``: compare a credential (or a literal) with a literal or a target value."""
    is_lit, literal = _literal(kind)
    subst = _SUBST.fullmatch(match)

    def resolve_match(target: Mapping[str, Any]) -> tuple[bool, Any]:
        if subst:
            return _lookup(target, subst.group(1))
        if "%(" in match:
            try:
                return True, match % _Flat(target)
            except KeyError:
                return False, None
        return True, match

    def check(target: Mapping[str, Any], creds: Mapping[str, Any], _e: Enforcer) -> bool:
        found, expected = resolve_match(target)
        if not found:
            return False
        if is_lit:
            return _as_text(literal) == _as_text(expected)
        have, actual = _lookup(creds, kind)
        if not have or actual is None:
            return False
        if isinstance(actual, list | tuple | set):
            return _as_text(expected) in {_as_text(a) for a in actual}
        return _as_text(actual) == _as_text(expected)

    return check


class _Flat(dict[str, Any]):
    """Lets ``%``-formatting resolve dotted keys against nested target dicts."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        super().__init__()
        self._data = data

    def __missing__(self, key: str) -> Any:
        found, value = _lookup(self._data, key)
        if not found:
            raise KeyError(key)
        return value


def _role(name: str) -> Check:
    wanted = name.lower()
    subst = _SUBST.fullmatch(name)

    def check(target: Mapping[str, Any], creds: Mapping[str, Any], _e: Enforcer) -> bool:
        role = wanted
        if subst:
            found, value = _lookup(target, subst.group(1))
            if not found:
                return False
            role = _as_text(value).lower()
        return role in {r.lower() for r in creds.get("roles", ())}

    return check


def _rule_ref(name: str) -> Check:
    def check(target: Mapping[str, Any], creds: Mapping[str, Any], enforcer: Enforcer) -> bool:
        return enforcer.check_rule(name, target, creds)

    return check


def _always(_t: Mapping[str, Any], _c: Mapping[str, Any], _e: Enforcer) -> bool:
    return True


def _never(_t: Mapping[str, Any], _c: Mapping[str, Any], _e: Enforcer) -> bool:
    return False


def _atom(token: str) -> Check:
    if token == "@":
        return _always
    if token == "!":
        return _never
    if ":" not in token:
        raise PolicySyntaxError(f"not a check: {token!r}")
    kind, match = token.split(":", 1)
    if kind == "role":
        return _role(match)
    if kind == "rule":
        return _rule_ref(match)
    return _generic(kind, match)


def _tokenize(text: str) -> list[str]:
    """Split on whitespace, then peel parentheses off the ends of words, as oslo.policy does.

    Parentheses inside a word (``%(target.id)s``) stay part of the check.
    """
    tokens: list[str] = []
    for word in text.split():
        stripped = word.lstrip("(")
        tokens.extend("(" * (len(word) - len(stripped)))
        core = stripped.rstrip(")")
        closing = len(stripped) - len(core)
        # "%(name)s)" ends with one real ")" after the substitution's own.
        if core.endswith("%(") or (core.count("(") > core.count(")")):
            core += ")"
            closing -= 1
        if core:
            tokens.append(core)
        tokens.extend(")" * closing)
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Check:
        if not self.tokens:
            return _always
        check = self.expr()
        if self.peek() is not None:
            raise PolicySyntaxError(f"unexpected {self.peek()!r}")
        return check

    def expr(self) -> Check:
        parts = [self.conjunction()]
        while self.peek() == "or":
            self.take()
            parts.append(self.conjunction())
        if len(parts) == 1:
            return parts[0]
        return lambda t, c, e: any(p(t, c, e) for p in parts)

    def conjunction(self) -> Check:
        parts = [self.negation()]
        while self.peek() == "and":
            self.take()
            parts.append(self.negation())
        if len(parts) == 1:
            return parts[0]
        return lambda t, c, e: all(p(t, c, e) for p in parts)

    def negation(self) -> Check:
        if self.peek() == "not":
            self.take()
            inner = self.negation()
            return lambda t, c, e: not inner(t, c, e)
        return self.atom()

    def atom(self) -> Check:
        token = self.peek()
        if token is None:
            raise PolicySyntaxError("unexpected end of check string")
        self.take()
        if token == "(":
            inner = self.expr()
            if self.peek() != ")":
                raise PolicySyntaxError("missing ')'")
            self.take()
            return inner
        if token in (")", "and", "or"):
            raise PolicySyntaxError(f"unexpected {token!r}")
        return _atom(token)


def parse(check_str: str) -> Check:
    """Compile a check string into a function of (target, credentials, enforcer)."""
    return _Parser(check_str).parse()


class Enforcer:
    """Holds the rules of every service and decides requests against them."""

    def __init__(self, enforce_scope: bool = True) -> None:
        self.enforce_scope = enforce_scope
        self._rules: dict[str, Rule] = {}
        self._compiled: dict[str, Check] = {}
        self._overrides: dict[str, str] = {}

    def register(self, rules: Iterable[Rule]) -> None:
        for rule in rules:
            self._rules[rule.name] = rule
            check_str = self._overrides.get(rule.name, rule.check_str)
            self._compiled[rule.name] = parse(check_str)

    def load_overrides(self, path: str | Path) -> None:
        text = Path(path).read_text()
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise PolicySyntaxError(f"{path}: expected a mapping of rule names to check strings")
        self.set_overrides({str(k): str(v) for k, v in data.items()})

    def set_overrides(self, overrides: Mapping[str, str]) -> None:
        compiled = {name: parse(check) for name, check in overrides.items()}
        self._overrides.update(overrides)
        self._compiled.update(compiled)

    def rules(self) -> dict[str, Rule]:
        return dict(self._rules)

    def check_rule(self, name: str, target: Mapping[str, Any], creds: Mapping[str, Any]) -> bool:
        check = self._compiled.get(name)
        if check is None:
            return False  # an unknown rule denies, as oslo.policy does
        return check(target, creds, self)

    def allowed(self, name: str, target: Mapping[str, Any], creds: Mapping[str, Any]) -> bool:
        if name not in self._compiled:
            raise KeyError(f"policy rule {name!r} is not registered")
        rule = self._rules.get(name)
        if (
            self.enforce_scope
            and rule is not None
            and rule.scope_types
            and creds.get("scope_type") not in rule.scope_types
        ):
            return False
        return self.check_rule(name, target, creds)

    def enforce(
        self, context: RequestContext, name: str, target: Mapping[str, Any] | None = None
    ) -> None:
        if not self.allowed(name, target or {}, context.credentials()):
            raise Forbidden(f"You are not authorized to perform the requested action: {name}.")
