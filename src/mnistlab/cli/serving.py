"""`mnistlab serve`: the web page and REST API."""

from __future__ import annotations

import os
import sys


def cmd_serve(args) -> None:
    from mnistlab.api import bundled_path
    from mnistlab.errors import MnistlabError
    from mnistlab.runs import open_run
    from mnistlab.serving.app import serve

    if args.workers < 1:
        raise MnistlabError("--workers must be at least 1")
    serve(
        open_run(args.run or bundled_path()),
        host=args.host,
        port=args.port,
        tta=args.tta,
        engine=args.engine,
        workers=args.workers,
        token=_token(args),
        cors_origins=args.cors_origin,
        trusted_hosts=args.trusted_host,
        log_format=args.log_format,
    )


def _token(args) -> str | None:
    """The bearer token: --token-file, else --token, else $MNISTLAB_TOKEN; None for none."""
    from mnistlab.errors import MnistlabError

    if args.token_file and args.token:
        raise MnistlabError("give the token once: --token-file or --token, not both")
    if args.token_file:
        try:
            token = open(args.token_file, encoding="utf-8").read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise MnistlabError(f"{args.token_file} cannot be read as the token: {exc}") from None
        if not token:
            raise MnistlabError(f"{args.token_file} is empty: put the token in it")
        return token
    if args.token:
        print(
            "mnistlab: note: a token on the command line is visible to other users in `ps`; "
            "prefer --token-file FILE or $MNISTLAB_TOKEN",
            file=sys.stderr,
        )
        return args.token
    return os.environ.get("MNISTLAB_TOKEN") or None
