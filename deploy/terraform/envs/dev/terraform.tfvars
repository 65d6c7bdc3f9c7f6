# dev: small, cheap, disposable. Datadog objects are not managed here (datadog_enabled).
functions = {
  register        = { timeout = 60, memory_size = 512, reserved_concurrency = 2 }
  schedule        = { timeout = 55, memory_size = 512, reserved_concurrency = 1 }
  finish          = { timeout = 240, memory_size = 512, reserved_concurrency = 2 }
  alerts          = { timeout = 120, memory_size = 512, reserved_concurrency = 1 }
  forward_metrics = { timeout = 120, memory_size = 512, reserved_concurrency = 1 }
}
sqs_maximum_concurrency     = 2
log_retention_days          = 14
deletion_protection_enabled = false
force_destroy               = true
alert_emails                = []
alerts_schedule_expression  = "rate(15 minutes)"
glue_worker_type            = "G.1X"
glue_number_of_workers      = 2
glue_max_concurrent_runs    = 2
datadog_enabled             = false
