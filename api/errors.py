"""Uniform 4xx bodies: `detail` for people, `errors[].field` for programs.

FastAPI's default 422 buries the field in a `loc` list; clients (and the dashboard) want to know
which field was wrong without parsing that, and checks done inside handlers (e.g. "no such video
file") must look the same as schema checks.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


class FieldError(Exception):
    """A request value that passed the schema but not a semantic check."""

    def __init__(self, field: str, message: str, location: str = "body", status: int = 422):
        super().__init__(message)
        self.field, self.message, self.location, self.status = field, message, location, status


def _field(loc: tuple | list) -> tuple[str, str]:
    parts = [str(p) for p in loc]
    location = parts[0] if parts and parts[0] in ("body", "query", "path", "header") else "body"
    rest = parts[1:] if parts and parts[0] == location else parts
    return ".".join(rest) or location, location


def _body(errors: list[dict]) -> dict:
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return {"detail": f"invalid request: {detail}", "errors": errors}


async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":  # loc is ("body", <character position>)
            position = err.get("loc", ("body", "?"))[-1]
            message = f"body is not valid JSON (at character {position}): {err.get('msg', '')}"
            errors.append({"field": "body", "location": "body", "message": message})
            continue
        field, location = _field(err.get("loc", ()))
        errors.append({"field": field, "location": location, "message": err.get("msg", "")})
    return JSONResponse(_body(errors), status_code=422)


async def _field_error(_request: Request, exc: FieldError) -> JSONResponse:
    error = {"field": exc.field, "location": exc.location, "message": exc.message}
    return JSONResponse(_body([error]), status_code=exc.status)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(FieldError, _field_error)
