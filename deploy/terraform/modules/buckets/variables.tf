variable "create" {
  description = "Whether to create the buckets."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of the stack (e.g. ingestflow-dev). Buckets are <name>-<account id>-<role> unless named below."
  type        = string
}

variable "landing_bucket_name" {
  description = "Name of the landing bucket (default <name>-<account id>-landing)."
  type        = string
  default     = null
}

variable "output_bucket_name" {
  description = "Name of the output bucket (default <name>-<account id>-output)."
  type        = string
  default     = null
}

variable "artifacts_bucket_name" {
  description = "Name of the artifacts bucket: the Glue script and the ingestflow wheel (default <name>-<account id>-artifacts)."
  type        = string
  default     = null
}

variable "access_logs_bucket_name" {
  description = "Name of the bucket receiving the other buckets' server access logs (default <name>-<account id>-access-logs)."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed key encrypting the landing, output and artifacts buckets."
  type        = string
}

variable "landing_prefix" {
  description = "Prefix of the landing files in the landing bucket (ends with /, e.g. incoming/). Only objects created under it are notified."
  type        = string
  default     = "incoming/"

  validation {
    condition     = endswith(var.landing_prefix, "/") && !startswith(var.landing_prefix, "/")
    error_message = "landing_prefix must end with / and not start with /."
  }
}

variable "quarantine_prefix" {
  description = "Prefix in the landing bucket where operators park rejected files; objects there expire."
  type        = string
  default     = "quarantine/"

  validation {
    condition     = endswith(var.quarantine_prefix, "/") && !startswith(var.quarantine_prefix, "/")
    error_message = "quarantine_prefix must end with / and not start with /."
  }
}

variable "quarantine_expiration_days" {
  description = "Days after which objects under the quarantine prefix expire."
  type        = number
  default     = 30
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent (overwritten or deleted) object versions expire."
  type        = number
  default     = 30
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which incomplete multipart uploads are aborted."
  type        = number
  default     = 7
}

variable "athena_results_expiration_days" {
  description = "Days after which Athena query results (output bucket, _athena/) expire."
  type        = number
  default     = 30
}

variable "access_logs_expiration_days" {
  description = "Days after which server access logs expire."
  type        = number
  default     = 365
}

variable "notification_queue_arn" {
  description = "ARN of the SQS queue notified of objects created under the landing prefix (its policy must let this bucket send)."
  type        = string
}

variable "force_destroy" {
  description = "Whether destroying the stack may delete non-empty buckets (never in prod)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
