variable "region" {
  description = "AWS region of the stack; null uses the environment's (AWS_REGION), as CI does."
  type        = string
  default     = null
}

variable "allowed_account_ids" {
  description = "Accounts this environment may be applied to (a guard against the wrong credentials); null allows any."
  type        = list(string)
  default     = null
}

variable "image_uri" {
  description = "The functions' image by digest, <repository url>@sha256:<digest> (CI: -var image_uri=...)."
  type        = string
}

variable "ingestflow_wheel" {
  description = "Local path of the ingestflow wheel the Glue job installs (CI: TF_VAR_ingestflow_wheel); uploaded to the artifacts bucket."
  type        = string
}

variable "functions" {
  description = "Per function: timeout (s), memory_size (MB), reserved_concurrency."
  type = map(object({
    timeout              = number
    memory_size          = number
    reserved_concurrency = number
  }))
}

variable "sqs_maximum_concurrency" {
  description = "Most concurrent register invocations."
  type        = number
}

variable "log_retention_days" {
  description = "Retention of the log groups, in days."
  type        = number
}

variable "deletion_protection_enabled" {
  description = "Whether the ledger's tables refuse DeleteTable."
  type        = bool
}

variable "force_destroy" {
  description = "Whether destroying the stack may delete non-empty buckets and the image repository."
  type        = bool
  default     = false
}

variable "alert_emails" {
  description = "E-mail addresses subscribed to the alerts topic."
  type        = list(string)
  default     = []
}

variable "alerts_schedule_expression" {
  description = "Schedule of the alerts function."
  type        = string
  default     = "rate(5 minutes)"
}

variable "glue_worker_type" {
  description = "Worker type of the Glue job."
  type        = string
}

variable "glue_number_of_workers" {
  description = "Workers of the Glue job."
  type        = number
}

variable "glue_max_concurrent_runs" {
  description = "Concurrent runs of the Glue job."
  type        = number
}

variable "datadog_enabled" {
  description = "Whether Terraform manages the Datadog dashboard and monitors."
  type        = bool
}

variable "datadog_api_url" {
  description = "Datadog API of the organisation's site."
  type        = string
  default     = "https://api.datadoghq.com/"
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}
