variable "environment" {
  description = "Name of the environment: dev, staging or prod (the metrics' env tag, the Datadog monitors' env)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment must be 2 to 16 lowercase letters, digits or -, starting with a letter."
  }
}

variable "name" {
  description = "Name of the stack, the prefix of every resource (default ingestflow-<environment>). The ledger URL is dynamodb://<name>."
  type        = string
  default     = null
}

variable "image_uri" {
  description = "The functions' image by digest: <account>.dkr.ecr.<region>.amazonaws.com/<name>@sha256:<digest> (CI passes it)."
  type        = string
}

variable "ingestflow_wheel_path" {
  description = "Local path of the ingestflow wheel CI built; Terraform uploads it to the artifacts bucket for the Glue job. Set this or glue_additional_python_modules."
  type        = string
  default     = null
}

variable "glue_additional_python_modules" {
  description = "s3:// URI of an ingestflow wheel already in S3 (the Glue job's --additional-python-modules). Set this or ingestflow_wheel_path."
  type        = string
  default     = null
}

variable "architecture" {
  description = "Instruction set of the image (x86_64 or arm64)."
  type        = string
  default     = "x86_64"
}

variable "landing_prefix" {
  description = "Prefix of the landing files in the landing bucket (ends with /)."
  type        = string
  default     = "incoming/"
}

variable "output_prefix" {
  description = "Prefix of the outputs in the output bucket (ends with /)."
  type        = string
  default     = "parquet/"
}

variable "functions" {
  description = "Per function: timeout (s), memory_size (MB), reserved_concurrency. Keys: register, schedule, finish, alerts, forward_metrics."
  type = map(object({
    timeout              = number
    memory_size          = number
    reserved_concurrency = number
  }))
  default = {
    register        = { timeout = 60, memory_size = 512, reserved_concurrency = 10 }
    schedule        = { timeout = 55, memory_size = 512, reserved_concurrency = 1 }
    finish          = { timeout = 240, memory_size = 512, reserved_concurrency = 10 }
    alerts          = { timeout = 120, memory_size = 512, reserved_concurrency = 1 }
    forward_metrics = { timeout = 120, memory_size = 512, reserved_concurrency = 2 }
  }
}

variable "sqs_batch_size" {
  description = "Notifications per register invocation."
  type        = number
  default     = 10
}

variable "sqs_maximum_concurrency" {
  description = "Most concurrent register invocations (2 or more, at most register's reserved concurrency)."
  type        = number
  default     = 5
}

variable "stream_batch_size" {
  description = "Stream records per forward_metrics invocation."
  type        = number
  default     = 100
}

variable "log_retention_days" {
  description = "Retention of the functions' and the state machine's log groups, in days."
  type        = number
  default     = 365
}

variable "deletion_protection_enabled" {
  description = "Whether the ledger's tables refuse DeleteTable."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Whether destroying the stack may delete non-empty buckets and the ECR repository's images (dev only)."
  type        = bool
  default     = false
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted object versions expire in the buckets."
  type        = number
  default     = 30
}

variable "alert_emails" {
  description = "E-mail addresses subscribed to the alerts topic."
  type        = list(string)
  default     = []
}

variable "schedule_expression" {
  description = "Schedule of the schedule function."
  type        = string
  default     = "rate(1 minute)"
}

variable "alerts_schedule_expression" {
  description = "Schedule of the alerts function."
  type        = string
  default     = "rate(5 minutes)"
}

variable "glue_worker_type" {
  description = "Worker type of the Glue job (the driver converts the whole batch)."
  type        = string
  default     = "G.1X"
}

variable "glue_number_of_workers" {
  description = "Workers of the Glue job."
  type        = number
  default     = 2
}

variable "glue_timeout_minutes" {
  description = "Timeout of a Glue run, in minutes (below 120: the state machine gives RunGlue 7200 s)."
  type        = number
  default     = 110
}

variable "glue_max_concurrent_runs" {
  description = "Concurrent runs of the Glue job."
  type        = number
  default     = 10
}

variable "ecr_keep_images" {
  description = "Images the ECR lifecycle policy keeps."
  type        = number
  default     = 30
}

variable "analytics_workflow" {
  description = "The workflow whose outputs the Athena table reads."
  type        = string
  default     = "ohlcv"
}

variable "datadog_enabled" {
  description = "Whether Terraform manages the Datadog dashboard and monitors (needs DD_API_KEY and DD_APP_KEY)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
