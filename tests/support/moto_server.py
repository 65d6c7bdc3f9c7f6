"""A moto server for tests: `moto.server.ThreadedMotoServer` on 127.0.0.1 at a free port (port 0,
read back once it listens), spoken to over HTTP like real AWS. Never moto's in-process
`mock_aws`: the adapters under test go through botocore's whole HTTP stack.

    server = MotoServer().start()
    s3 = server.client("s3")           # dummy credentials, us-east-1, this server
    server.reset()                     # POST /moto-api/reset: every resource gone
    server.enforce_iam()               # requests checked against IAM (AccessDenied tests)
    server.stop()

DynamoDB requests run one at a time. moto applies a request's conditions and writes without
isolation from a concurrent request (two TransactWriteItems conditioned on one item can both
succeed, and its transaction rollback copy fails on a table another request changes);
DynamoDB makes every single request atomic. Serial DynamoDB requests give the DynamoDB
ledger (its thread pool, several processes on one table) AWS's guarantee and nothing more: a
read and the conditional write after it are still two requests that others interleave with.
Other services stay concurrent (an SQS long poll must not hold up the rest).

`client`/`resource` never read the developer's AWS files or environment (explicit credentials
and region, config files pointed at /dev/null). Code under test that builds its own clients
from the standard AWS configuration gets this server through `environment()`, which the
`aws_env` fixture (tests/conftest.py) applies with monkeypatch: every `AWS_*` variable of the
developer is removed first, so a profile, a real key or an `AWS_ENDPOINT_URL_S3` cannot leak in.
"""

from __future__ import annotations

import logging
import os
import threading
import urllib.request
from typing import Any

REGION = "us-east-1"
ACCESS_KEY = "testing"
SECRET_KEY = "testing"  # moto accepts any; these are not secrets


def _server() -> Any:
    """A ThreadedMotoServer whose DynamoDB requests run one at a time (module docstring)."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class DynamoSerialMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            lock = threading.Lock()

            def serve(environ: Any, start_response: Any) -> Any:
                if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
                    return app(environ, start_response)
                with lock:
                    return list(app(environ, start_response))

            self._server = make_server(
                self._ip_address, self._port, serve, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return DynamoSerialMotoServer(ip_address="127.0.0.1", port=0, verbose=False)


class MotoServer:
    """One ThreadedMotoServer; `stop()` shuts it down."""

    def __init__(self) -> None:
        self._server = _server()
        self.port = 0
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        # One access-log line per request would bury a failing test's own log.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        self.port = int(self._server.get_host_and_port()[1])
        return self

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        """Delete every resource (buckets, tables, queues); moto's config is kept."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def enforce_iam(self, enabled: bool = True) -> None:
        """Make the server check every request against IAM from now on (unknown keys are
        refused, a user gets only what its policies allow), or stop checking. Create the IAM
        users a test needs before turning it on; `aws_env` turns it off after each test."""
        body = b"0" if enabled else b"inf"
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/reset-auth",
            data=body,
            method="POST",
            headers={"Content-Type": "text/plain"},  # moto reads the raw body, not a form
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def environment(self) -> dict[str, str]:
        """The standard AWS variables pointing boto3 at this server with dummy credentials
        (applied by the `aws_env` fixture; see the module docstring)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def session(self) -> Any:
        """A boto3 Session bound to this server's dummy credentials and region, reading no
        AWS config or credentials file."""
        import boto3
        import botocore.session

        # No profile, not even AWS_PROFILE's ((config name, env variable, default, converter)).
        core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
        core.set_config_variable("config_file", os.devnull)
        core.set_config_variable("credentials_file", os.devnull)
        return boto3.Session(
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            botocore_session=core,
        )

    def client(self, service: str) -> Any:
        """A boto3 client for `service` on this server (e.g. "s3", "sqs", "dynamodb"), made
        once per service (clients are thread-safe; making one costs a tenth of a second)."""
        with self._lock:
            if service not in self._clients:
                session = self.session()
                self._clients[service] = session.client(service, endpoint_url=self.endpoint_url)
            return self._clients[service]

    def resource(self, service: str) -> Any:
        """A boto3 resource for `service` on this server (e.g. "s3", "dynamodb")."""
        return self.session().resource(service, endpoint_url=self.endpoint_url)
