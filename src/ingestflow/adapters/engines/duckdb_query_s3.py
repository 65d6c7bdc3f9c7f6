"""`ingestflow query` over Parquet outputs in S3: one DuckDB view per workflow.

DuckDB reads s3:// through its httpfs extension, which it downloads on first use: not
possible offline, nor wanted on a locked-down worker. pyarrow ships its own S3 client, so
each workflow's outputs are listed with boto3 (`S3ObjectStore.list`: hidden folders such as
`.ingestflow-tmp/` skipped, keys never globbed) and handed to DuckDB as a pyarrow dataset
over an `S3FileSystem`. That filesystem is built from boto3's view of the standard AWS
configuration (endpoint from AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 / profiles, region,
credentials from the session's chain), so the same config queries AWS and a moto server.

Files of one workflow with different columns are unified by name (a missing column reads as
NULL), as the local query does; types that cannot be unified are a one-line error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb

from ingestflow.adapters.engines.duckdb_query import QueryResult, query_views
from ingestflow.adapters.storage.s3 import S3ObjectStore, problem
from ingestflow.domain.errors import IngestflowError, MissingExtraError, ObjectStoreError


def s3_filesystem() -> Any:
    """A pyarrow S3FileSystem on the endpoint, region and credentials boto3 resolves."""
    import boto3
    from pyarrow import fs

    session = boto3.session.Session()
    client = session.client("s3")
    endpoint = client.meta.endpoint_url
    credentials = session.get_credentials()
    keys: dict[str, Any] = {}
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        keys = {
            "access_key": frozen.access_key,
            "secret_key": frozen.secret_key,
            "session_token": frozen.token,
        }
    scheme, _, host = endpoint.partition("://")
    return fs.S3FileSystem(
        region=client.meta.region_name,
        endpoint_override=host,
        scheme=scheme or "https",
        **keys,
    )


def _dataset(filesystem: Any, paths: list[str], url: str) -> Any:
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    try:
        schemas = [pq.read_schema(path, filesystem=filesystem) for path in paths]
        schema = pa.unify_schemas(schemas, promote_options="permissive")
        return ds.dataset(paths, schema=schema, format="parquet", filesystem=filesystem)
    except (OSError, pa.ArrowException) as exc:
        raise IngestflowError(f"cannot read the outputs under {url}: {exc}") from None


def _outputs(output_url: str, workflow: str) -> tuple[str, list[str]]:
    """(the workflow's URL, its Parquet objects as `bucket/key` paths for pyarrow)."""
    store = S3ObjectStore(f"{output_url}{workflow}/")
    try:
        keys = [info.key for info in store.list() if info.key.endswith(".parquet")]
    except ObjectStoreError as exc:
        raise IngestflowError(f"cannot list the outputs: {exc}") from None
    return store.url, [f"{store.bucket}/{store.prefix}{key}" for key in sorted(keys)]


@contextmanager
def open_query(output_url: str, workflows: Sequence[str], sql: str) -> Iterator[QueryResult]:
    """Execute `sql` with a view per workflow over `<output_url><workflow>/**.parquet`. A
    workflow without outputs yet is not a table ("workflow 'x' has no outputs yet")."""
    try:
        filesystem = s3_filesystem()
    except ImportError:
        raise MissingExtraError("aws", "querying S3 outputs") from None
    except Exception as exc:  # boto3's configuration errors (no region, a bad profile, ...)
        raise IngestflowError(f"cannot reach S3: {problem(exc)[1]}") from None

    def add_view(con: duckdb.DuckDBPyConnection, name: str) -> bool:
        url, paths = _outputs(output_url, name)
        if paths:
            con.register(name, _dataset(filesystem, paths, url))
        return bool(paths)

    with query_views(workflows, sql, add_view) as result:
        yield result
