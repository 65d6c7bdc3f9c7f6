"""Settings: the typed, frozen result of reading the configuration once at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ingestflow.config.alerts import AlertsSettings
from ingestflow.config.metrics import MetricsSettings, ServerSettings
from ingestflow.config.secrets import SecretRef
from ingestflow.domain.transform import TransformSpec
from ingestflow.domain.workflow import Workflow


@dataclass(frozen=True)
class Settings:
    config_path: Path | None
    env: str | None
    landing_path: Path
    landing_bucket: str
    settle: float
    watch: bool
    output_path: Path
    output_compression: str
    ledger_url: str
    ledger_path: Path
    schedule_interval: float
    engine: str
    engine_threads: int | None
    engine_memory_limit: str | None
    workflows: tuple[Workflow, ...]
    # "sqlite" (ledger_path is the file) or "postgresql" (ledger_url names the database, its
    # password comes from PGPASSWORD, ~/.pgpass or the variable named by ledger_password_env).
    # The spark engine's master (local[N] or a cluster URL) and session settings.
    engine_master: str = "local[2]"
    engine_conf: dict[str, str] = field(default_factory=dict)
    ledger_kind: str = "sqlite"
    ledger_password_env: str | None = None
    # Where the password lives when set: password_env, password_ssm or password_secret.
    ledger_password: SecretRef | None = None
    ledger_pool_size: int = 4
    transforms: dict[str, TransformSpec] = field(default_factory=dict)
    # Symlinks in the landing folder are ignored (listed as unrouted) unless this is true; even
    # then only links whose target resolves inside the landing folder are followed.
    follow_symlinks: bool = False
    # With file-system events on, the full reconciliation listing runs this often (not every
    # tick); without events it runs every `schedule_interval`.
    reconcile_interval: float = 60.0
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    server: ServerSettings | None = None
    alerts: AlertsSettings = field(default_factory=AlertsSettings)
    # Cloud locations (None: the local folder/engine above). `landing_url`/`output_url` are
    # normalised `s3://bucket/prefix/` URLs (landing_bucket is then the S3 bucket);
    # `landing_queue_url` is the SQS queue receiving the landing bucket's notifications.
    landing_url: str | None = None
    output_url: str | None = None
    landing_queue_url: str | None = None
    # The stepfunctions engine: the batch state machine and where batch manifests go.
    state_machine_arn: str | None = None
    manifest_url: str | None = None
    # Problems that do not stop ingestflow (an INGESTFLOW_* variable that is not a setting):
    # the entrypoint shows them once per process (`ingestflow.config.report_warnings`).
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def output_location(self) -> str:
        """Where outputs go, as shown to people: the S3 URL or the local folder."""
        return self.output_url or str(self.output_path)

    def workflow(self, name: str) -> Workflow | None:
        return next((w for w in self.workflows if w.name == name), None)

    def spec_for(self, workflow: Workflow) -> TransformSpec:
        return self.transforms[workflow.transform].with_options(workflow.options)
