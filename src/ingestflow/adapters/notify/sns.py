"""SNSNotifier: a digest as one Amazon SNS message (Publish) to a standard topic.

What subscribers get: `Subject` is the digest's subject line (as in the e-mail) made fit for
SNS: ASCII printable only (accents folded, other characters such as emoji become '?'), no line
break or control character, at most 100 characters (cut with "..."). `Message` is the plain-text
report, exactly as the e-mail's text part and `stdout` (render.text_report): values are data,
control characters shown as escapes, brackets and HTML left as the literal text they are. It
is cut to fit SNS's 256 KB (message and attributes together) on a line boundary, with a note
saying how much was left out. Message attributes, for subscription filter policies (String.Array,
so `{"rule": ["failed"]}` matches a digest holding any failed alert): `rule`, `workflow`,
`status` (firing, resolved) and `env` (String).

The topic's region is the ARN's; endpoint and credentials come from the standard AWS
configuration (`AWS_ENDPOINT_URL`, profiles, roles), retries from `AWS_RETRY_MODE` /
`AWS_MAX_ATTEMPTS`. boto3 is imported when the notifier is built (the `aws` extra). FIFO topics
are refused (they need group and deduplication ids; alerts have no order to keep).

Errors become NotifyError with one line naming the notifier, the topic and the reason (no such
topic, not authorized, KMS, throttled, unreachable, no credentials); like every NotifyError the
digest is kept and retried on later ticks, with the alerting service's backoff.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ingestflow.adapters.aws_errors import error_parts, transport_problem
from ingestflow.domain.alerts import Digest
from ingestflow.domain.errors import ConfigError, MissingExtraError, NotifyError

from .render import clean, subject, text_report

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef

TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,256})$")
SUBJECT_MAX = 100  # SNS: "less than 100 characters" in the docs, 100 accepted by the API
MESSAGE_MAX = 256 * 1024  # bytes: the message and its attributes together
ATTRIBUTE_MAX = 256  # characters of one attribute value we send (workflow names are short)
_MARGIN = 1024  # bytes kept free for the truncation note and the request's own rounding
_PROBLEMS = {
    "NotFound": "no such topic",
    "NotFoundException": "no such topic",
    "AuthorizationError": "not authorized to publish to this topic",
    "AccessDenied": "access denied",
    "403": "access denied",
    "InvalidClientTokenId": "the AWS credentials are not valid",
    "SignatureDoesNotMatch": "the AWS secret key does not match the access key id",
    "ExpiredToken": "the AWS credentials have expired",
    "KMSAccessDenied": "the topic's KMS key refused access",
    "KMSDisabled": "the topic's KMS key is disabled",
    "KMSNotFound": "the topic's KMS key does not exist",
    "Throttled": "throttled by SNS (retried later)",
    "Throttling": "throttled by SNS (retried later)",
    "ThrottlingException": "throttled by SNS (retried later)",
    "KMSThrottling": "throttled by KMS (retried later)",
    "InternalError": "SNS internal error (retried later)",
}


def sns_subject(digest: Digest) -> str:
    """The digest's subject as SNS accepts it: printable ASCII, one line, <= 100 characters."""
    folded = unicodedata.normalize("NFKD", subject(digest))
    ascii_only = "".join(
        c if " " <= c <= "~" else "?" for c in folded if not unicodedata.combining(c)
    )
    line = " ".join(ascii_only.split()) or "ingestflow alerts"
    return line if len(line) <= SUBJECT_MAX else line[: SUBJECT_MAX - 3].rstrip() + "..."


def truncate(text: str, limit: int) -> str:
    """`text` within `limit` UTF-8 bytes: cut on a line boundary (never inside a character),
    followed by a note of what was left out."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    keep = data[: max(0, limit - _MARGIN)].decode("utf-8", "ignore")
    keep = keep[: keep.rfind("\n") + 1] if "\n" in keep else keep
    shown = len(keep.encode("utf-8"))
    note = (
        f"\n... message truncated: {shown:,} of {len(data):,} bytes shown (SNS takes 256 KB);"
        " `ingestflow alerts` lists every alert and file.\n"
    )
    return keep + note


def _array(values: Iterable[str]) -> str | None:
    unique = list(dict.fromkeys(clean(v, ATTRIBUTE_MAX) for v in values if v))
    return json.dumps(unique, ensure_ascii=False) if unique else None


def attributes(digest: Digest) -> dict[str, MessageAttributeValueTypeDef]:
    """The message attributes of `digest` (empty ones left out: SNS refuses empty values)."""
    values = {
        "rule": ("String.Array", _array(m.rule for m in digest.messages)),
        "workflow": ("String.Array", _array(m.workflow for m in digest.messages)),
        "status": ("String.Array", _array(m.status for m in digest.messages)),
        "env": ("String", clean(digest.env, ATTRIBUTE_MAX) or None),
    }
    return {
        name: {"DataType": kind, "StringValue": value}
        for name, (kind, value) in values.items()
        if value is not None
    }


def _size(attrs: dict[str, MessageAttributeValueTypeDef]) -> int:
    return sum(
        len(name.encode()) + len(a["DataType"].encode()) + len(a.get("StringValue", "").encode())
        for name, a in attrs.items()
    )


class SNSNotifier:
    """Publishes each digest as one message to the SNS topic `topic_arn`. `client`: an SNS
    client to use (by default one is built from the standard AWS configuration)."""

    def __init__(self, name: str, topic_arn: str, client: SNSClient | None = None) -> None:
        match = TOPIC_ARN.match(topic_arn)
        if not match:
            raise ConfigError(
                f"alerts.notifiers.{name}.topic_arn",
                f"{clean(topic_arn)!r} is not an SNS topic ARN"
                " (arn:aws:sns:<region>:<account>:<topic>; FIFO topics are not supported)",
            )
        self.name, self.topic_arn = name, topic_arn
        self._where = f"sns {name}: {topic_arn}"
        try:
            import boto3
            from boto3.exceptions import Boto3Error
            from botocore.config import Config
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            raise MissingExtraError("aws", f"the sns notifier {name!r}") from None
        self._aws_errors: tuple[type[Exception], ...] = (BotoCoreError, ClientError, Boto3Error)
        config = Config(user_agent_extra="ingestflow", connect_timeout=10, read_timeout=30)
        self._client: SNSClient = client or boto3.session.Session().client(
            "sns", region_name=match.group(1), config=config
        )

    def __repr__(self) -> str:
        return f"SNSNotifier(name={self.name!r}, topic_arn={self.topic_arn!r})"

    def request(self, digest: Digest) -> dict[str, Any]:
        """The Publish parameters for `digest`, exactly as sent (for `alerts test` and tests)."""
        attrs = attributes(digest)
        message = truncate(text_report(digest), MESSAGE_MAX - _size(attrs))
        return {
            "TopicArn": self.topic_arn,
            "Subject": sns_subject(digest),
            "Message": message,
            "MessageAttributes": attrs,
        }

    def send(self, digest: Digest) -> None:
        try:
            self._client.publish(**self.request(digest))
        except self._aws_errors as exc:
            raise NotifyError(f"{self._where}: {_problem(exc)}") from None


def _problem(exc: BaseException) -> str:
    """One line for a botocore error: a known code's description, else the code and the
    start of AWS's message; connection errors and missing credentials by name."""
    parts = error_parts(exc)
    if parts is not None:
        code = parts[0]
        if code in _PROBLEMS:
            return f"{_PROBLEMS[code]} ({code})"
        message = clean(parts[1], 200)
        return f"{code}: {message}" if message else code or "request failed"
    known = transport_problem(exc)
    return known or clean(" ".join(str(exc).split()), 200) or type(exc).__name__
