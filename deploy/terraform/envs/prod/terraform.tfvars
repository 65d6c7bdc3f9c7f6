# prod: deletion protection on, logs kept at least a year (CKV_AWS_338; tested).
functions = {
  register        = { timeout = 60, memory_size = 1024, reserved_concurrency = 20 }
  schedule        = { timeout = 55, memory_size = 1024, reserved_concurrency = 1 }
  finish          = { timeout = 240, memory_size = 1024, reserved_concurrency = 20 }
  alerts          = { timeout = 120, memory_size = 512, reserved_concurrency = 1 }
  forward_metrics = { timeout = 120, memory_size = 512, reserved_concurrency = 2 }
}
sqs_maximum_concurrency     = 10
log_retention_days          = 400
deletion_protection_enabled = true
alert_emails                = ["ingestflow-alerts@example.com"]
alerts_schedule_expression  = "rate(5 minutes)"
glue_worker_type            = "G.2X"
glue_number_of_workers      = 2
glue_max_concurrent_runs    = 10
datadog_enabled             = true
