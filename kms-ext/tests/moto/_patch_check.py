"""Runs one moto patch's boto3 check against an in-process moto server on 127.0.0.1."""

from __future__ import annotations

import logging
import socket
import sys


def run_check(apply, check) -> int:
    import boto3

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    import moto_server

    moto_server.patch_moto_kms()
    print(apply(), file=sys.stderr)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        kms = boto3.client(
            "kms",
            region_name="us-west-2",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        check(kms)
    finally:
        server.stop()
    print(f"{sys.argv[0].rsplit('/', 1)[-1]}: check passed", file=sys.stderr)
    return 0
