# staging: prod's shape at a smaller size.
functions = {
  register        = { timeout = 60, memory_size = 512, reserved_concurrency = 5 }
  schedule        = { timeout = 55, memory_size = 512, reserved_concurrency = 1 }
  finish          = { timeout = 240, memory_size = 512, reserved_concurrency = 5 }
  alerts          = { timeout = 120, memory_size = 512, reserved_concurrency = 1 }
  forward_metrics = { timeout = 120, memory_size = 512, reserved_concurrency = 2 }
}
sqs_maximum_concurrency     = 5
log_retention_days          = 90
deletion_protection_enabled = true
alert_emails                = ["ingestflow-staging-alerts@example.com"]
alerts_schedule_expression  = "rate(5 minutes)"
glue_worker_type            = "G.1X"
glue_number_of_workers      = 2
glue_max_concurrent_runs    = 5
datadog_enabled             = true
