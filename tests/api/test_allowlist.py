"""PROXY_ALLOW: the pattern syntax and the default allow/deny table."""

from __future__ import annotations

import pytest

from service.api.allowlist import ProxyPolicy, parse_rule, pattern_problems
from service.config import DEFAULT_PROXY_ALLOW

DEFAULT = ProxyPolicy(list(DEFAULT_PROXY_ALLOW))


def allowed(policy: ProxyPolicy, method: str, path: str) -> bool:
    return policy.allows(method, path.split("/"))


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "user"),
    ("GET", "looks"),
    ("GET", "looks/1"),
    ("GET", "looks/search"),
    ("GET", "looks/1/run/csv"),
    ("GET", "dashboards/thelook::sales"),
    ("GET", "queries/42/run/json"),
    ("GET", "folders/5/children"),
    ("GET", "lookml_models/thelook/explores/order_items"),
    ("GET", "folders/5/looks"),
    ("GET", "boards/3"),
    ("GET", "render_tasks/abc/results"),
    ("POST", "queries/run/json"),
    ("POST", "queries"),
    ("POST", "query_tasks"),
    ("POST", "content_favorite"),
    ("DELETE", "content_favorite/9"),
])
def test_default_allows(method: str, path: str) -> None:
    assert allowed(DEFAULT, method, path)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "users/1/credentials_email"),
    ("GET", "users/2"),                              # embeds credentials_email
    ("GET", "users/search"),
    ("GET", "credentials_email/search"),             # password reset links
    ("GET", "user/credentials_email"),
    ("GET", "ssh_server/1"),
    ("GET", "ssh_server/1/test"),
    ("GET", "ssh_tunnel/1"),
    ("GET", "projects/p/credentials"),
    ("GET", "oidc_test_configs/x"),
    ("GET", "saml_test_configs/x"),
    ("GET", "user_login_lockouts"),
    ("GET", "support_access/allowlist"),
    ("GET", "derived_table/m/v/start"),
    ("GET", "scheduled_plans"),
    ("GET", "sql_queries/x"),
    ("GET", "running_queries"),
    ("GET", "looks/1/credentials"),                  # the deny net under a wide allow
    ("GET", "users/1/credentials_api3"),
    ("GET", "users/1/credentials_api3/7"),
    ("GET", "Users/1/Credentials_API3"),             # case does not bypass a deny
    ("GET", "users/1/credentials_email.json"),       # nor a format suffix
    ("GET", "users/credential/email/1"),
    ("GET", "users/1/sessions"),
    ("GET", "users/1/attribute_values"),
    ("GET", "user_attributes"),
    ("GET", "oauth_client_apps"),
    ("GET", "oauth_client_apps/looker-bff"),
    ("GET", "oauth_client_apps.json"),
    ("GET", "connections/db1"),
    ("GET", "ldap_config"),
    ("GET", "saml_config"),
    ("GET", "oidc_config"),
    ("GET", "smtp_settings"),
    ("GET", "setting"),
    ("GET", "integration_hubs/1"),
    ("GET", "ssh_servers"),
    ("GET", "embed/sso_url"),
    ("POST", "login"),
    ("POST", "login/2"),
    ("DELETE", "logout"),
    ("POST", "oauth_client_apps/x"),
    ("DELETE", "looks/1"),
    ("PATCH", "users/2"),
    ("PUT", "dashboards/1"),
    ("POST", "users"),
    ("POST", "looks"),
    ("POST", "queries/run/json/extra"),
])
def test_default_denies(method: str, path: str) -> None:
    assert not allowed(DEFAULT, method, path)


def test_a_deny_wins_whatever_the_order() -> None:
    policy = ProxyPolicy(["!GET looks/secret", "GET looks/*"])
    assert allowed(policy, "GET", "looks/1")
    assert not allowed(policy, "GET", "looks/secret")


def test_star_is_one_segment_and_double_star_any_depth() -> None:
    policy = ProxyPolicy(["GET looks/*", "GET folders/**", "GET|PATCH boards/x*y"])
    assert allowed(policy, "GET", "looks/1")
    assert not allowed(policy, "GET", "looks/1/run/json")
    assert not allowed(policy, "GET", "looks")
    assert allowed(policy, "GET", "folders")
    assert allowed(policy, "GET", "folders/1/children/search")
    assert allowed(policy, "PATCH", "boards/xay")
    assert allowed(policy, "GET", "boards/xy")
    assert not allowed(policy, "POST", "boards/xy")


def test_an_empty_list_allows_nothing() -> None:
    assert not allowed(ProxyPolicy([]), "GET", "user")


@pytest.mark.parametrize("bad", [
    "looks/*", "GET", "FETCH looks", "GET looks/../x", "GET a//b", "GET looks/**x", "GET a b",
])
def test_malformed_patterns_are_reported(bad: str) -> None:
    with pytest.raises(ValueError, match=r"expected|unknown|segment"):
        parse_rule(bad)
    assert pattern_problems([bad])


SECRET_WORDS = ("credential", "password", "secret", "token", "oauth", "session", "login",
                "embed", "attribute", "ssh", "ldap", "saml", "oidc", "smtp", "connection",
                "setting", "config", "api3", "key", "lockout", "support", "integration")


def test_default_allows_no_operation_of_lookers_spec_that_names_a_secret_or_admin_area() -> None:
    """Walk every operation of Looker's official API 4.0 spec through the default."""
    import json
    from pathlib import Path

    spec_path = Path(__file__).resolve().parents[1] / "emulator" / "spec" / "Looker.4.0.oas.json"
    spec = json.loads(spec_path.read_text())
    allowed_operations = []
    for template, operations in spec["paths"].items():
        path = "/".join("1" if s.startswith("{") else s for s in template.strip("/").split("/"))
        for method in operations:
            if method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"} and \
                    allowed(DEFAULT, method.upper(), path):
                allowed_operations.append((method.upper(), template))
                assert not any(word in template.lower() for word in SECRET_WORDS), template
                assert not template.startswith(("/users", "/groups", "/roles")), template
    assert ("GET", "/looks/{look_id}/run/{result_format}") in allowed_operations
    assert ("POST", "/queries/run/{result_format}") in allowed_operations
    assert all(m in {"GET", "POST", "DELETE"} for m, _ in allowed_operations)
    assert [t for m, t in allowed_operations if m == "DELETE"] == [
        "/content_favorite/{content_favorite_id}"]


def test_the_default_list_is_well_formed() -> None:
    assert pattern_problems(list(DEFAULT_PROXY_ALLOW)) == []
