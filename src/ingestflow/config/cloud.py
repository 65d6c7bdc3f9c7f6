"""The cloud locations of the configuration: `s3://` landing and output URLs, the
`dynamodb://` ledger URL, the SQS notification queue and the Step Functions engine's ARN.

Only shapes are checked here (nothing is contacted at load time): endpoints, regions and
credentials come from the standard AWS configuration when an adapter is built, so the same
file works against AWS and a moto server. Every problem is one ConfigError naming the key.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ingestflow.domain.errors import ConfigError

# S3's bucket-naming rules (general purpose buckets): 3-63 characters, lower-case letters,
# digits, dots and hyphens, starting and ending with a letter or a digit.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# DynamoDB table names are [a-zA-Z0-9_.-]{3,255}; the prefix is joined to "-<name>" (at most
# ~12 more characters), so it may use at most 200 of them.
_TABLE_PREFIX = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_STATE_MACHINE_ARN = re.compile(r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[\w-]+$")
_QUEUE_URL = re.compile(r"^https?://[^\s/?#]+/\d{12}/[\w-]{1,80}(\.fifo)?$")
S3_KEY_MAX = 1024


def s3_url(value: Any, key: str) -> str:
    """`s3://bucket/prefix` normalised: the prefix is '' or ends with '/' (so "s3://b/in"
    never takes "inbox/..."). ConfigError for another scheme, a missing or invalid bucket, a
    query string or fragment (S3 URLs carry neither: it would silently become key text)."""
    hint = "expected s3://bucket/prefix"
    if not isinstance(value, str) or not value:
        raise ConfigError(key, f"must be a non-empty URL ({hint})")
    if "://" not in value:
        raise ConfigError(key, f"{value!r} is not a URL ({hint}); a local folder is `path`")
    scheme = value.split("://", 1)[0]
    if scheme != "s3":
        raise ConfigError(key, f"unsupported scheme {scheme!r} ({hint})")
    if "?" in value or "#" in value:
        raise ConfigError(key, f"an S3 URL takes no query string or fragment ({hint})")
    bucket, _, prefix = value[len("s3://") :].partition("/")
    if not bucket:
        raise ConfigError(key, f"names no bucket ({hint})")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise ConfigError(key, f"{bucket!r} is not a valid S3 bucket name")
    if prefix.startswith("/") or "//" in prefix:
        raise ConfigError(key, "the prefix must not hold empty segments ('//')")
    if any(part in (".", "..") for part in prefix.split("/")):
        raise ConfigError(key, "the prefix must not hold '.' or '..' segments")
    if len(prefix.encode("utf-8")) >= S3_KEY_MAX - 1:
        raise ConfigError(key, "the prefix leaves no room for keys (S3 keys are 1,024 bytes)")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return f"s3://{bucket}/{prefix}"


def s3_parts(url: str) -> tuple[str, str]:
    """(bucket, prefix) of a URL `s3_url` returned."""
    bucket, _, prefix = url[len("s3://") :].partition("/")
    return bucket, prefix


def check_dynamodb_url(url: str) -> None:
    """`dynamodb://TABLE_PREFIX` or `dynamodb://TABLE_PREFIX?region=REGION`: the tables are
    `<prefix>-<name>`; no endpoint here (AWS_ENDPOINT_URL / profiles choose it)."""
    parts = urlsplit(url)
    hint = "expected dynamodb://TABLE_PREFIX?region=REGION"
    prefix = parts.netloc
    if not prefix or parts.path not in ("", "/") or parts.fragment:
        raise ConfigError("ledger.url", f"must name a table prefix ({hint})")
    if not _TABLE_PREFIX.match(prefix):
        raise ConfigError(
            "ledger.url",
            f"table prefix {prefix!r}: use 1-200 letters, digits, '_', '.' or '-' ({hint})",
        )
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ConfigError("ledger.url", f"cannot read the query string ({hint})") from None
    unknown = sorted(set(query) - {"region"})
    if unknown:
        raise ConfigError("ledger.url", f"unknown parameter {unknown[0]!r} ({hint})")
    regions = query.get("region", [])
    if len(regions) > 1 or (regions and not _REGION.match(regions[0])):
        raise ConfigError("ledger.url", "region must be one AWS region such as us-east-1")


def queue_url(value: Any) -> str:
    """`[landing] queue_url`: the SQS queue S3 sends the landing bucket's notifications to."""
    if not isinstance(value, str) or not _QUEUE_URL.match(value):
        raise ConfigError(
            "landing.queue_url",
            "must be an SQS queue URL such as https://sqs.us-east-1.amazonaws.com/123456789012/q",
        )
    return value


def state_machine_arn(value: Any) -> str:
    """`[engine] state_machine_arn` of the stepfunctions engine (the batch state machine)."""
    if not isinstance(value, str) or not _STATE_MACHINE_ARN.match(value):
        raise ConfigError(
            "engine.state_machine_arn",
            "must be a state machine ARN: arn:aws:states:REGION:ACCOUNT:stateMachine:NAME",
        )
    return value


def overlapping(landing: str, output: str) -> bool:
    """Whether one S3 location holds the other (outputs would be ingested again)."""
    (lb, lp), (ob, op) = s3_parts(landing), s3_parts(output)
    return lb == ob and (lp.startswith(op) or op.startswith(lp))
