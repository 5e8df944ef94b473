"""Response and request models of the typed routes, drawn from Looker API 4.0's schemas.

Each model lists the fields a SPA typically needs, described as in Looker's spec
(`Looker.4.0.oas.json`: `User`, `Look`, `Dashboard`, `Query`). `extra="allow"` keeps
every other field Looker sends, so nothing is dropped and newer Looker fields pass.
Fields are optional because `?fields=` trims Looker's answers and Looker sends nulls.

The routes relay Looker's bytes as they are (no parse and re-serialise on the hot path);
these models document the shapes in OpenAPI and tests hold Looker's answers to them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ResultFormat = Literal["json", "json_bi", "json_detail", "csv", "txt", "html", "md", "xlsx",
                       "sql", "png", "jpg"]

RESULT_MEDIA_TYPES: dict[str, str] = {
    "json": "application/json", "json_bi": "application/json",
    "json_detail": "application/json", "csv": "text/csv", "txt": "text/plain",
    "html": "text/html", "md": "text/markdown",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "sql": "text/plain", "png": "image/png", "jpg": "image/jpeg",
}


class LookerModel(BaseModel):
    model_config = ConfigDict(extra="allow")


class LookModel(LookerModel):
    """The LookML model a look or dashboard is based on."""

    id: str | None = Field(None, description="Model Id")
    label: str | None = Field(None, description="Model Label")


class Folder(LookerModel):
    """The folder that holds a piece of content."""

    id: str | None = Field(None, description="Unique Id")
    name: str | None = Field(None, description="Unique Name")
    parent_id: str | None = Field(None, description="Id of Parent; null for a root folder")
    is_personal: bool | None = Field(None, description="Folder is a user's personal folder")


class User(LookerModel):
    """The signed-in Looker user (Looker's `User`)."""

    id: str | None = Field(None, description="Unique Id")
    display_name: str | None = Field(None, description="Full name for display")
    email: str | None = Field(None, description="EMail address")
    first_name: str | None = Field(None, description="First name")
    last_name: str | None = Field(None, description="Last name")
    avatar_url: str | None = Field(None, description="URL for the avatar image")
    locale: str | None = Field(None, description="User's preferred locale")
    is_disabled: bool | None = Field(None, description="Account has been disabled")
    home_folder_id: str | None = Field(None, description="ID of user's home folder")
    personal_folder_id: str | None = Field(None, description="ID of user's personal folder")
    role_ids: list[str] | None = Field(None, description="Ids of the roles of this user")
    group_ids: list[str] | None = Field(None, description="Ids of the groups of this user")
    can: dict[str, bool] | None = Field(
        None, description="Operations the current user is able to perform on this object")


class Query(LookerModel):
    """A Looker query (Looker's `Query`)."""

    id: str | None = Field(None, description="Unique Id")
    model: str | None = Field(None, description="Model")
    view: str | None = Field(None, description="Explore Name")
    fields: list[str] | None = Field(None, description="Fields")
    pivots: list[str] | None = Field(None, description="Pivots")
    filters: dict[str, Any] | None = Field(None, description="Filters, field -> expression")
    sorts: list[str] | None = Field(None, description='Sorting, e.g. ["view.field desc"]')
    limit: str | None = Field(None, description="Row limit; -1 for all (use with care)")
    total: bool | None = Field(None, description="Total")
    vis_config: dict[str, Any] | None = Field(None, description="Visualization config")
    query_timezone: str | None = Field(None, description="Query Timezone")
    slug: str | None = Field(None, description="Slug")
    share_url: str | None = Field(None, description="Share Url")
    url: str | None = Field(None, description="Expanded Url")


class QueryRequest(LookerModel):
    """An inline query to run (`POST /api/4.0/queries/run/{result_format}` body)."""

    model: str = Field(description="Model", examples=["thelook"])
    view: str = Field(description="Explore Name", examples=["order_items"])
    fields: list[str] | None = Field(None, description="Fields",
                                     examples=[["order_items.created_date",
                                                "order_items.count"]])
    pivots: list[str] | None = Field(None, description="Pivots")
    fill_fields: list[str] | None = Field(None, description="Fill Fields")
    filters: dict[str, str] | None = Field(None, description="Filters, field -> expression")
    filter_expression: str | None = Field(None, description="Filter Expression")
    sorts: list[str] | None = Field(None, description='Sorting, e.g. ["view.field desc"]')
    limit: str | int | None = Field(None, description="Row limit; -1 for all")
    column_limit: str | None = Field(None, description="Column Limit")
    total: bool | None = Field(None, description="Total")
    row_total: str | None = Field(None, description="Raw Total")
    subtotals: list[str] | None = Field(None, description="Fields to subtotal")
    vis_config: dict[str, Any] | None = Field(None, description="Visualization config")
    dynamic_fields: str | None = Field(None, description="Dynamic Fields (JSON text)")
    query_timezone: str | None = Field(None, description="Query Timezone")


class Look(LookerModel):
    """A saved look (Looker's `Look`; `GET /looks/{id}` adds `query`)."""

    id: str | None = Field(None, description="Unique Id")
    title: str | None = Field(None, description="Look Title")
    description: str | None = Field(None, description="Description")
    user_id: str | None = Field(None, description="Id of the user who created the look")
    user_name: str | None = Field(None, description="Name of the user who created the look")
    folder_id: str | None = Field(None, description="Folder Id")
    folder: Folder | None = Field(None, description="The folder holding the look")
    model: LookModel | None = Field(None, description="The look's model")
    query_id: str | None = Field(None, description="Query Id")
    query: Query | None = Field(None, description="The look's query (single look only)")
    public: bool | None = Field(None, description="Is Public")
    is_run_on_load: bool | None = Field(None, description="Auto-run query when viewed")
    created_at: str | None = Field(None, description="Time the look was created")
    updated_at: str | None = Field(None, description="Time the look was updated")
    short_url: str | None = Field(None, description="Short Url")
    can: dict[str, bool] | None = Field(
        None, description="Operations the current user is able to perform on this object")


class DashboardElement(LookerModel):
    """A tile of a dashboard."""

    id: str | None = Field(None, description="Unique Id")
    dashboard_id: str | None = Field(None, description="Id of Dashboard")
    title: str | None = Field(None, description="Title of dashboard element")
    type: str | None = Field(None, description="Type (vis, text, ...)")
    look_id: str | None = Field(None, description="Id of Look")
    query_id: str | None = Field(None, description="Id of Query")
    query: Query | None = Field(None, description="The tile's query")


class DashboardSummary(LookerModel):
    """A dashboard as listed (Looker's `DashboardBase`)."""

    id: str | None = Field(None, description="Unique Id")
    title: str | None = Field(None, description="Dashboard Title")
    description: str | None = Field(None, description="Description")
    folder: Folder | None = Field(None, description="The folder holding the dashboard")
    model: LookModel | None = Field(None, description="The dashboard's model")
    hidden: bool | None = Field(None, description="Is Hidden")
    readonly: bool | None = Field(None, description="Is Read-only")
    user_id: str | None = Field(None, description="Id of User")
    query_timezone: str | None = Field(None, description="Default timezone")
    refresh_interval: str | None = Field(None, description='Refresh Interval, e.g. "1 hour"')
    can: dict[str, bool] | None = Field(
        None, description="Operations the current user is able to perform on this object")


class Dashboard(DashboardSummary):
    """A dashboard with its tiles (Looker's `Dashboard`)."""

    folder_id: str | None = Field(None, description="Id of folder")
    created_at: str | None = Field(None, description="Time the dashboard was created")
    updated_at: str | None = Field(None, description="Time the dashboard was last updated")
    dashboard_elements: list[DashboardElement] | None = Field(None, description="Elements")
    dashboard_filters: list[dict[str, Any]] | None = Field(None, description="Filters")
    dashboard_layouts: list[dict[str, Any]] | None = Field(None, description="Layouts")


class LookerError(LookerModel):
    """Looker's own error body, passed through unchanged."""

    message: str | None = Field(None, description="Error details")
    documentation_url: str | None = Field(None, description="Documentation link")
    errors: list[dict[str, Any]] | None = Field(None, description="422: one per invalid field")


class Problem(BaseModel):
    """RFC 9457 problem details; `code` is stable and machine-readable."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, Any]] | None = None
