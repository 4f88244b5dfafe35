"""paramscope serve [ROOT…]: the local web page."""

from __future__ import annotations

import argparse

HELP = "the local web page: treemap of parameters, memory bars with sliders, tokens, statistics"
DESCRIPTION = """\
A local web page over the same analyses as the CLI, and a JSON API mirroring it (GET /api/inspect,
/api/size, /api/fit, /api/tokens, /api/stats take the command's options as query parameters and return
its --json; the schema is at /docs). Paths are served only inside the allowed roots: the folders
`paramscope ls` knows (Hugging Face cache, Ollama, LM Studio) and the ROOTs given. Catalogue names
always work. Listens on 127.0.0.1 unless --host is given. Needs the web extra
(pip install 'paramscope[web]').

examples:
  paramscope serve
  paramscope serve ~/models --port 9000
  paramscope serve ~/models --host 0.0.0.0   # reachable from the network: think first"""

LOOPBACK = "127.0.0.1"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("roots", metavar="ROOT", nargs="*", help="more folders whose models may be opened")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--host", default=LOOPBACK, help="address to listen on (default 127.0.0.1, this machine "
                                                    "only); anything else exposes your files' metadata")
    p.add_argument("--no-default-roots", dest="default_roots", action="store_false",
                   help="serve only the ROOTs given, not the `ls` folders")


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from paramscope.web.app import create_app
    except ImportError as e:
        from paramscope.errors import UnsupportedError

        raise UnsupportedError(f"serve needs the web extra: pip install 'paramscope[web]' ({e.name} "
                               "is missing)") from None
    from paramscope.web.security import LOOPBACK_HOSTS

    # On loopback the Host header must name loopback (DNS rebinding); a chosen --host is the user's call.
    hosts = LOOPBACK_HOSTS if args.host in LOOPBACK_HOSTS else ("*",)
    app = create_app(args.roots, defaults=args.default_roots, allowed_hosts=hosts)
    print(f"paramscope: http://{args.host}:{args.port}/  (roots: "
          f"{', '.join(str(r) for r in app.state.roots) or 'none; catalogue names only'})", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
