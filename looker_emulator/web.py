"""Web host: /auth (authorization endpoint), sign-in form and approval page.

Validation order follows RFC 6749 4.1.2.1: an unknown/disabled client or a redirect_uri that
is not registered exactly gets an error page and never a redirect; once the redirect_uri is
trusted, every other error is reported to it as `error=...`.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from html import escape
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .config import SeedUser
from .state import EmulatorState

SESSION_COOKIE = "looker_emulator_session"
CSRF_COOKIE = "looker_emulator_csrf"
AUTH_PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state",
               "code_challenge", "code_challenge_method")
# A S256 challenge is base64url(sha256) without padding: exactly 43 characters.
CHALLENGE_RE = re.compile(r"[A-Za-z0-9_-]{43}")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - Looker (emulator)</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;background:#f4f6fa;margin:0}}
main{{max-width:420px;margin:8vh auto;background:#fff;padding:2rem;border-radius:8px;
box-shadow:0 2px 12px #0002}}h1{{font-size:1.4rem}}label{{display:block;margin:.8rem 0 .2rem}}
input[type=email],input[type=password]{{width:100%;padding:.5rem;box-sizing:border-box}}
button{{margin-top:1rem;padding:.5rem 1.2rem;margin-right:.5rem}}.err{{color:#b00020}}
.note{{color:#666;font-size:.85rem}}</style></head>
<body><main><h1>{title}</h1>{body}<p class="note">Looker emulator: not a real Looker.</p>
</main></body></html>"""


def page(title: str, body: str, status: int = 200,
         headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), status, headers)


def error_page(message: str, status: int = 400) -> HTMLResponse:
    return page("Authorization error", f'<p class="err">{escape(message)}</p>', status)


def _state(request: Request) -> EmulatorState:
    st: EmulatorState = request.app.state.emulator
    return st


def redirect_with(uri: str, params: dict[str, str | None]) -> RedirectResponse:
    qs = urlencode({k: v for k, v in params.items() if v is not None})
    sep = "&" if "?" in uri else "?"
    return RedirectResponse(f"{uri}{sep}{qs}", 302, {"cache-control": "no-store"})


@dataclass
class AuthRequest:
    client_id: str
    redirect_uri: str
    state: str | None
    code_challenge: str


def validate(st: EmulatorState, params: dict[str, list[str]]) -> AuthRequest | Response:
    def one(key: str) -> str | None:
        vals = params.get(key)
        return vals[0] if vals else None

    client_id, redirect_uri = one("client_id"), one("redirect_uri")
    if len(params.get("client_id", [])) > 1 or len(params.get("redirect_uri", [])) > 1:
        return error_page("client_id and redirect_uri must each be given exactly once.")
    client = st.clients.get(client_id) if client_id else None
    if client is None:
        return error_page("Unknown OAuth client application.")
    if not client.enabled:
        return error_page("This OAuth client application is disabled.")
    if redirect_uri is None or redirect_uri not in client.redirect_uris:
        return error_page("The redirect_uri does not match the one registered for this client.")
    state = one("state")

    def fail(error: str, desc: str) -> Response:
        return redirect_with(redirect_uri, {"error": error, "error_description": desc,
                                            "state": state})

    if any(len(params.get(k, [])) > 1 for k in AUTH_PARAMS):
        return fail("invalid_request", "Repeated parameter.")
    if one("response_type") != "code":
        return fail("unsupported_response_type", "response_type must be code.")
    if one("scope") != "cors_api":
        return fail("invalid_scope", "scope must be cors_api.")
    challenge, method = one("code_challenge"), one("code_challenge_method")
    if not challenge:
        return fail("invalid_request", "code_challenge is required (PKCE).")
    if method != "S256":
        return fail("invalid_request", "code_challenge_method must be S256.")
    if not CHALLENGE_RE.fullmatch(challenge):
        return fail("invalid_request", "code_challenge is not a base64url SHA-256 digest.")
    return AuthRequest(client.client_guid, redirect_uri, state, challenge)


def current_user(st: EmulatorState, request: Request) -> tuple[SeedUser | None, str | None]:
    """Signed-in user and their session's CSRF token (None for the auto-login user)."""
    sid = request.cookies.get(SESSION_COOKIE)
    if sid and sid in st.web_sessions:
        uid, csrf = st.web_sessions[sid]
        user = st.users.get(uid)
        if user is not None:
            return user, csrf
    auto = st.config.auto_login_user
    if auto:
        return st.users_by_email.get(auto.lower()), None
    return None, None


def _hidden(params: dict[str, str]) -> str:
    return "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
                   for k, v in params.items())


def login_form(next_url: str, error: str | None = None, email: str = "") -> HTMLResponse:
    csrf = secrets.token_urlsafe(24)
    err = f'<p class="err">{escape(error)}</p>' if error else ""
    body = f"""{err}<form method="post" action="/login">
{_hidden({"csrf_token": csrf, "next": next_url})}
<label for="email">Email</label><input id="email" name="email" type="email" value="{escape(email)}"
 autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password"
 autocomplete="current-password" required>
<button type="submit">Log In</button></form>"""
    resp = page("Log in to Looker", body)
    resp.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="lax", path="/")
    return resp


def approval_page(st: EmulatorState, user: SeedUser, ar: AuthRequest, csrf: str) -> HTMLResponse:
    client = st.clients[ar.client_id]
    fields = {"client_id": ar.client_id, "redirect_uri": ar.redirect_uri,
              "response_type": "code", "scope": "cors_api", "code_challenge": ar.code_challenge,
              "code_challenge_method": "S256", "csrf_token": csrf}
    if ar.state is not None:
        fields["state"] = ar.state
    body = f"""<p>Signed in as <b>{escape(user.email)}</b>.</p>
<p><b>{escape(client.display_name)}</b> wants to use the Looker API on your behalf.</p>
<p class="note">Redirects to {escape(ar.redirect_uri)}</p>
<form method="post" action="/auth/decision">{_hidden(fields)}
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button></form>"""
    return page("Authorize application", body)


def grant_code(st: EmulatorState, user: SeedUser, ar: AuthRequest) -> RedirectResponse:
    code = st.issue_code(ar.client_id, ar.redirect_uri, ar.code_challenge, user.id)
    return redirect_with(ar.redirect_uri, {"code": code, "state": ar.state})


async def authorize(request: Request) -> Response:
    st = _state(request)
    params = parse_qs(request.url.query, keep_blank_values=True)
    ar = validate(st, params)
    if not isinstance(ar, AuthRequest):
        return ar
    user, csrf = current_user(st, request)
    if user is None:
        return login_form("/auth?" + request.url.query)
    if st.config.auto_approve or (user.id, ar.client_id) in st.approvals:
        return grant_code(st, user, ar)
    if csrf is None:  # auto-login user without a session: give them one for the form post
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        st.web_sessions[sid] = (user.id, csrf)
        resp = approval_page(st, user, ar, csrf)
        _set_session(resp, sid)
        return resp
    return approval_page(st, user, ar, csrf)


async def _form(request: Request) -> dict[str, list[str]]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        return {}
    return parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)


def _first(form: dict[str, list[str]], key: str) -> str:
    vals = form.get(key)
    return vals[0] if vals else ""


def _set_session(resp: Response, sid: str) -> None:
    resp.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="lax", path="/")


def _safe_next(url: str) -> str:
    # Only our own pages: never an open redirect.
    return url if url.startswith("/auth?") or url == "/" else "/"


async def login_page(request: Request) -> Response:
    return login_form(_safe_next(request.query_params.get("next", "/")))


async def login_submit(request: Request) -> Response:
    st = _state(request)
    form = await _form(request)
    next_url = _safe_next(_first(form, "next"))
    cookie_csrf = request.cookies.get(CSRF_COOKIE, "")
    sent_csrf = _first(form, "csrf_token")
    if not cookie_csrf or not hmac.compare_digest(cookie_csrf, sent_csrf):
        return error_page("Invalid or missing CSRF token. Reload the sign-in page.", 403)
    email = _first(form, "email").strip()
    user = st.users_by_email.get(email.lower())
    if user is None or not hmac.compare_digest(user.password.encode(),
                                               _first(form, "password").encode()):
        return login_form(next_url, "Invalid email or password.", email)
    sid = secrets.token_urlsafe(32)
    st.web_sessions[sid] = (user.id, secrets.token_urlsafe(24))
    st.count("sign_ins")
    resp = RedirectResponse(next_url, 303)
    _set_session(resp, sid)
    resp.delete_cookie(CSRF_COOKIE, path="/")
    return resp


async def decision(request: Request) -> Response:
    st = _state(request)
    form = await _form(request)
    sid = request.cookies.get(SESSION_COOKIE)
    sess = st.web_sessions.get(sid) if sid else None
    if sess is None:
        return error_page("You are not signed in.", 401)
    uid, csrf = sess
    if not hmac.compare_digest(csrf, _first(form, "csrf_token")):
        return error_page("Invalid or missing CSRF token.", 403)
    ar = validate(st, {k: v for k, v in form.items() if k in AUTH_PARAMS})
    if not isinstance(ar, AuthRequest):
        return ar
    user = st.users[uid]
    choice = _first(form, "decision")
    if choice == "deny":
        st.count("denials")
        return redirect_with(ar.redirect_uri, {"error": "access_denied",
                                               "error_description": "The user denied access.",
                                               "state": ar.state})
    if choice != "allow":
        return error_page("Choose Allow or Deny.")
    st.approvals.add((uid, ar.client_id))
    st.count("approvals")
    return grant_code(st, user, ar)


async def home(request: Request) -> Response:
    st = _state(request)
    user, _ = current_user(st, request)
    if user is None:
        body = '<p>Not signed in. <a href="/login">Log in</a></p>'
    else:
        body = (f"<p>Signed in as <b>{escape(user.email)}</b>.</p>"
                '<form method="post" action="/logout"><button>Log out</button></form>')
    return page("Looker", body)


async def web_logout(request: Request) -> Response:
    st = _state(request)
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        st.web_sessions.pop(sid, None)
    resp = RedirectResponse("/", 303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp
