// @ts-check
/**
 * looker-bff demo SPA: the reference for SPA authors. Plain JavaScript, no build step.
 *
 * The four rules of talking to looker-bff:
 *  1. Signing in is a *navigation* to `/auth/login?return_to=<where you are>`, never a fetch:
 *     the browser has to visit Looker and come back. After the login the BFF sends the user
 *     to `return_to`, with `?login_error=<code>` added when the login failed.
 *  2. Every call sends the session cookie (`credentials: 'include'`) and the header
 *     `X-CSRF: 1`. The header is the CSRF defence: a cross-site form cannot set it and a
 *     cross-site fetch cannot send it without passing CORS.
 *  3. Errors are `application/problem+json`: `{type, title, status, detail, code}`. Branch on
 *     `code`, a stable word; show `detail` to humans.
 *  4. A 401 with `code` `unauthenticated` or `reauth_required` means "sign in again": send
 *     the user to `/auth/login` with `return_to` set to where they are, so they come back to
 *     the same place. That is why this page keeps its state (the open look) in the URL.
 *
 * The types come from spa-types/looker-bff.d.ts, generated from the service's OpenAPI spec;
 * `npm run check` in spa-types type-checks this file against them.
 */

/** @typedef {import('../../../spa-types/looker-bff').paths} Paths */
/** @typedef {Paths['/auth/session']['get']['responses'][200]['content']['application/json']} SessionInfo */
/** @typedef {Paths['/api/me']['get']['responses'][200]['content']['application/json']} Me */
/** @typedef {Paths['/api/looks']['get']['responses'][200]['content']['application/json']} LookList */
/** @typedef {Paths['/api/dashboards']['get']['responses'][200]['content']['application/json']} DashboardList */
/** @typedef {{type?: string, title?: string, status?: number, detail?: string, code?: string}} Problem */

/** Where the BFF is: "" when this page is served by the BFF itself (set by config.js). */
const BFF = String(/** @type {any} */ (window).LOOKER_BFF_URL ?? '').replace(/\/$/, '');

/** Problem codes that mean "the user must sign in (again)". */
const SIGN_IN_AGAIN = new Set(['unauthenticated', 'reauth_required']);

/** What the `?login_error=` codes of CONTRACT.md mean, for people. */
const LOGIN_ERRORS = /** @type {Record<string, string>} */ ({
  access_denied: 'You declined access in Looker.',
  invalid_state: 'That sign-in link was stale or already used. Please sign in again.',
  exchange_failed: 'Looker did not accept the sign-in. Please try again.',
  looker_unavailable: 'Looker could not be reached. Please try again later.',
});

/** An error answer from the BFF, carrying its problem+json body. */
class ProblemError extends Error {
  /** @param {number} status @param {Problem} problem */
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** Thrown after we started navigating to the sign-in page: callers just stop. */
class SigningIn extends Error {}

// ---------------------------------------------------------------------------------------------
// Talking to the BFF

/** The location to come back to after signing in (without a stale `login_error`). */
function currentLocation() {
  const url = new URL(window.location.href);
  url.searchParams.delete('login_error');
  // Same origin: a path is enough. Cross-origin: the BFF accepts absolute URLs on SPA_ORIGINS.
  return BFF ? url.href : url.pathname + url.search + url.hash;
}

/** The sign-in URL that brings the user back to where they are now. */
function signInUrl() {
  return `${BFF}/auth/login?return_to=${encodeURIComponent(currentLocation())}`;
}

/** @param {Response} response @returns {Promise<Problem>} */
async function readProblem(response) {
  try {
    return await response.json();
  } catch {
    return { status: response.status, title: response.statusText };
  }
}

/**
 * fetch() with the two things every BFF call needs; resolves to the Response when it is 2xx.
 * A 401 that means "sign in again" navigates to the sign-in page and throws SigningIn.
 * @param {string} path e.g. "/api/looks"
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
async function bff(path, init = {}) {
  const response = await fetch(BFF + path, {
    ...init,
    credentials: 'include', // send the HttpOnly session cookie, also cross-origin
    headers: { 'X-CSRF': '1', Accept: 'application/json', ...init.headers },
  });
  if (response.ok) return response;
  const problem = await readProblem(response);
  if (response.status === 401 && SIGN_IN_AGAIN.has(problem.code ?? '')) {
    window.location.assign(signInUrl());
    throw new SigningIn(problem.code);
  }
  throw new ProblemError(response.status, problem);
}

/** GET a JSON document. @param {string} path @returns {Promise<any>} */
async function getJson(path) {
  return (await bff(path)).json();
}

/**
 * Who is signed in, or null. On page load a 401 is the normal signed-out state, not a reason
 * to leave the page, so this call does not go through bff()'s redirect.
 * @returns {Promise<SessionInfo | null>}
 */
async function currentSession() {
  const response = await fetch(`${BFF}/auth/session`, {
    credentials: 'include',
    headers: { 'X-CSRF': '1', Accept: 'application/json' },
  });
  if (response.status === 401) return null;
  if (!response.ok) throw new ProblemError(response.status, await readProblem(response));
  return response.json();
}

// ---------------------------------------------------------------------------------------------
// The page

/** @param {string} id @returns {HTMLElement} */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @param {string} text @param {'info' | 'error'} [kind] */
function notify(text, kind = 'info') {
  const notice = $('notice');
  notice.textContent = text;
  notice.className = kind;
  notice.hidden = !text;
}

/** Shows an error from any step; sign-in redirects are not errors. @param {unknown} error */
function showError(error) {
  if (error instanceof SigningIn) return;
  if (error instanceof ProblemError) {
    const code = error.problem.code ? ` (${error.problem.code})` : '';
    notify(`${error.message}${code}`, 'error');
  } else {
    notify(`Something went wrong: ${error}`, 'error');
  }
}

/** @param {boolean} signedIn */
function showSignedIn(signedIn) {
  $('loading').hidden = true;
  $('signed-in').hidden = !signedIn;
  $('signed-out').hidden = signedIn;
  $('sign-in').hidden = signedIn;
  $('sign-out').hidden = !signedIn;
  $('user').hidden = !signedIn;
}

/** @param {SessionInfo} session */
async function showUser(session) {
  $('user').textContent = `Signed in as ${session.user.display_name ?? session.user.email}`;
  $('session-expires').textContent = new Date(session.session.expires_at).toLocaleString();
  /** @type {Me} */
  const me = await getJson('/api/me');
  $('me-name').textContent = String(me.display_name ?? '');
  $('me-email').textContent = String(me.email ?? '');
  $('me-id').textContent = String(me.id ?? '');
}

/**
 * Fills a list with one entry per item.
 * @param {string} listId
 * @param {Array<{id?: unknown, title?: unknown}>} items
 * @param {(item: {id?: unknown, title?: unknown}) => Node} render
 */
function fillList(listId, items, render) {
  const list = $(listId);
  list.replaceChildren(...items.map((item) => {
    const li = document.createElement('li');
    li.append(render(item));
    return li;
  }));
  if (!items.length) list.textContent = 'Nothing here.';
}

async function showContent() {
  /** @type {[LookList, DashboardList]} */
  const [looks, dashboards] = await Promise.all([getJson('/api/looks'), getJson('/api/dashboards')]);
  fillList('looks', looks, (look) => {
    // The open look lives in the URL (#look=ID): a sign-in round trip comes back to it.
    const link = document.createElement('a');
    link.href = `#look=${encodeURIComponent(String(look.id))}`;
    link.textContent = String(look.title);
    link.dataset.lookId = String(look.id);
    return link;
  });
  fillList('dashboards', dashboards, (dashboard) => {
    const span = document.createElement('span');
    span.textContent = String(dashboard.title);
    return span;
  });
}

/** The look named by the URL's `#look=ID`, if any. */
function openLookId() {
  return new URLSearchParams(window.location.hash.slice(1)).get('look');
}

/** Runs the look into the table. @param {string} lookId */
async function runLook(lookId) {
  const id = encodeURIComponent(lookId);
  const title = document.querySelector(`[data-look-id="${CSS.escape(lookId)}"]`)?.textContent;
  $('result').hidden = false;
  $('result-title').textContent = title ?? `Look ${lookId}`;
  $('result-summary').textContent = 'Running…';
  $('download-csv').dataset.lookId = lookId;
  /** @type {Array<Record<string, unknown>>} */
  const rows = await getJson(`/api/looks/${id}/run/json`);
  renderTable(rows);
}

const MAX_ROWS_SHOWN = 200;

/** @param {Array<Record<string, unknown>>} rows */
function renderTable(rows) {
  const table = /** @type {HTMLTableElement} */ ($('result-table'));
  const columns = rows.length ? Object.keys(rows[0]) : [];
  const head = document.createElement('tr');
  head.append(...columns.map((name) => Object.assign(document.createElement('th'), { textContent: name })));
  table.tHead?.replaceChildren(head);
  table.tBodies[0].replaceChildren(...rows.slice(0, MAX_ROWS_SHOWN).map((row) => {
    const tr = document.createElement('tr');
    tr.append(...columns.map((name) => Object.assign(document.createElement('td'), {
      textContent: row[name] == null ? '' : String(row[name]),
    })));
    return tr;
  }));
  const shown = Math.min(rows.length, MAX_ROWS_SHOWN);
  $('result-summary').textContent = rows.length > shown
    ? `${rows.length} rows (first ${shown} shown)` : `${rows.length} rows`;
}

/**
 * Downloads the look as CSV. A plain <a href> cannot send X-CSRF, so: fetch with the header,
 * then hand the body to the browser as a blob download.
 * @param {string} lookId
 */
async function downloadCsv(lookId) {
  const response = await bff(`/api/looks/${encodeURIComponent(lookId)}/run/csv`, {
    headers: { Accept: 'text/csv' },
  });
  const disposition = response.headers.get('Content-Disposition') ?? '';
  const filename = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? `look-${lookId}.csv`;
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement('a'), { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Signs out (POST with X-CSRF), then shows the signed-out page. */
async function signOut() {
  await bff('/auth/logout', { method: 'POST' });
  history.replaceState(null, '', window.location.pathname);
  $('result').hidden = true;
  showSignedIn(false);
  $('sign-in').setAttribute('href', signInUrl());
  notify('You are signed out.');
}

/** After a sign-in round trip: report `?login_error=`, then drop it from the URL. */
function reportLoginError() {
  const url = new URL(window.location.href);
  const code = url.searchParams.get('login_error');
  if (!code) return;
  notify(`Sign-in failed: ${LOGIN_ERRORS[code] ?? code}`, 'error');
  url.searchParams.delete('login_error');
  history.replaceState(null, '', url);
}

async function main() {
  reportLoginError();
  // The link is followed by the browser; keep its return_to current as the URL changes.
  const signIn = $('sign-in');
  signIn.setAttribute('href', signInUrl());
  window.addEventListener('hashchange', () => signIn.setAttribute('href', signInUrl()));

  $('sign-out').addEventListener('click', () => signOut().catch(showError));
  $('download-csv').addEventListener('click', (event) => {
    const lookId = /** @type {HTMLElement} */ (event.currentTarget).dataset.lookId;
    if (lookId) downloadCsv(lookId).catch(showError);
  });
  window.addEventListener('hashchange', () => {
    const lookId = openLookId();
    if (lookId) runLook(lookId).catch(showError);
  });

  const session = await currentSession();
  showSignedIn(session !== null);
  if (!session) return;
  await showUser(session);
  await showContent();
  const lookId = openLookId();
  if (lookId) await runLook(lookId);
}

main().catch((error) => {
  $('loading').hidden = true;
  showError(error);
});
