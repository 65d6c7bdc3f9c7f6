"""The composition root's AWS half: the adapters `[landing] url`, `[output] url`,
`[landing] queue_url`, `[ledger] url = "dynamodb://..."` and `[engine] name =
"stepfunctions"` select. Every AWS adapter is imported here, lazily, so a local setup
never imports boto3; endpoints, regions and credentials come from the standard AWS
configuration inside each adapter (the same config works on AWS and on a moto server).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingestflow.config.settings import Settings
from ingestflow.domain.errors import IngestflowError, MissingExtraError
from ingestflow.ports import Engine, EventSource, QueryRows, StatusStore

if TYPE_CHECKING:
    from ingestflow.adapters.storage.s3 import S3ObjectStore


def dynamodb_store(settings: Settings, *, setup: bool = False) -> StatusStore:
    """The DynamoDB ledger; `setup` first creates its tables when missing (idempotent)."""
    try:
        # (Ignore only while the adapter is being written; harmless once it exists.)
        from ingestflow.adapters.state.dynamodb import (  # type: ignore[import-not-found,unused-ignore]
            DynamoDBStatusStore,
        )
    except ImportError as exc:
        raise IngestflowError(
            f"the DynamoDB ledger needs the aws extra: pip install 'ingestflow[aws]' ({exc})"
        ) from None
    dynamo = DynamoDBStatusStore(settings.ledger_url)
    store: StatusStore = dynamo
    if setup:
        try:
            dynamo.setup()
        except BaseException:
            store.close()
            raise
    return store


def s3_store(url: str) -> S3ObjectStore:
    from ingestflow.adapters.storage.s3 import S3ObjectStore

    return S3ObjectStore(url)


def s3_client() -> Any:
    """A boto3 S3 client from the standard AWS configuration (the batch manifests)."""
    try:
        import boto3
    except ImportError:
        raise MissingExtraError("aws", "the AWS pipeline") from None
    return boto3.session.Session().client("s3")


def s3_output_room(settings: Settings) -> int:
    """Bytes left for `<workflow>/<mapped key>` under the S3 output prefix."""
    from ingestflow.adapters.engines.staged import S3_KEY_MAX
    from ingestflow.config.cloud import s3_parts

    assert settings.output_url is not None
    return S3_KEY_MAX - len(s3_parts(settings.output_url)[1].encode("utf-8"))


def staged_engine(settings: Settings, make_inner: Callable[[Path, Path], Engine]) -> Engine:
    """A local engine on S3 locations: inputs downloaded, outputs uploaded, per batch."""
    from ingestflow.adapters.engines.staged import StagedEngine

    landing = s3_store(settings.landing_url) if settings.landing_url else settings.landing_path
    output = s3_store(settings.output_url) if settings.output_url else settings.output_path
    return StagedEngine(make_inner, landing, output)


def stepfunctions_engine(settings: Settings) -> Engine:
    """The batch state machine (Glue) as the engine: a self-hosted worker or the schedule
    Lambda starts one execution per batch."""
    try:
        from ingestflow.adapters.engines.stepfunctions import (  # type: ignore[import-not-found,unused-ignore]
            StepFunctionsEngine,
        )
    except ImportError as exc:
        raise IngestflowError(f"the stepfunctions engine is not available ({exc})") from None
    # The config refuses the stepfunctions engine without these (loader._stepfunctions).
    assert settings.state_machine_arn is not None and settings.manifest_url is not None
    assert settings.landing_url is not None and settings.output_url is not None
    engine: Engine = StepFunctionsEngine(
        settings.state_machine_arn,
        settings.manifest_url,
        landing_url=settings.landing_url,
        output_url=settings.output_url,
        compression=settings.output_compression,
    )
    return engine


def sqs_events(settings: Settings) -> EventSource:
    """The landing bucket's notification queue (the listing stays the safety net)."""
    from ingestflow.adapters.events.sqs import SQSEventSource
    from ingestflow.config.cloud import s3_parts

    assert settings.landing_queue_url is not None and settings.landing_url is not None
    bucket, prefix = s3_parts(settings.landing_url)
    return SQSEventSource(settings.landing_queue_url, bucket, prefix)


def s3_query(settings: Settings, sql: str) -> AbstractContextManager[QueryRows]:
    from ingestflow.adapters.engines.duckdb_query_s3 import open_query

    assert settings.output_url is not None
    return open_query(settings.output_url, [w.name for w in settings.workflows], sql)
