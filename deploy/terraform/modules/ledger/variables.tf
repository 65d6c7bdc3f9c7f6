variable "create" {
  description = "Whether to create the ledger's tables."
  type        = bool
  default     = true
}

variable "table_prefix" {
  description = "Prefix of the tables: <prefix>-files, <prefix>-transitions, ... The functions' ledger URL is dynamodb://<prefix>."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed key encrypting the tables (and the files table's stream)."
  type        = string
}

variable "deletion_protection_enabled" {
  description = "Whether the tables refuse DeleteTable (turn off only to tear a stack down on purpose)."
  type        = bool
  default     = true
}

variable "point_in_time_recovery_enabled" {
  description = "Whether point-in-time recovery is on (the ledger is the pipeline's state)."
  type        = bool
  default     = true
}

variable "ttl_attributes" {
  description = "Short table name -> attribute holding an expiry time (epoch seconds). Empty: TTL off on every table (ingestflow writes no expiry attribute)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for t in keys(var.ttl_attributes) : contains(["files", "transitions", "batches", "workflow_metadata", "meta"], t)])
    error_message = "ttl_attributes keys must be ledger tables: files, transitions, batches, workflow_metadata, meta."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
