"""The typed routes: the Looker calls a SPA makes most, documented with real shapes.

Each relays Looker's answer as it is (status, allowlisted headers, body): the response
models document the shape, and results of any size stream through.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from service.api import openapi as doc
from service.api.bodylimit import BodyLimitRoute
from service.api.headers import request_headers
from service.api.schemas import Dashboard, DashboardSummary, Look, QueryRequest, ResultFormat, User
from service.api.streaming import relay
from service.api.upstream import call_looker
from service.deps import ApiSession, RuntimeDep

router = APIRouter(route_class=BodyLimitRoute)

Fields = Annotated[str | None, Query(
    description="Comma-separated fields to return (trims Looker's answer)",
    examples=["id,title"], max_length=2000)]
# Looker ids are strings in API 4.0 (numeric, or `model::name` for LookML dashboards).
LookerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_:-]{1,200}$",
                               description="The Looker id", examples=["1"])]


def _fields_query(fields: str | None) -> str:
    return urlencode({"fields": fields}) if fields else ""


class RunOptions:
    """Looker's run options, forwarded as query parameters when given."""

    def __init__(
        self,
        limit: Annotated[int | None, Query(description="Row limit (overrides the query's)",
                                           ge=-1, le=5_000_000)] = None,
        apply_formatting: Annotated[bool | None, Query(
            description="Apply model-specified formatting to each result")] = None,
        apply_vis: Annotated[bool | None, Query(
            description="Apply visualization options to results")] = None,
        cache: Annotated[bool | None, Query(description="Get results from cache if available")]
        = None,
        image_width: Annotated[int | None, Query(description="Render width (png/jpg)",
                                                 ge=1, le=10_000)] = None,
        image_height: Annotated[int | None, Query(description="Render height (png/jpg)",
                                                  ge=1, le=10_000)] = None,
        generate_drill_links: Annotated[bool | None, Query(
            description="Generate drill links (json_detail only)")] = None,
        force_production: Annotated[bool | None, Query(
            description="Force use of production models even in dev mode")] = None,
        cache_only: Annotated[bool | None, Query(
            description="Retrieve any results from cache even if they are expired")] = None,
        server_table_calcs: Annotated[bool | None, Query(
            description="Perform table calculations on query results")] = None,
    ) -> None:
        self.values = {
            "limit": limit, "apply_formatting": apply_formatting, "apply_vis": apply_vis,
            "cache": cache, "image_width": image_width, "image_height": image_height,
            "generate_drill_links": generate_drill_links,
            "force_production": force_production, "cache_only": cache_only,
            "server_table_calcs": server_table_calcs,
        }

    def query(self) -> str:
        return urlencode({
            key: (str(value).lower() if isinstance(value, bool) else value)
            for key, value in self.values.items() if value is not None
        })


Run = Annotated[RunOptions, Depends()]


@router.get(
    "/me", response_model=User, summary="The signed-in Looker user",
    description="Looker's `GET /api/4.0/user`: the user object, its fields at the top level.",
    responses={**doc.json_example("The user", doc.USER_EXAMPLE), **doc.error_responses()},
)
async def me(session: ApiSession, runtime: RuntimeDep, request: Request,
             fields: Fields = None) -> Response:
    return await relay(await call_looker(
        runtime, session, "GET", "user", query=_fields_query(fields),
        headers=request_headers(request.scope["headers"]), kind="me"))


@router.get(
    "/looks", response_model=list[Look], summary="All looks the user can see",
    description="Looker's `GET /api/4.0/looks`.",
    responses={**doc.json_example("The looks", [doc.LOOK_EXAMPLE]), **doc.error_responses()},
)
async def list_looks(session: ApiSession, runtime: RuntimeDep, request: Request,
                     fields: Fields = None) -> Response:
    return await relay(await call_looker(
        runtime, session, "GET", "looks", query=_fields_query(fields),
        headers=request_headers(request.scope["headers"]), kind="looks"))


@router.get(
    "/looks/{look_id}", response_model=Look, summary="One look, with its query",
    description="Looker's `GET /api/4.0/looks/{look_id}`.",
    responses={**doc.json_example("The look", {**doc.LOOK_EXAMPLE, "query": doc.QUERY_EXAMPLE}),
               **doc.error_responses()},
)
async def get_look(look_id: LookerId, session: ApiSession, runtime: RuntimeDep,
                   request: Request, fields: Fields = None) -> Response:
    return await relay(await call_looker(
        runtime, session, "GET", f"looks/{quote(look_id, safe=':')}",
        query=_fields_query(fields), headers=request_headers(request.scope["headers"]),
        kind="looks"))


@router.get(
    "/looks/{look_id}/run/{result_format}", response_model=None,
    summary="Run a look", responses={**doc.result_responses(), **doc.error_responses()},
    description="Looker's `GET /api/4.0/looks/{look_id}/run/{result_format}`. The result "
                "streams through as Looker produces it (csv or json of tens of MB is fine).",
)
async def run_look(look_id: LookerId, result_format: ResultFormat, options: Run,
                   session: ApiSession, runtime: RuntimeDep, request: Request) -> Response:
    return await relay(await call_looker(
        runtime, session, "GET", f"looks/{quote(look_id, safe=':')}/run/{result_format}",
        query=options.query(), headers=request_headers(request.scope["headers"]),
        kind="run"))


@router.get(
    "/dashboards", response_model=list[DashboardSummary],
    summary="All dashboards the user can see", description="Looker's `GET /api/4.0/dashboards`.",
    responses={**doc.json_example("The dashboards", [doc.DASHBOARD_EXAMPLE]),
               **doc.error_responses()},
)
async def list_dashboards(session: ApiSession, runtime: RuntimeDep, request: Request,
                          fields: Fields = None) -> Response:
    return await relay(await call_looker(
        runtime, session, "GET", "dashboards", query=_fields_query(fields),
        headers=request_headers(request.scope["headers"]), kind="dashboards"))


@router.get(
    "/dashboards/{dashboard_id}", response_model=Dashboard,
    summary="One dashboard, with its tiles",
    description="Looker's `GET /api/4.0/dashboards/{dashboard_id}` (`model::name` for LookML "
                "dashboards).",
    responses={**doc.json_example("The dashboard", doc.DASHBOARD_EXAMPLE),
               **doc.error_responses()},
)
async def get_dashboard(dashboard_id: LookerId, session: ApiSession, runtime: RuntimeDep,
                        request: Request, fields: Fields = None) -> Response:
    return await relay(await call_looker(
        runtime, session, "GET", f"dashboards/{quote(dashboard_id, safe=':')}",
        query=_fields_query(fields), headers=request_headers(request.scope["headers"]),
        kind="dashboards"))


@router.post(
    "/queries/run/{result_format}", response_model=None, summary="Run an inline query",
    description="Looker's `POST /api/4.0/queries/run/{result_format}` with the query in the "
                "body (`model` and `view` required). The result streams through.",
    responses={**doc.result_responses(), **doc.error_responses(body=True)},
)
async def run_query(result_format: ResultFormat, query: QueryRequest, options: Run,
                    session: ApiSession, runtime: RuntimeDep, request: Request) -> Response:
    headers = request_headers(request.scope["headers"])
    headers["content-type"] = "application/json"
    body = query.model_dump_json(exclude_none=True).encode()
    return await relay(await call_looker(
        runtime, session, "POST", f"queries/run/{result_format}", query=options.query(),
        body=body, headers=headers, kind="run"))
