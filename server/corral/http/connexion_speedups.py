"""Per-request work Connexion 3.3 repeats that only depends on the operation, done once.

Measured with cProfile on GET /api/v1/sessions/{id} (bench/bench_api.py): Connexion rebuilds
each operation's decorator chain on every request (signature inspection included), converts
parameter names with `inflection` every time, and deep-copies each parameter schema into a fresh
Draft 4 validator. These patches keep the behaviour and cache the results; Connexion is pinned,
so the patched internals cannot move under us unnoticed (tests exercise every path).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jsonschema_rs
from connexion.apps import asynchronous
from connexion.decorators import main as decorators_main
from connexion.decorators import parameter as parameter_decorators
from connexion.utils import is_null, is_nullable
from connexion.validators.parameter import ParameterValidator

from corral.http.schemas import compiled


class _OnceDecorator(decorators_main.StarletteDecorator):  # type: ignore[misc]
    """Decorates the handler once; the per-request wrapper only fetches the request."""

    def __call__(self, function: Callable[..., Any]) -> Callable[..., Any]:
        decorated = self.decorate(function)

        @functools.wraps(function)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            request = self.framework.get_request(
                uri_parser=self.uri_parser, scope=decorators_main.scope,
                receive=decorators_main.receive,
            )  # fmt: skip
            return await decorated(request)

        return wrapper


def _operation_fn(self: Any) -> Callable[..., Any]:
    fn: Callable[..., Any] | None = self.__dict__.get("_decorated_once")
    if fn is None:
        decorator = _OnceDecorator(pythonic_params=self.pythonic_params, jsonifier=self.jsonifier)
        fn = self.__dict__["_decorated_once"] = decorator(self._fn)
    return fn


class Parameters(ParameterValidator):  # type: ignore[misc]
    """Parameter checks with validators compiled once per parameter schema."""

    @staticmethod
    def validate_parameter(
        parameter_type: str, value: Any, param: dict[str, Any], param_name: str | None = None
    ) -> str | None:
        if is_nullable(param) and is_null(value):
            return None
        if value is not None:
            try:
                compiled(param.get("schema", param)).validate(value)
            except jsonschema_rs.ValidationError as exc:
                return f"{parameter_type} parameter '{param['name']}': {exc.message}"
            return None
        if param.get("required"):
            return f"Missing {parameter_type} parameter '{param['name']}'"
        return None


def install() -> None:
    asynchronous.AsyncOperation.fn = property(_operation_fn)
    parameter_decorators.pythonic = functools.lru_cache(maxsize=4096)(parameter_decorators.pythonic)
