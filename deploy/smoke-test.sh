#!/usr/bin/env bash
# Build the production image with podman and prove that it serves:
#   - the image has no emulator, no compiler, and runs as a non-root user;
#   - ENVIRONMENT=production without secrets refuses to start (exit 2);
#   - `looker-bff migrate` brings a fresh database to head;
#   - `looker-bff serve` answers /healthz, /readyz and the image's HEALTHCHECK;
#   - a login through the Looker emulator ends in a session (/auth/session, /api/me), and
#     logout ends it.
#
# Needs root, podman + runc (+ debootstrap the first time), psql, and a PostgreSQL on
# 127.0.0.1:5432 that lets user `postgres` in without a password (trust auth), as on the
# development machines and in CI. The emulator runs on the host from the project's venv.
# See ../shared/CONTAINERS.md for why podman is called the way it is.
#
#   bash deploy/smoke-test.sh             # everything; prints a timing summary
#   KEEP_IMAGE=0 bash deploy/smoke-test.sh   # also remove the built image at the end
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
BASE_IMAGE="${BASE_IMAGE:-localhost/looker-bff-base:bookworm}"
IMAGE="${IMAGE:-localhost/looker-bff:smoke}"
DB_NAME="${DB_NAME:-bff_smoke}"
PG=(psql -h 127.0.0.1 -p 5432 -U postgres -v ON_ERROR_STOP=1 -qAt)
BFF_PORT="${BFF_PORT:-18000}"
EMU_WEB_PORT="${EMU_WEB_PORT:-18999}"
EMU_API_PORT="${EMU_API_PORT:-18998}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
CLIENT_ID=smoke-client
BFF="http://127.0.0.1:$BFF_PORT"
CONTAINER="looker-bff-smoke-$$"
WORK="$(mktemp -d)"
EMU_PID=""

# podman's defaults trip over this machine's ulimits and cgroups: override both.
printf '[containers]\ndefault_ulimits = []\n' > "$WORK/containers.conf"
export CONTAINERS_CONF="$WORK/containers.conf"
P=(podman --runtime /usr/sbin/runc --cgroup-manager=cgroupfs)

declare -a TIMINGS=()
step_started=0
step() { step_name="$1"; step_started=$(date +%s%N); printf '\n== %s\n' "$1"; }
step_done() {
    local ms=$((($(date +%s%N) - step_started) / 1000000))
    TIMINGS+=("$(printf '%-28s %4d.%ds' "$step_name" $((ms / 1000)) $((ms % 1000 / 100)))")
}
fail() { printf 'SMOKE TEST FAILED: %s\n' "$*" >&2; exit 1; }

cleanup() {
    local rc=$?
    set +e
    if [[ $rc -ne 0 ]] && "${P[@]}" container exists "$CONTAINER" 2>/dev/null; then
        echo "--- service logs"; "${P[@]}" logs --tail 50 "$CONTAINER" 2>&1 || true
    fi
    if [[ $rc -ne 0 && -f "$WORK/emulator.log" ]]; then
        echo "--- emulator logs"; tail -n 30 "$WORK/emulator.log" || true
    fi
    "${P[@]}" rm -f -t 2 "$CONTAINER" >/dev/null 2>&1 || true
    if [[ -n "$EMU_PID" ]]; then kill "$EMU_PID" 2>/dev/null; wait "$EMU_PID" 2>/dev/null; fi
    "${PG[@]}" -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
    if [[ "${KEEP_IMAGE:-1}" == 0 ]]; then "${P[@]}" rmi -f "$IMAGE" >/dev/null 2>&1; fi
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT

wait_for() {  # wait_for URL STATUS SECONDS
    local deadline=$((SECONDS + $3)) code
    while ((SECONDS < deadline)); do
        code=$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)
        [[ "$code" == "$2" ]] && return 0
        sleep 0.5
    done
    fail "$1 did not answer $2 within $3 s (last: ${code:-none})"
}

wait_for_port() {  # wait_for_port PORT SECONDS
    local deadline=$((SECONDS + $2))
    until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
        ((SECONDS < deadline)) || fail "nothing listens on 127.0.0.1:$1 after $2 s"
        kill -0 "$EMU_PID" 2>/dev/null || fail "the emulator exited"
        sleep 0.3
    done
}

for tool in podman psql curl; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (apt-get install podman runc debootstrap postgresql-client curl)"
done
[[ -x "$VENV/bin/looker-emulator" ]] || fail "no emulator at $VENV/bin/looker-emulator (pip install -e '.[dev]')"
started_all=$(date +%s)

# -- 1. a base image with python3, made from Debian's packages (no registry needed) -----------
step "base image"
if "${P[@]}" image exists "$BASE_IMAGE"; then
    echo "cached: $BASE_IMAGE"
else
    command -v debootstrap >/dev/null || fail "debootstrap is not installed"
    mirror="$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$WORK/rootfs" "${mirror:-http://deb.debian.org/debian}" > "$WORK/debootstrap.log" \
        || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap"; }
    rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
    tar -C "$WORK/rootfs" -c . | "${P[@]}" import - "$BASE_IMAGE" >/dev/null
    rm -rf "$WORK/rootfs"
fi
step_done

# -- 2. the image ------------------------------------------------------------------------------
step "image build"
# --format docker keeps HEALTHCHECK (OCI images drop it). The CA bundle is a build secret:
# mounted for pip only, in no layer.
"${P[@]}" build --format docker --network=host --build-arg "BASE=$BASE_IMAGE" \
    --secret "id=pip_cert,src=$CA_BUNDLE" -t "$IMAGE" -f "$ROOT/Dockerfile" "$ROOT"
step_done
size=$("${P[@]}" image inspect --format '{{.Size}}' "$IMAGE")
echo "image size: $((size / 1024 / 1024)) MiB"

step "image contents"
# One-shot containers skip the HEALTHCHECK (podman would try to schedule it with systemd).
"${P[@]}" run --rm --network=host --no-healthcheck "$IMAGE" sh -c '
    set -e
    [ "$(id -u)" != 0 ] || { echo "runs as root"; exit 1; }
    if python -c "import looker_emulator" 2>/dev/null; then echo "emulator package present"; exit 1; fi
    if command -v looker-emulator; then echo "emulator script present"; exit 1; fi
    for cc in gcc cc g++ clang make; do
        if command -v "$cc" >/dev/null; then echo "compiler present: $cc"; exit 1; fi
    done
    if [ -e /run/secrets/pip_cert ] || [ -e /src ]; then echo "build leftovers"; exit 1; fi
    echo "uid $(id -u), no emulator, no compiler"'
"${P[@]}" image inspect --format '{{.Config.Healthcheck.Test}}' "$IMAGE" | grep -q healthz \
    || fail "image has no HEALTHCHECK on /healthz"
rc=0
"${P[@]}" run --rm --network=host --no-healthcheck -e ENVIRONMENT=production "$IMAGE" \
    > "$WORK/prod.log" 2>&1 || rc=$?
cat "$WORK/prod.log"
[[ $rc == 2 ]] || fail "production without secrets exited $rc, expected 2"
grep -q Traceback "$WORK/prod.log" && fail "production refusal printed a traceback"
step_done

# -- 3. a fresh database, the emulator, migrations ---------------------------------------------
step "database + migrate"
"${PG[@]}" -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)"
"${PG[@]}" -c "CREATE DATABASE $DB_NAME"
session_secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
fernet_key=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n')
# The secrets reach the container as an env file, as they would from a secret store.
cat > "$WORK/bff.env" <<EOF
ENVIRONMENT=development
DATABASE_URL=postgresql://postgres@127.0.0.1:5432/$DB_NAME
SESSION_SECRET=$session_secret
TOKEN_ENCRYPTION_KEYS=$fernet_key
PUBLIC_URL=$BFF
LOOKER_BASE_URL=http://127.0.0.1:$EMU_WEB_PORT
LOOKER_API_URL=http://127.0.0.1:$EMU_API_PORT
LOOKER_CLIENT_ID=$CLIENT_ID
PORT=$BFF_PORT
EOF
"${P[@]}" run --rm --network=host --no-healthcheck --env-file "$WORK/bff.env" "$IMAGE" \
    looker-bff migrate
step_done

step "emulator"
"$VENV/bin/looker-emulator" --host 127.0.0.1 --port "$EMU_WEB_PORT" --api-port "$EMU_API_PORT" \
    --client "$CLIENT_ID=$BFF/auth/callback" --auto-login ada@example.com --auto-approve \
    > "$WORK/emulator.log" 2>&1 &
EMU_PID=$!
wait_for_port "$EMU_WEB_PORT" 30
wait_for_port "$EMU_API_PORT" 30
step_done

# -- 4. the service ----------------------------------------------------------------------------
step "service start -> /readyz"
# The image's CMD listens on 0.0.0.0:8000; with --network=host that port may be taken on this
# machine, so the smoke test picks its own (PORT in the env file keeps HEALTHCHECK in step).
# No health timer (podman schedules it with systemd, absent here): it is run by hand below.
"${P[@]}" run -d --name "$CONTAINER" --network=host --health-interval=disable \
    --env-file "$WORK/bff.env" "$IMAGE" \
    looker-bff serve --host 127.0.0.1 --port "$BFF_PORT" >/dev/null 2>"$WORK/run.err" \
    || { cat "$WORK/run.err"; fail "podman run"; }
wait_for "$BFF/healthz" 200 60
wait_for "$BFF/readyz" 200 30
"${P[@]}" healthcheck run "$CONTAINER" || fail "the image's HEALTHCHECK failed"
step_done

step "login through the emulator"
jar="$WORK/cookies.txt"
final=$(curl -sS -L --max-redirs 10 -c "$jar" -b "$jar" -o "$WORK/after-login.html" \
    -w '%{url_effective}' "$BFF/auth/login?return_to=/healthz")
echo "landed on $final"
[[ "$final" == "$BFF/healthz" ]] || fail "login ended at $final"
curl -sS -f -b "$jar" "$BFF/auth/session" | tee "$WORK/session.json"; echo
grep -q '"email": *"ada@example.com"' "$WORK/session.json" || fail "/auth/session has no user"
curl -sS -f -b "$jar" -H 'X-CSRF: 1' "$BFF/api/me" | grep -q '"display_name"' \
    || fail "/api/me did not return the Looker user"
code=$(curl -sS -o /dev/null -w '%{http_code}' -b "$jar" -c "$jar" -X POST -H 'X-CSRF: 1' \
    "$BFF/auth/logout")
[[ "$code" == 204 ]] || fail "logout answered $code"
code=$(curl -sS -o /dev/null -w '%{http_code}' -b "$jar" "$BFF/auth/session")
[[ "$code" == 401 ]] || fail "/auth/session after logout answered $code"
step_done

printf '\n== timings\n'
printf '%s\n' "${TIMINGS[@]}"
printf '%-28s %6ss\n' "total" "$(($(date +%s) - started_all))"
printf 'image %s: %s MiB\n' "$IMAGE" "$((size / 1024 / 1024))"
echo "SMOKE TEST PASSED"
