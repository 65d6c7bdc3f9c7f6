"""The Spark session an engine runs on: created on first use, with the settings every engine
output depends on (UTC, microsecond wall-clock timestamps, java.time parsing).

pyspark is an optional extra: importing this module never imports it; `start_session` gives a
one-line "install ingestflow[spark]" error when it is missing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ingestflow.domain.errors import IngestflowError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class SparkUnavailableError(IngestflowError):
    """pyspark (or the Java it needs) is not available. One line."""


# Settings the outputs depend on: set on every session the engine uses, even a shared one.
SQL_SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.caseSensitive": "false",
    "spark.sql.files.ignoreCorruptFiles": "false",
    "spark.sql.files.ignoreMissingFiles": "false",
}
# Start-up settings for a session the engine creates itself (the caller's `conf` wins).
START_SETTINGS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
}
LOOPBACK = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}


def start_session(
    master: str, conf: Mapping[str, str], compression: str, app_name: str = "ingestflow"
) -> tuple[SparkSession, bool]:
    """The active session (reused, not owned) or a new one (owned: the engine stops it).
    Returns (session, owned)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailableError(
            "the spark engine needs pyspark: install ingestflow[spark]"
        ) from None
    session = SparkSession.getActiveSession()
    owned = session is None
    if session is None:
        local = master.startswith("local")
        if local:
            # Without it Spark advertises the first non-loopback interface's address.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = SparkSession.builder.master(master).appName(app_name)
        settings = {**START_SETTINGS, **(LOOPBACK if local else {}), **SQL_SETTINGS, **conf}
        for key, value in settings.items():
            builder = builder.config(key, value)
        try:
            session = builder.getOrCreate()
        except Exception as exc:  # the JVM did not start (no Java, no port, ...)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise SparkUnavailableError(f"cannot start Spark ({master}): {first}") from None
        # A bad file is reported as its outcome; its task failure need not fill stderr too.
        session.sparkContext.setLogLevel("FATAL")
    for key, value in {**SQL_SETTINGS, **conf}.items():
        if key.startswith("spark.sql."):
            session.conf.set(key, value)
    session.conf.set("spark.sql.parquet.compression.codec", spark_codec(compression))
    return session, owned


def spark_codec(compression: str) -> str:
    return "uncompressed" if compression in ("none", "uncompressed") else compression
