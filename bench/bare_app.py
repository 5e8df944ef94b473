"""The floor: a bare FastAPI app returning the same bytes the proxy returns.

Served by uvicorn with the service's settings (uvloop, httptools, no access log), so the
difference to the service is what the BFF itself costs. Usage:
    python -m bench.bare_app --port P --me FILE --look FILE
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response


def build(me: bytes, look: bytes) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/api/me")
    async def get_me() -> Response:
        return Response(me, media_type="application/json")

    @app.get("/api/looks/{look_id}/run/json")
    async def run_look(look_id: str) -> Response:
        return Response(look, media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b"ok")

    return app


def main() -> None:
    import uvicorn

    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--me", required=True)
    p.add_argument("--look", required=True)
    args = p.parse_args()
    app = build(Path(args.me).read_bytes(), Path(args.look).read_bytes())
    uvicorn.run(app, host=args.host, port=args.port, loop="uvloop", http="httptools",
                log_config=None, log_level="warning", access_log=False, server_header=False)


if __name__ == "__main__":
    main()
