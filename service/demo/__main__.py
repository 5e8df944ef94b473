"""`python -m service.demo --bff-url http://localhost:8000`: the demo page on its own origin.

The BFF must list this page's origin in `SPA_ORIGINS` (CORS, the Origin check and absolute
`return_to` targets). `docker compose --profile demo up` runs it this way.
"""

from __future__ import annotations

import argparse

import uvicorn

from service.demo import demo_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m service.demo", description=__doc__)
    parser.add_argument("--bff-url", required=True, help="the BFF's public origin")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    uvicorn.run(demo_app(args.bff_url), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
