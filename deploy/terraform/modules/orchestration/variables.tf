variable "create" {
  description = "Whether to create the state machine, the Glue job and the EventBridge rules."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of the stack (e.g. ingestflow-dev): prefix of the Glue job, roles, rules and queues."
  type        = string
}

variable "state_machine_name" {
  description = "Name of the batch state machine (the functions build its ARN from it)."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the stack's customer-managed key (log groups, Glue security configuration, the events DLQ, the Glue script)."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the state machine's log group, in days."
  type        = number
  default     = 365
}

variable "finish_function_arn" {
  description = "ARN of the finish function: the state machine's Finish task and the backstop rule's target."
  type        = string
}

variable "schedule_function_arn" {
  description = "ARN of the schedule function (invoked every minute)."
  type        = string
}

variable "alerts_function_arn" {
  description = "ARN of the alerts function (invoked on alerts_schedule_expression)."
  type        = string
}

variable "schedule_expression" {
  description = "Schedule of the schedule function (EventBridge: rate(1 minute), or a 6-field cron(...))."
  type        = string
  default     = "rate(1 minute)"

  validation {
    # EventBridge accepts `rate(1 minute)` but not `rate(1 minutes)` or `rate(2 minute)`, and
    # only 6-field crons (minutes hours day-of-month month day-of-week year, one of the two
    # days `?`); a 5-field Unix cron is refused at apply time.
    condition     = can(regex("^(rate\\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\\)|cron\\(\\S+ \\S+ (\\? \\S+ \\S+|\\S+ \\S+ \\?) \\S+\\))$", var.schedule_expression))
    error_message = "schedule_expression must be an EventBridge rate(1 minute), rate(N minutes|hours|days) or 6-field cron(m h dom mon dow year) with one of the days ?."
  }
}

variable "alerts_schedule_expression" {
  description = "Schedule of the alerts function: how often the alert rules are evaluated. The daily report follows the packaged config's [alerts] report_cron: the first pass at or after each deadline sends it, so it comes at most one period late."
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = can(regex("^(rate\\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\\)|cron\\(\\S+ \\S+ (\\? \\S+ \\S+|\\S+ \\S+ \\?) \\S+\\))$", var.alerts_schedule_expression))
    error_message = "alerts_schedule_expression must be an EventBridge rate(1 minute), rate(N minutes|hours|days) or 6-field cron(m h dom mon dow year) with one of the days ?."
  }
}

variable "event_maximum_age_seconds" {
  description = "How long EventBridge retries delivering an event to a function before it goes to the events DLQ (60 to 86400)."
  type        = number
  default     = 3600
}

variable "event_maximum_retry_attempts" {
  description = "Delivery retries of an EventBridge event to a function before it goes to the events DLQ (0 to 185)."
  type        = number
  default     = 10
}

variable "landing_bucket_name" {
  description = "Name of the landing bucket (the Glue job reads the batch's files)."
  type        = string
}

variable "landing_prefix" {
  description = "Prefix of the landing files (ends with /)."
  type        = string
}

variable "output_bucket_name" {
  description = "Name of the output bucket (the Glue job writes the outputs and the results manifest)."
  type        = string
}

variable "output_prefix" {
  description = "Prefix of the outputs (ends with /); batch manifests are under <prefix>_ingestflow/batches/."
  type        = string
}

variable "artifacts_bucket_name" {
  description = "Name of the artifacts bucket: the Glue script is uploaded to glue/batch_job.py, CI uploads the ingestflow wheel."
  type        = string
}

variable "glue_script_path" {
  description = "Local path of the Glue script uploaded to the artifacts bucket (default: deploy/glue/batch_job.py of this repository)."
  type        = string
  default     = null
}

variable "ingestflow_wheel_path" {
  description = "Local path of the ingestflow wheel (CI builds it: TF_VAR_ingestflow_wheel). Terraform uploads it to s3://<artifacts>/wheels/<file name>, the Glue job's --additional-python-modules. Set this or glue_additional_python_modules."
  type        = string
  default     = null

  validation {
    condition     = var.ingestflow_wheel_path == null || endswith(coalesce(var.ingestflow_wheel_path, "-"), ".whl")
    error_message = "ingestflow_wheel_path must name a .whl file."
  }
}

variable "glue_additional_python_modules" {
  description = "--additional-python-modules of the Glue job when the wheel is already in S3: the s3:// URI of the ingestflow wheel. Set this or ingestflow_wheel_path."
  type        = string
  default     = null

  validation {
    condition     = var.glue_additional_python_modules == null || startswith(coalesce(var.glue_additional_python_modules, "-"), "s3://")
    error_message = "glue_additional_python_modules must be the s3:// URI of the ingestflow wheel."
  }
}

variable "glue_worker_type" {
  description = "Worker type of the Glue job. The job runs Spark in local mode on the driver, so size the worker for a whole batch."
  type        = string
  default     = "G.1X"
}

variable "glue_number_of_workers" {
  description = "Workers of the Glue job (2 is the minimum; the driver does the work)."
  type        = number
  default     = 2
}

variable "glue_timeout_minutes" {
  description = "Timeout of a Glue run, in minutes: below the state machine's RunGlue timeout (7200 s), and the workflows' lease above both."
  type        = number
  default     = 110

  validation {
    condition     = var.glue_timeout_minutes > 0 && var.glue_timeout_minutes * 60 < 7200
    error_message = "glue_timeout_minutes must be below 120 (the state machine gives RunGlue 7200 s)."
  }
}

variable "glue_max_concurrent_runs" {
  description = "Concurrent runs of the Glue job (one per running batch; more wait in the state machine's retry of ConcurrentRunsExceededException)."
  type        = number
  default     = 10
}

variable "alarm_actions" {
  description = "ARNs notified by the alarms (failed executions, events DLQ not empty)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
