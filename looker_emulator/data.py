"""Seeded Looker content shaped like the API 4.0 component schemas (ids are strings, as in 4.0)."""

from __future__ import annotations

import hashlib
from typing import Any

from .config import Api3Credential, SeedUser

LOOKER_RELEASE = "26.12.3"
API_FULL_VERSION = "4.0.26.12"
DOC_URL = "https://cloud.google.com/looker/docs/"
MODEL = {"id": "thelook", "label": "The Look"}

ONE_MB_LOOK_ID = "100"  # json result of about 1 MB, for benchmarks
BIG_LOOK_ID = "101"  # config.big_look_bytes of csv/json/txt, generated and streamed
KNOWN_MODELS = {"thelook": {"order_items", "users", "products", "orders", "inventory_items"}}
TS = "2024-03-01T09:00:00.000+00:00"

CAN_READ = {"show": True, "index": True, "run": True, "explore": True, "download": True,
            "update": True, "destroy": True, "find_and_replace": True, "move": True}


def _folder(fid: str, name: str, parent: str | None, **flags: bool) -> dict[str, Any]:
    base = {"is_embed": False, "is_embed_shared_root": False, "is_embed_users_root": False,
            "is_personal": False, "is_personal_descendant": False, "is_shared_root": False,
            "is_users_root": False}
    base.update(flags)
    return {"name": name, "parent_id": parent, "id": fid, "content_metadata_id": fid,
            "created_at": TS, "creator_id": "1", "child_count": 0, "external_id": None,
            **base, "can": {"index": True, "show": True, "create": True, "update": True,
                            "destroy": True, "move_content": True, "edit_content": True}}


FOLDERS: dict[str, dict[str, Any]] = {
    "1": _folder("1", "Shared", None, is_shared_root=True),
    "2": _folder("2", "Users", None, is_users_root=True),
    "5": _folder("5", "Sales", "1"),
    "6": _folder("6", "Marketing", "1"),
    "11": _folder("11", "Ada Lovelace", "2", is_personal=True),
}


def personal_folder_id(user_id: int) -> str:
    return str(10 + user_id)


# (look id, title, description, folder id, owner id, explore view, fields, sorts, limit)
LookRow = tuple[str, str, str | None, str, int, str, list[str], list[str], str]
_LOOKS: list[LookRow] = [
    ("1", "Orders by Day", "Daily order volume", "5", 1, "order_items",
     ["order_items.created_date", "order_items.count"], ["order_items.created_date desc"], "500"),
    ("2", "Revenue by State", "Total sale price per customer state", "5", 2, "order_items",
     ["users.state", "order_items.total_sale_price"], ["order_items.total_sale_price desc"], "50"),
    ("3", "Top Product Categories", "Best selling categories", "5", 2, "order_items",
     ["products.category", "order_items.count", "order_items.total_sale_price"],
     ["order_items.count desc"], "25"),
    ("4", "New Users by Month", "Sign-ups per month", "6", 3, "users",
     ["users.created_month", "users.count"], ["users.created_month"], "36"),
    ("5", "Average Sale Price by Category", None, "5", 1, "order_items",
     ["products.category", "order_items.average_sale_price"], [], "25"),
    ("6", "Orders by City", "Where orders ship to", "6", 3, "order_items",
     ["users.city", "users.state", "order_items.count"], ["order_items.count desc"], "100"),
    ("7", "Ada's Scratch Look", "Personal work in progress", "11", 1, "orders",
     ["orders.id", "orders.status", "orders.created_date"], [], "20"),
    ("8", "Returned Items", "Items returned in the last 90 days", "5", 2, "order_items",
     ["order_items.returned_date", "products.name", "order_items.sale_price"],
     ["order_items.returned_date desc"], "200"),
    (ONE_MB_LOOK_ID, "Benchmark: 1 MB Result", "About 1 MB of JSON rows", "1", 1, "order_items",
     ["order_items.id", "order_items.created_date", "users.email", "users.state",
      "products.category", "order_items.sale_price"], [], "5200"),
    (BIG_LOOK_ID, "Streaming: Large Result", "Very large result, streamed", "1", 1, "order_items",
     ["order_items.id", "order_items.created_date", "users.email", "users.state",
      "products.category", "order_items.sale_price"], [], "-1"),
]


def query_id_for_look(look_id: str) -> str:
    return str(1000 + int(look_id))


def make_query(qid: str | None, model: str, view: str, fields: list[str],
               sorts: list[str] | None = None, limit: str | None = "500",
               filters: dict[str, str] | None = None) -> dict[str, Any]:
    key = f"{model}|{view}|{fields}|{sorts}|{limit}|{filters}".encode()
    slug = hashlib.sha1(key, usedforsecurity=False).hexdigest()[:22]
    qs = "&".join(["fields=" + ",".join(fields)] + ([f"limit={limit}"] if limit else []))
    return {
        "can": {"run": True, "see_results": True, "explore": True, "create": True, "show": True,
                "cost_estimate": True, "index": True, "see_lookml": True,
                "see_aggregate_table_lookml": True, "see_derived_table_lookml": True,
                "see_sql": True, "save": True, "generate_drill_links": True,
                "download": True, "download_unlimited": True, "use_custom_fields": True},
        "id": qid or "", "model": model, "view": view, "fields": list(fields), "pivots": [],
        "fill_fields": [], "filters": filters or {}, "filter_expression": None,
        "sorts": list(sorts or []), "limit": limit, "column_limit": None, "total": False,
        "row_total": None, "subtotals": [], "vis_config": {"type": "looker_grid"},
        "filter_config": None, "visible_ui_sections": None, "slug": slug,
        "dynamic_fields": None, "client_id": slug, "share_url": f"/x/{slug}",
        "expanded_share_url": f"/explore/{model}/{view}?{qs}",
        "url": f"/explore/{model}/{view}?{qs}", "query_timezone": None,
        "has_table_calculations": False,
    }


def _look(row: LookRow, users: dict[int, SeedUser]) -> dict[str, Any]:
    lid, title, desc, folder, owner = row[:5]
    owner_user = users.get(owner)
    folder_obj = FOLDERS[folder]
    return {
        "can": CAN_READ, "content_metadata_id": str(100 + int(lid)), "id": lid, "title": title,
        "user_id": str(owner), "content_favorite_id": None, "created_at": TS, "deleted": False,
        "deleted_at": None, "deleter_id": None, "description": desc,
        "embed_url": f"/embed/looks/{lid}", "excel_file_url": f"/looks/{lid}.xlsx",
        "favorite_count": (int(lid) * 3) % 11, "google_spreadsheet_formula": None,
        "image_embed_url": f"/looks/{lid}.png", "is_run_on_load": False,
        "last_accessed_at": TS, "last_updater_id": str(owner), "last_viewed_at": TS,
        "model": MODEL, "public": False, "public_slug": None, "public_url": None,
        "query_id": query_id_for_look(lid), "short_url": f"/x/look{lid}", "folder": folder_obj,
        "folder_id": folder, "updated_at": TS,
        "user_name": owner_user.display_name if owner_user else None,
        "view_count": (int(lid) * 37) % 500, "usage_count": (int(lid) * 13) % 200,
        "is_owner_disabled": False,
    }


class Content:
    """Static content built once per app; look and dashboard dicts are shared, never mutated."""

    def __init__(self, users: dict[int, SeedUser]) -> None:
        self.looks: dict[str, dict[str, Any]] = {}
        self.queries: dict[str, dict[str, Any]] = {}
        for row in _LOOKS:
            look = _look(row, users)
            qid = look["query_id"]
            self.queries[qid] = make_query(qid, "thelook", row[5], row[6], row[7], row[8])
            self.looks[row[0]] = look
        self.dashboards: dict[str, dict[str, Any]] = {}
        for did, title, folder, owner, look_ids in [
            ("1", "Business Pulse", "1", 1, ["1", "2", "4"]),
            ("2", "Sales Overview", "5", 2, ["2", "3", "5"]),
            ("3", "Marketing Funnel", "6", 3, ["4", "6"]),
            ("4", "Ops: Returns", "5", 2, ["8"]),
        ]:
            self.dashboards[did] = self._dashboard(did, title, folder, owner, look_ids, users)

    def look_with_query(self, look_id: str) -> dict[str, Any] | None:
        look = self.looks.get(look_id)
        if look is None:
            return None
        return {**look, "query": self.queries[look["query_id"]], "url": f"/looks/{look_id}"}

    def _dashboard(self, did: str, title: str, folder: str, owner: int, look_ids: list[str],
                   users: dict[int, SeedUser]) -> dict[str, Any]:
        elements = []
        for i, lid in enumerate(look_ids):
            look = self.look_with_query(lid)
            assert look is not None
            elements.append({
                "can": {"update": True, "destroy": True}, "body_text": None,
                "body_text_as_html": None, "dashboard_id": did, "dashboard_layout_id": did,
                "edit_uri": None, "id": f"{did}{i:02d}", "look": look, "look_id": lid,
                "lookml_link_id": None, "merge_result_id": None, "note_display": None,
                "note_state": None, "note_text": None, "note_text_as_html": None,
                "query": look["query"], "query_id": look["query_id"], "filter_id": None,
                "refresh_interval": None, "refresh_interval_to_i": None,
                "result_maker_id": None, "subtitle_text": None, "title": look["title"],
                "title_hidden": False, "title_text": None, "type": "vis", "alert_count": 0,
                "rich_content_json": None, "title_text_as_html": None,
                "subtitle_text_as_html": None, "extension_id": None, "aria_description": None,
            })
        owner_user = users.get(owner)
        base = {
            "can": CAN_READ, "content_favorite_id": None,
            "content_metadata_id": str(200 + int(did)),
            "description": f"{title} dashboard", "hidden": False, "id": did, "model": MODEL,
            "query_timezone": None, "readonly": False, "refresh_interval": None,
            "refresh_interval_to_i": None, "folder": FOLDERS[folder], "title": title,
            "user_id": str(owner),
            "slug": hashlib.md5(title.encode(), usedforsecurity=False).hexdigest()[:22],
            "preferred_viewer": "dashboards-next",
        }
        full: dict[str, Any] = {
            **base, "alert_sync_with_dashboard_filter_enabled": False, "chat_enabled": False,
            "background_color": None, "created_at": TS, "crossfilter_enabled": False,
            "dashboard_elements": elements,
            "dashboard_filters": [{
                "can": {}, "id": f"{did}1", "dashboard_id": did, "name": "Date",
                "title": "Date", "type": "date_filter", "default_value": "90 days",
                "model": None, "explore": None, "dimension": None, "field": None, "row": 0,
                "listens_to_filters": [], "allow_multiple_values": True, "required": False,
                "ui_config": None}],
            "dashboard_layouts": [{
                "can": {}, "id": did, "dashboard_id": did, "type": "newspaper", "active": True,
                "column_width": None, "width": None, "deleted": False, "dashboard_title": title,
                "dashboard_layout_components": [], "label": None, "description": None,
                "order": None, "lookml_link_id": None}],
            "deleted": False, "deleted_at": None, "deleter_id": None,
            "edit_uri": None, "enable_viz_full_screen": True, "favorite_count": int(did),
            "filters_bar_collapsed": False, "filters_location_top": True,
            "last_accessed_at": TS, "last_viewed_at": TS, "updated_at": TS,
            "last_updater_id": str(owner), "last_updater_name": owner_user.display_name
            if owner_user else None, "user_name": owner_user.display_name if owner_user else None,
            "load_configuration": "wait", "lookml_link_id": None, "show_filters_bar": True,
            "show_title": True, "folder_id": folder, "text_tile_text_color": None,
            "tile_background_color": None, "tile_text_color": None, "title_color": None,
            "view_count": int(did) * 41, "usage_count": int(did) * 17, "is_owner_disabled": False,
            "url": f"/dashboards/{did}", "preserve_desktop_layout": False,
        }
        full["_base_keys"] = list(base)
        return full

    def dashboard_base(self, d: dict[str, Any]) -> dict[str, Any]:
        return {k: d[k] for k in d["_base_keys"]}


def dashboard_public(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != "_base_keys"}


def user_json(u: SeedUser, api_url: str, creds: list[Api3Credential]) -> dict[str, Any]:
    uid = str(u.id)
    digest = hashlib.md5(u.email.lower().encode(), usedforsecurity=False).hexdigest()
    avatar = f"https://gravatar.lookercdn.com/avatar/{digest}?s=156&d=blank"
    url = f"{api_url}/api/4.0/users/{uid}"
    return {
        "can": {"show": True, "index": True, "show_details": True, "index_details": True,
                "sudo": u.is_admin},
        "avatar_url": avatar, "avatar_url_without_sizing": avatar.split("?")[0],
        "credentials_api3": [
            {"can": {}, "id": str(i + 1), "client_id": c.client_id, "created_at": TS,
             "is_disabled": False, "type": "api3", "purpose": None,
             "url": f"{url}/credentials_api3/{i + 1}"}
            for i, c in enumerate(creds) if c.user_id == u.id],
        "credentials_email": {
            "can": {}, "created_at": TS, "email": u.email,
            "forced_password_reset_at_next_login": False, "user_id": uid, "is_disabled": False,
            "logged_in_at": TS, "password_reset_url": None, "account_setup_url": None,
            "password_reset_url_expired": False, "account_setup_url_expired": False,
            "type": "email", "url": f"{url}/credentials_email", "user_url": url},
        "credentials_embed": [],
        "display_name": u.display_name, "email": u.email, "embed_group_space_id": None,
        "first_name": u.first_name, "group_ids": ["1"], "home_folder_id": "1", "id": uid,
        "is_disabled": False, "last_name": u.last_name, "locale": u.locale,
        "looker_versions": [LOOKER_RELEASE], "models_dir_validated": None,
        "personal_folder_id": personal_folder_id(u.id), "presumed_looker_employee": False,
        "role_ids": ["1"] if u.is_admin else ["2"], "sessions": [], "ui_state": None,
        "verified_looker_employee": False, "roles_externally_managed": False,
        "allow_direct_roles": True, "allow_normal_group_membership": True,
        "allow_roles_from_normal_groups": True, "embed_group_folder_id": None,
        "is_iam_admin": False, "can_manage_api3_creds": u.is_admin,
        "is_service_account": False, "service_account_name": None, "url": url,
    }


def user_public(u: SeedUser) -> dict[str, Any]:
    digest = hashlib.md5(u.email.lower().encode(), usedforsecurity=False).hexdigest()
    return {"can": {}, "id": str(u.id), "first_name": u.first_name, "last_name": u.last_name,
            "display_name": u.display_name,
            "avatar_url": f"https://gravatar.lookercdn.com/avatar/{digest}?s=156&d=blank",
            "url": f"/api/4.0/users/{u.id}"}


def parse_fields(spec: str) -> dict[str, Any] | None:
    """Parse Looker's `fields=` syntax, e.g. "id,title,folder(id,name)", into a nested dict."""
    spec = spec.replace(" ", "")
    if not spec:
        return None
    pos = 0

    def parse_list() -> dict[str, Any]:
        nonlocal pos
        out: dict[str, Any] = {}
        while pos < len(spec):
            start = pos
            while pos < len(spec) and spec[pos] not in ",()":
                pos += 1
            name = spec[start:pos]
            sub = None
            if pos < len(spec) and spec[pos] == "(":
                pos += 1
                sub = parse_list()
                pos += 1  # skip ")"
            if name:
                out[name] = sub
            if pos < len(spec) and spec[pos] == ",":
                pos += 1
                continue
            break
        return out

    return parse_list()


def apply_fields(obj: Any, spec: dict[str, Any] | None) -> Any:
    if spec is None:
        return obj
    if isinstance(obj, list):
        return [apply_fields(o, spec) for o in obj]
    if not isinstance(obj, dict):
        return obj
    return {k: apply_fields(obj[k], sub) for k, sub in spec.items() if k in obj}
