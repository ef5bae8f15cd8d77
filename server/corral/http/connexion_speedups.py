"""Per-request work Connexion 3.3 repeats that only depends on the operation, done once.

The internals patched here cannot move under us unnoticed: `corral.http.pinned` refuses any
Connexion but 3.3.0, and the API tests and `make fuzz` exercise every path. Gains are thread-CPU
per request of GET /api/v1/sessions/{id}, in-process (a loop driving the ASGI app directly under
uvloop).

- `AsyncOperation.fn` (`_operation_fn`): Connexion rebuilt each handler's decorator chain on
  every request (signature inspection included); built once per operation instead.
- `_OnceDecorator`: the request wraps the real scope and receive, not werkzeug proxies to them,
  with a URI parser built once per operation (see `corral.http.request`: ~14 us for the two
  request wrappers a request gets); coroutine handlers skip the per-call sync/async probe.
- `_BoundParameters` replaces `AsyncParameterDecorator`: the operation and context are read
  once instead of through ~15 proxy lookups, and form parsing is not awaited for a request that
  is not a form; ~35 us.
- `Parameters` (the `parameter` validator): validators compiled once per parameter schema
  instead of a deep copy and a fresh Draft 4 validator per parameter per request.
- `connexion.utils.extract_content_type`: evaluated a `typing` subscript and decoded every
  header name on each call; 4.5 us -> 0.4 us, once per request (twice with response validation).
- `parameter_decorators.pythonic`: `inflection` on every parameter name of every request; cached.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

import jsonschema_rs
from connexion import context as connexion_context
from connexion import utils as connexion_utils
from connexion.apps import asynchronous
from connexion.decorators import main as decorators_main
from connexion.decorators import parameter as parameter_decorators
from connexion.http_facts import FORM_CONTENT_TYPES
from connexion.operations import Swagger2Operation
from connexion.utils import inspect_function_arguments, is_null, is_nullable
from connexion.validators.parameter import ParameterValidator

from corral.http.request import Request
from corral.http.schemas import compiled


class _BoundParameters(parameter_decorators.AsyncParameterDecorator):  # type: ignore[misc]
    """Connexion's AsyncParameterDecorator (its `wrapper` and `prep_kwargs`), reading the
    operation and context once per request instead of through werkzeug proxies (~15 lookups),
    and not awaiting form parsing for a request that is not a form (it yields no files then).
    The arguments still come from Connexion's own `get_arguments`.
    """

    def __call__(self, function: Callable[..., Any]) -> Callable[..., Any]:
        arguments, has_kwargs = inspect_function_arguments(
            parameter_decorators.unwrap_decorators(function)
        )
        sanitize = self.sanitize_fn
        wants_context = parameter_decorators.CONTEXT_NAME in arguments

        @functools.wraps(function)
        async def wrapper(request: Any) -> Any:
            op = connexion_context._operation.get()
            context = connexion_context._context.get()
            mimetype = request.mimetype
            body = None
            if (sanitize(op.body_name(request.content_type)) in arguments or has_kwargs) or (
                mimetype in FORM_CONTENT_TYPES and isinstance(op, Swagger2Operation)
            ):
                body = request.get_body()
                while asyncio.iscoroutine(body):
                    body = await body
            files = await request.files() if mimetype in FORM_CONTENT_TYPES else {}
            kwargs = parameter_decorators.get_arguments(
                op,
                path_params=request.path_params,
                query_params=request.query_params,
                body=body,
                files=files,
                arguments=arguments,
                has_kwargs=has_kwargs,
                sanitize=sanitize,
                content_type=mimetype,
            )
            kwargs = {sanitize(k): v for k, v in kwargs.items()}
            for key, value in context.items():
                if has_kwargs or key in arguments:
                    kwargs[key] = value
            if wants_context:
                kwargs[parameter_decorators.CONTEXT_NAME] = parameter_decorators.context
            return await function(**kwargs)

        return wrapper


class _OnceDecorator(decorators_main.StarletteDecorator):  # type: ignore[misc]
    """Decorates the handler once; the per-request wrapper only fetches the request.

    The URI parser only depends on the operation, so it is built on the first request instead of
    on every one, and the request wraps the scope and receive themselves rather than werkzeug
    proxies to them (each scope lookup through a proxy costs a context-variable lookup).
    """

    @property
    def _parameter_decorator_cls(self) -> type[_BoundParameters]:
        return _BoundParameters

    @property
    def _sync_async_decorator(self) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        # Connexion's wrapper asks iscoroutinefunction on every call only to await a coroutine
        # function; that answer never changes, so coroutine functions go through unwrapped.
        wrap = super()._sync_async_decorator
        return lambda function: (
            function if asyncio.iscoroutinefunction(function) else wrap(function)
        )

    def __call__(self, function: Callable[..., Any]) -> Callable[..., Any]:
        decorated = self.decorate(function)
        uri_parser: Any = None

        @functools.wraps(function)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            nonlocal uri_parser
            if uri_parser is None:
                uri_parser = self.uri_parser
            request = Request(
                connexion_context._scope.get(),
                connexion_context._receive.get(),
                uri_parser=uri_parser,
            )
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

    def validate(self, scope: Any) -> None:
        self.validate_request(Request(scope, uri_parser=self.uri_parser))

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


def _extract_content_type(headers: Any) -> Any:
    """`connexion.utils.extract_content_type`, fast for ASGI header lists (bytes names)."""
    if not isinstance(headers, list):
        return _connexion_extract_content_type(headers)
    for name, value in headers:
        if not isinstance(name, bytes):
            return _connexion_extract_content_type(headers)
        if name.lower() == b"content-type":  # latin-1 never lowercases to ASCII: same test
            return str(value.decode("latin-1") if isinstance(value, bytes) else value)
    return None


_connexion_extract_content_type = connexion_utils.extract_content_type


def install() -> None:
    asynchronous.AsyncOperation.fn = property(_operation_fn)
    connexion_utils.extract_content_type = _extract_content_type
    parameter_decorators.pythonic = functools.lru_cache(maxsize=4096)(parameter_decorators.pythonic)
