"""paramscope serve [ROOT…]: the local web page."""

from __future__ import annotations

import argparse

HELP = "the local web page: treemap of parameters, memory bars with sliders, tokens, statistics"
DESCRIPTION = """\
A local web page over the same analyses as the CLI, and a JSON API mirroring it (GET /api/inspect,
/api/size, /api/fit, /api/tokens, /api/stats take the command's options as query parameters and return
its --json; the schema is /openapi.json). Paths are served only inside the allowed roots: the ROOTs
given (the current directory when none is), the folders `paramscope ls` knows (Hugging Face cache,
Ollama, LM Studio) and the models `make demo` fetched (~/.cache/paramscope/models). Catalogue names
always work. Listens on 127.0.0.1 unless --host is given. Heavy requests run in worker processes with
a queue and a time limit (503 / 504 when busy or late); cross-site requests are refused. Needs the web
extra (pip install 'paramscope[web]').

examples:
  paramscope serve
  paramscope serve ~/models --port 9000
  paramscope serve ~/models --host 0.0.0.0   # reachable from the network"""

LOOPBACK = "127.0.0.1"


def port(text: str) -> int:
    """argparse type: a TCP port, 1-65535 (checked here: uvicorn would fail inside its event loop)."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"takes a port number from 1 to 65535 (found {text!r})")
    return int(text)


def configure(p: argparse.ArgumentParser) -> None:
    from paramscope.cli.options import existing_dir

    p.add_argument("roots", metavar="ROOT", nargs="*", type=existing_dir,
                   help="folders whose models may be opened (default: the current directory)")
    p.add_argument("--port", type=port, default=8765, help="port (default 8765)")
    p.add_argument("--host", default=LOOPBACK, help="address to listen on (default 127.0.0.1, this machine "
                                                    "only); anything else exposes your files' metadata")
    p.add_argument("--no-default-roots", dest="default_roots", action="store_false",
                   help="serve only the ROOTs given, not the current directory nor the `ls` folders")


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from paramscope.web.app import create_app
        from paramscope.web.limits import server_config
    except ImportError as e:
        from paramscope.errors import MissingExtraError

        raise MissingExtraError("serve", "web", e.name) from None
    from paramscope.web.security import LOOPBACK_HOSTS

    check_port_free(args.host, args.port)
    # On loopback the Host header must name loopback (DNS rebinding); a chosen --host is the user's call.
    hosts = LOOPBACK_HOSTS if args.host in LOOPBACK_HOSTS else ("*",)
    from pathlib import Path

    roots = args.roots or ([Path.cwd()] if args.default_roots else [])
    app = create_app(roots, defaults=args.default_roots, allowed_hosts=hosts)
    print(f"paramscope: http://{args.host}:{args.port}/  (roots: "
          f"{', '.join(str(r) for r in app.state.roots) or 'none; catalogue names only'})", flush=True)
    uvicorn.Server(server_config(app, args.host, args.port)).run()
    return 0


def check_port_free(host: str, number: int) -> None:
    """One line before anything starts when the address cannot be listened on (in use, not an address
    of this machine, a privileged port), instead of uvicorn's log and traceback."""
    import socket

    from paramscope.errors import UsageError

    try:
        infos = socket.getaddrinfo(host, number, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise UsageError(f"serve: --host {host!r} is not an address of this machine ({e.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind(address)
        except OSError as e:
            raise UsageError(f"serve: cannot listen on {host}:{number} ({e.strerror}; "
                             "another program may be using it: try --port)") from None
