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
    ("GET", "users/2"),
    ("POST", "queries/run/json"),
    ("POST", "queries"),
    ("POST", "query_tasks"),
    ("POST", "folders/search"),
])
def test_default_allows(method: str, path: str) -> None:
    assert allowed(DEFAULT, method, path)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "users/1/credentials_email"),
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


def test_the_default_list_is_well_formed() -> None:
    assert pattern_problems(list(DEFAULT_PROXY_ALLOW)) == []
