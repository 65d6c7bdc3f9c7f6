"""The Lambda functions of ingestflow on AWS, one module each, `<module>.handler`:

- `register`: the landing bucket's S3 notifications (SQS batches) -> the ledger.
- `schedule`: every minute (EventBridge): reap expired leases, claim every ready batch and
  start its execution of the batch state machine.
- `finish`: the state machine's last task (and the EventBridge execution-status backstop):
  per-file outcomes -> DONE / FAILED, no file left PROCESSING.
- `alerts`: on its schedule: the alert rules, their notifications and the daily report.
- `forward_metrics`: the files table's stream: metrics to the configured sinks (Datadog).

Each handler is thin: it parses its event and calls a service through the runtime that
`ingestflow.bootstrap_lambda` builds once per execution environment.
"""
