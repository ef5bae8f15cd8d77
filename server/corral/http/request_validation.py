"""Connexion's RequestValidationMiddleware with its per-operation objects built once.

Connexion 3.3 builds a URI parser, a parameter validator and a media-type table for every
request (~3 us), although all three only depend on the operation. The checks themselves are
Connexion's (`validate`, `validate_mime_type`, the body validators of `validator_map`), in the
same order.
"""

from __future__ import annotations

from typing import Any

from connexion import utils
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import UnsupportedMediaTypeProblem
from connexion.middleware.request_validation import (
    RequestValidationAPI,
    RequestValidationMiddleware,
    RequestValidationOperation,
    logger,
)
from starlette.types import Receive, Scope, Send


class _Operation(RequestValidationOperation):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        op = self._operation
        self._parameters = self._validator_map["parameter"](
            op.parameters,
            uri_parser=self._uri_parser(),
            strict_validation=self.strict_validation,
            security_query_params=self.security_query_params,
        )
        self._consumes = MediaTypeDict([(c.lower(), None) for c in op.consumes])

    def _uri_parser(self) -> Any:
        op = self._operation
        return op.uri_parser_class(op.parameters, op.body_definition())

    def validate_mime_type(self, mime_type: str) -> None:
        if self._operation.consumes and mime_type.lower() not in self._consumes:
            raise UnsupportedMediaTypeProblem(
                detail=f"Invalid Content-type ({mime_type}), expected {self._operation.consumes}"
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._parameters.validate(scope)
        mime_type, encoding = self.extract_content_type(scope["headers"])
        self.validate_mime_type(mime_type)
        op = self._operation
        schema = op.body_schema(mime_type)
        if schema:
            try:
                body_validator = self._validator_map["body"][mime_type]
            except KeyError:
                logger.info(
                    f"Skipping validation. No validator registered for content type: {mime_type}."
                )
            else:
                validator = body_validator(
                    schema=schema,
                    required=op.request_body.get("required", False),
                    nullable=utils.is_nullable(op.body_definition(mime_type)),
                    encoding=encoding,
                    strict_validation=self.strict_validation,
                    uri_parser=self._uri_parser(),
                )
                receive, scope = await validator.wrap_receive(receive, scope=scope)
        await self.next_app(scope, receive, send)


class _API(RequestValidationAPI):  # type: ignore[misc]
    def make_operation(self, operation: Any) -> _Operation:
        return _Operation(
            self.next_app,
            operation=operation,
            strict_validation=self.strict_validation,
            validator_map=self.validator_map,
        )


class CachedRequestValidation(RequestValidationMiddleware):  # type: ignore[misc]
    api_cls = _API
