# syntax=docker/dockerfile:1
#
# looker-bff production image.
#
#   docker build -t looker-bff .                      # the service (default target: runtime)
#   docker build -t looker-emulator --target emulator .  # the Looker stand-in, for demos only
#
# BASE is any Debian-like image. python:3.12-slim is the default; a bare Debian base works too
# (the first stage installs python3 and venv when they are missing), which is how the podman
# smoke test (deploy/smoke-test.sh) builds it on a machine that cannot pull from a registry.
#
# Behind a TLS-intercepting proxy, hand pip your CA bundle as a build secret; it is mounted
# only for the RUN steps that call pip and never lands in a layer:
#   docker build --secret id=pip_cert,src=/etc/ssl/certs/ca-certificates.crt .
ARG BASE=python:3.12-slim

# ---------------------------------------------------------------------------------------------
FROM ${BASE} AS python
# python:*-slim already has python3 with venv and ensurepip; a bare Debian has neither.
# ca-certificates stays in the final image: the service talks to Looker over https.
RUN if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then \
        apt-get update \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            python3 python3-venv ca-certificates \
        && rm -rf /var/lib/apt/lists/*; \
    fi

# ---------------------------------------------------------------------------------------------
FROM python AS builder
# Bytecode is compiled here, at install time: the runtime user cannot write to the venv.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# `python3` exists on every base we support; the venv then provides `python` and `pip`.
RUN python3 -m venv /opt/venv
WORKDIR /src

# Dependencies first, in their own layer, so a source change does not reinstall them.
COPY pyproject.toml ./
RUN --mount=type=secret,id=pip_cert,required=false \
    --mount=type=cache,target=/root/.cache/pip \
    set -eu; \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    /opt/venv/bin/python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"]))' > /tmp/requirements.txt; \
    /opt/venv/bin/pip install -r /tmp/requirements.txt

# Then the project itself, as a wheel (migrations travel inside it as service/_migrations).
COPY README.md ./
COPY migrations/ migrations/
COPY looker_emulator/ looker_emulator/
COPY service/ service/
RUN --mount=type=secret,id=pip_cert,required=false \
    --mount=type=cache,target=/root/.cache/pip \
    set -eu; \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    /opt/venv/bin/pip wheel --no-deps --wheel-dir /dist . ; \
    /opt/venv/bin/pip install --no-deps /dist/*.whl

# ---------------------------------------------------------------------------------------------
# The venv for the emulator image: the same wheel plus the `emulator` extra.
FROM builder AS emulator-venv
RUN --mount=type=secret,id=pip_cert,required=false \
    --mount=type=cache,target=/root/.cache/pip \
    set -eu; \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    /opt/venv/bin/pip install "$(ls /dist/*.whl)[emulator]"

# The venv for production: the emulator package and its console script removed, and pip and
# setuptools too (nothing installs at run time).
FROM builder AS runtime-venv
RUN set -eu; \
    site="$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"; \
    rm -rf "$site/looker_emulator" /opt/venv/bin/looker-emulator; \
    sed -i '/^looker-emulator *=/d' "$site"/looker_bff-*.dist-info/entry_points.txt; \
    sed -i '/^looker_emulator\//d; /looker-emulator,/d' "$site"/looker_bff-*.dist-info/RECORD; \
    /opt/venv/bin/python -m pip uninstall -y -q setuptools pip; \
    cd / && ! /opt/venv/bin/python -c 'import looker_emulator' 2>/dev/null

# ---------------------------------------------------------------------------------------------
# Looker emulator: a stand-in for Looker in `docker compose --profile demo up`. Never deploy it.
FROM python AS emulator
RUN useradd --system --user-group --uid 10002 --no-create-home --shell /usr/sbin/nologin emulator
COPY --from=emulator-venv /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
USER 10002:10002
EXPOSE 9999 19999
CMD ["looker-emulator", "--host", "0.0.0.0", "--port", "9999", "--api-port", "19999"]

# ---------------------------------------------------------------------------------------------
# The service. Last stage, so it is what a plain `docker build .` produces.
FROM python AS runtime
LABEL org.opencontainers.image.title="looker-bff" \
      org.opencontainers.image.description="Backend-for-frontend between a SPA and Looker"
# A fixed numeric uid so Kubernetes' runAsNonRoot can verify it. DATA_DIR is the user's home;
# production keeps nothing there (DATABASE_URL and secrets come from the environment).
RUN useradd --system --user-group --uid 10001 --home-dir /var/lib/looker-bff --create-home \
        --shell /usr/sbin/nologin looker-bff
COPY --from=runtime-venv /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATA_DIR=/var/lib/looker-bff
WORKDIR /var/lib/looker-bff
USER 10001:10001
EXPOSE 8000
# No curl in a slim image: the venv's python asks /healthz (which never touches the database).
# It follows PORT, so a command that moves the port (`--port $PORT`) keeps it working.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/opt/venv/bin/python", "-c", "import os, sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4).status != 200)"]
CMD ["looker-bff", "serve", "--host", "0.0.0.0", "--port", "8000"]
