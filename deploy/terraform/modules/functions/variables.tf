variable "create" {
  description = "Whether to create the ECR repository, the functions and their triggers."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of the stack (e.g. ingestflow-dev): functions, roles and log groups are <name>-<function>; the ECR repository is <name>."
  type        = string
}

variable "environment" {
  description = "Name of the environment (dev, staging, prod): the functions' INGESTFLOW_METRICS__ENV (the env tag of every metric)."
  type        = string
}

variable "image_uri" {
  description = "The functions' container image, pinned by digest: <account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<digest> (CI passes the digest it pushed)."
  type        = string

  validation {
    condition     = can(regex("^[^@:]+(:[0-9]+)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$", var.image_uri))
    error_message = "image_uri must be <registry>/<repository>@sha256:<64 hex digits>: functions deploy by digest, never by tag."
  }
}

variable "architecture" {
  description = "Instruction set of the image (x86_64 or arm64); it must match the platform CI builds."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "functions" {
  description = "Per function: timeout (s), memory_size (MB) and reserved_concurrency. Keys: register, schedule, finish, alerts, forward_metrics."
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

  validation {
    condition     = length(setsubtract(keys(var.functions), ["register", "schedule", "finish", "alerts", "forward_metrics"])) == 0 && length(setsubtract(["register", "schedule", "finish", "alerts", "forward_metrics"], keys(var.functions))) == 0
    error_message = "functions must have exactly the keys register, schedule, finish, alerts and forward_metrics."
  }

  validation {
    condition     = var.functions["finish"].timeout < 300
    error_message = "The finish function's timeout must stay below the state machine's Finish task timeout (300 s)."
  }
}

variable "config_path" {
  description = "Path of the config file packaged in the image (INGESTFLOW_CONFIG)."
  type        = string
  default     = "/var/task/ingestflow.toml"
}

variable "kms_key_arn" {
  description = "ARN of the stack's customer-managed key (environment variables, log groups, ECR, the failure queues, and the data the functions read)."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the functions' log groups, in days."
  type        = number
  default     = 365
}

variable "landing_bucket_name" {
  description = "Name of the landing bucket."
  type        = string
}

variable "landing_prefix" {
  description = "Prefix of the landing files (ends with /)."
  type        = string

  validation {
    condition     = endswith(var.landing_prefix, "/") && !startswith(var.landing_prefix, "/")
    error_message = "landing_prefix must end with / and not start with /."
  }
}

variable "output_bucket_name" {
  description = "Name of the output bucket."
  type        = string
}

variable "output_prefix" {
  description = "Prefix of the outputs in the output bucket (ends with /); batch manifests are under <prefix>_ingestflow/batches/."
  type        = string

  validation {
    condition     = endswith(var.output_prefix, "/") && !startswith(var.output_prefix, "/")
    error_message = "output_prefix must end with / and not start with /."
  }
}

variable "table_prefix" {
  description = "Prefix of the ledger's tables (INGESTFLOW_LEDGER__URL = dynamodb://<prefix>)."
  type        = string
}

variable "table_arns" {
  description = "ARNs of the ledger's tables (every function reads and writes the ledger)."
  type        = list(string)
}

variable "files_stream_arn" {
  description = "ARN of the files table's stream (the forward_metrics trigger)."
  type        = string
}

variable "notification_queue_arn" {
  description = "ARN of the landing notifications queue (the register trigger)."
  type        = string
}

variable "state_machine_name" {
  description = "Name of the batch state machine. Its ARN is built from the name, so the state machine (which invokes finish) and the functions (which start it) do not depend on each other."
  type        = string
}

variable "datadog_api_key_parameter_name" {
  description = "Name of the SSM SecureString parameter holding the Datadog API key (starts with /)."
  type        = string

  validation {
    condition     = startswith(var.datadog_api_key_parameter_name, "/")
    error_message = "datadog_api_key_parameter_name must start with /."
  }
}

variable "alerts_topic_arn" {
  description = "ARN of the SNS topic of the ops notifier (INGESTFLOW_ALERTS__NOTIFIERS__OPS__TOPIC_ARN)."
  type        = string
}

variable "sqs_batch_size" {
  description = "Notifications per register invocation."
  type        = number
  default     = 10
}

variable "sqs_maximum_batching_window_seconds" {
  description = "How long the SQS mapping gathers notifications before invoking register."
  type        = number
  default     = 5
}

variable "sqs_maximum_concurrency" {
  description = "Most concurrent register invocations the SQS mapping starts (2 to 1000; at most register's reserved concurrency)."
  type        = number
  default     = 5

  validation {
    condition     = var.sqs_maximum_concurrency >= 2 && var.sqs_maximum_concurrency <= 1000
    error_message = "sqs_maximum_concurrency must be between 2 and 1000."
  }
}

variable "stream_batch_size" {
  description = "Stream records per forward_metrics invocation."
  type        = number
  default     = 100
}

variable "stream_maximum_batching_window_seconds" {
  description = "How long the stream mapping gathers records before invoking forward_metrics."
  type        = number
  default     = 10
}

variable "stream_maximum_retry_attempts" {
  description = "Retries of a failing stream batch before it goes to the on-failure queue (the metrics are still sent later: the values come from the ledger, behind the sink's checkpoint)."
  type        = number
  default     = 5

  validation {
    condition     = var.stream_maximum_retry_attempts >= 0 && var.stream_maximum_retry_attempts <= 10000
    error_message = "stream_maximum_retry_attempts must be between 0 and 10000."
  }
}

variable "stream_maximum_record_age_seconds" {
  description = "Age after which a stream record is no longer retried (60 to 604800)."
  type        = number
  default     = 3600

  validation {
    condition     = var.stream_maximum_record_age_seconds >= 60 && var.stream_maximum_record_age_seconds <= 604800
    error_message = "stream_maximum_record_age_seconds must be between 60 and 604800."
  }
}

variable "stream_starting_position" {
  description = "Where a new stream mapping starts (TRIM_HORIZON or LATEST)."
  type        = string
  default     = "LATEST"
}

variable "ecr_keep_images" {
  description = "Images the ECR lifecycle policy keeps (the newest); keep more than the digests any environment may still run."
  type        = number
  default     = 30
}

variable "ecr_force_delete" {
  description = "Whether destroying the stack may delete the repository with its images."
  type        = bool
  default     = false
}

variable "alarm_actions" {
  description = "ARNs notified when a failure queue holds messages (the alerts topic)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
