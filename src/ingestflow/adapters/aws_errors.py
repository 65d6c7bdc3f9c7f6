"""What went wrong in a botocore/boto3 call, for the AWS adapters' one-line errors. Each adapter
keeps its own table of the codes it names and its own wording; the parsing is here."""

from __future__ import annotations

NO_CREDENTIALS = "no AWS credentials found (a profile, AWS_ACCESS_KEY_ID or a role)"
_TRANSPORT = {
    "NoCredentialsError": NO_CREDENTIALS,
    "NoRegionError": "no AWS region configured (AWS_REGION or a profile's region)",
    "ConnectTimeoutError": "timed out",
    "ReadTimeoutError": "timed out",
}


def error_parts(exc: BaseException) -> tuple[str, str, int | None] | None:
    """(error code, AWS's message on one line, HTTP status) of an error AWS answered; None for
    an error raised before or without an answer."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    error = response.get("Error") or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = " ".join(str(error.get("Message") or "").split())
    return str(error.get("Code") or ""), message, status


def transport_problem(exc: BaseException) -> str | None:
    """The description of a client-side failure we name (credentials, region, time-outs)."""
    return _TRANSPORT.get(type(exc).__name__)
