"""``python -m gptlib.store``: the model store from the command line.

    python -m gptlib.store publish gptlib/models/shakespeare-char --name series/shakespeare-char
    python -m gptlib.store list
    python -m gptlib.store search shakespeare --max-params 200000 --sort val_loss
    python -m gptlib.store serve --port 8000                  # in one terminal
    python -m gptlib.store --store /tmp/mine install series/shakespeare-char --remote http://127.0.0.1:8000
    python -m gptlib.store --store /tmp/mine verify

The store is the folder given by ``--store``, else ``$GPTLIB_STORE``, else ``~/.cache/gptlib/store``
(``$XDG_CACHE_HOME/gptlib/store`` when that is set). Exit codes: 0 done; 1 an integrity problem (a hash
that does not match, a damaged store); 2 bad usage or input the store refuses; 3 no such model; 4 a
remote that cannot be reached or stopped answering.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .card import CardError, facts_from_data
from .catalog import SORT_KEYS, ModelInfo, search, table
from .install import install
from .local import IntegrityError, LocalStore
from .names import ModelNotFoundError, StoreError
from .remote import StoreConnectionError, open_remote
from .server import StoreServer

__all__ = ["default_store_dir", "main"]

EXIT_OK, EXIT_INTEGRITY, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CONNECTION = 0, 1, 2, 3, 4


def default_store_dir() -> Path:
    """``$GPTLIB_STORE``, else ``$XDG_CACHE_HOME/gptlib/store``, else ``~/.cache/gptlib/store``."""
    if os.environ.get("GPTLIB_STORE"):
        return Path(os.environ["GPTLIB_STORE"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "gptlib" / "store"


def remote_models(source: str) -> list[ModelInfo]:
    """The catalogue of a remote store as :class:`ModelInfo` rows (a model whose card is unreadable has no facts)."""
    out = []
    for entry in open_remote(source).index():
        facts, error = None, None
        try:
            facts = facts_from_data(entry.get("card") or {})
        except (CardError, TypeError) as e:
            error = str(e)
        tags = tuple(t for t, r in (entry.get("tags") or {}).items() if r == entry.get("revision"))
        out.append(ModelInfo(str(entry.get("name")), str(entry.get("revision")), tags, int(entry.get("size", 0)),
                             facts, error))
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gptlib.store", description="A content-addressed model store.",
                                epilog="exit codes: 0 done, 1 integrity problem, 2 bad usage or refused input, "
                                       "3 no such model, 4 remote unreachable")
    p.add_argument("--store", type=Path, default=None, help="the store's folder (default: $GPTLIB_STORE or "
                                                             "~/.cache/gptlib/store)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ls = sub.add_parser("list", help="list the models of this store (or of --remote)")
    ls.add_argument("--remote", help="a store URL (http://...) or folder to list instead")
    se = sub.add_parser("search", help="search and filter by size, quality and speed")
    se.add_argument("query", nargs="?", default="", help="text to find in names, tags and intended use")
    se.add_argument("--max-params", type=float, help="at most this many parameters")
    se.add_argument("--max-loss", type=float, help="validation loss at most this")
    se.add_argument("--min-speed", type=float, help="at least this many tokens/s (as measured on its card)")
    se.add_argument("--sort", choices=SORT_KEYS, default="name")
    se.add_argument("--remote", help="search a remote store instead")
    info = sub.add_parser("info", help="one model: revision, tags, files and card facts")
    info.add_argument("name")
    info.add_argument("--revision", default="main")
    ins = sub.add_parser("install", help="install a model from a remote store, hashing every byte")
    ins.add_argument("name")
    ins.add_argument("--remote", help="a store URL (http://...) or folder to install from")
    ins.add_argument("--revision", default="main", help="a tag or a revision id (default: main)")
    ins.add_argument("--offline", action="store_true", help="make no request: answer from this store alone")
    ins.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the remote (default 30)")
    ins.add_argument("--no-progress", action="store_true", help="no progress bar")
    ve = sub.add_parser("verify", help="re-hash every blob; exit code 1 if anything is damaged")
    ve.add_argument("name", nargs="?")
    pu = sub.add_parser("publish", help="add a model folder (with a model card) as a new revision")
    pu.add_argument("folder", type=Path)
    pu.add_argument("--name", required=True, help="the model's name, 'owner/name'")
    pu.add_argument("--tag", default="main")
    sv = sub.add_parser("serve", help="serve this store over HTTP (also to Hugging Face's hub client)")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000)
    return p


def _run(args: argparse.Namespace) -> int:
    store_dir = args.store if args.store is not None else default_store_dir()
    store = LocalStore(store_dir)
    if args.command in ("list", "search"):
        models = remote_models(args.remote) if args.remote else store.models()
        if args.command == "search":
            models = search(models, args.query, max_parameters=args.max_params, max_val_loss=args.max_loss,
                            min_tokens_per_second=args.min_speed, sort=args.sort)
        print(table(models))
    elif args.command == "info":
        m = store.info(args.name, args.revision)
        print(table([m]))
        for entry in store.manifest(args.name, args.revision).files:
            print(f"  {entry.path}  {entry.size:,} bytes  sha256 {entry.sha256}")
        if m.facts:
            print(f"intended use: {m.facts.intended_use}\nlimitations: {m.facts.limitations}")
    elif args.command == "install":
        if not args.remote and not args.offline:
            raise StoreError("install needs --remote URL_OR_FOLDER (or --offline to use this store alone)")
        done = install(args.remote, args.name, args.revision, into=store, offline=args.offline,
                       progress=not args.no_progress, timeout=args.timeout)
        print(f"installed {done.info.name}@{done.info.revision[:12]} in {store.root}")
    elif args.command == "verify":
        problems = store.verify(args.name)
        for p in problems:
            print(p)
        print(f"{len(problems)} problem(s) in {store.root}")
        return EXIT_INTEGRITY if problems else EXIT_OK
    elif args.command == "publish":
        m = store.publish(args.folder, args.name, tag=args.tag)
        print(f"published {m.name}@{m.revision} ({m.size:,} bytes) in {store.root}")
    elif args.command == "serve":
        server = StoreServer(store, args.host, args.port, quiet=False)
        print(f"serving {store.root} at {server.url} (Ctrl-C stops)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (errors are printed, one line, to stderr)."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except IntegrityError as e:
        code, message = EXIT_INTEGRITY, str(e)
    except ModelNotFoundError as e:
        code, message = EXIT_NOT_FOUND, str(e)
    except StoreConnectionError as e:
        code, message = EXIT_CONNECTION, str(e)
    except (StoreError, ValueError, OSError) as e:
        code, message = EXIT_USAGE, str(e)
    print(f"error: {message}", file=sys.stderr)
    return code
