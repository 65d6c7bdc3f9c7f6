"""What `--size smoke|medium|full` means for every case."""

from __future__ import annotations

from dataclasses import dataclass

KB = 1000
MB = 1000 * KB  # decimal, like the "~250 MB" and "~2 GB"


@dataclass(frozen=True)
class SizeProfile:
    """Data volumes and repetition counts of one benchmark size."""

    name: str
    runs: int
    large_files: int
    large_file_bytes: int
    small_files: int
    small_file_bytes: int
    ledger_register: int  # files registered (and timed) into the ledger
    ledger_total_rows: int  # rows in the ledger once they are registered
    ledger_claims: int  # 1,000-file claims timed
    ledger_query_repeats: int  # backlog / stale queries timed
    latency_files: int  # files dropped one at a time into `ingestflow run`
    workers_batch_files: int  # workers case: batch_size = max_batch_files (the unit shared out)
    timeout_s: float  # per child process


SIZES: dict[str, SizeProfile] = {
    "smoke": SizeProfile(
        name="smoke",
        runs=1,
        large_files=2,
        large_file_bytes=2 * MB,
        small_files=12,
        small_file_bytes=50 * KB,
        ledger_register=5_000,
        ledger_total_rows=50_000,
        ledger_claims=3,
        ledger_query_repeats=5,
        latency_files=5,
        workers_batch_files=3,
        timeout_s=300,
    ),
    "medium": SizeProfile(
        name="medium",
        runs=3,
        large_files=4,
        large_file_bytes=32 * MB,
        small_files=200,
        small_file_bytes=50 * KB,
        ledger_register=20_000,
        ledger_total_rows=200_000,
        ledger_claims=10,
        ledger_query_repeats=20,
        latency_files=20,
        workers_batch_files=10,
        timeout_s=1800,
    ),
    "full": SizeProfile(
        name="full",
        runs=3,
        large_files=8,
        large_file_bytes=250 * MB,
        small_files=2_000,
        small_file_bytes=50 * KB,
        ledger_register=100_000,
        ledger_total_rows=1_000_000,
        ledger_claims=20,
        ledger_query_repeats=30,
        latency_files=50,
        workers_batch_files=50,
        timeout_s=4 * 3600,
    ),
}
