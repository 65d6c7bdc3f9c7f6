variable "create" {
  description = "Whether to create the queue, its dead-letter queue and the alarm."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of the stack (e.g. ingestflow-dev): the queues are <name>-notifications and <name>-notifications-dlq."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed key encrypting both queues (its policy lets s3.amazonaws.com use it)."
  type        = string
}

variable "source_bucket_arn" {
  description = "ARN of the landing bucket: the only bucket allowed to send notifications."
  type        = string
}

variable "consumer_timeout_seconds" {
  description = "Timeout of the register function consuming the queue; the visibility timeout is 6 times it (AWS's recommendation for Lambda consumers)."
  type        = number
}

variable "max_receive_count" {
  description = "Receives after which a message moves to the dead-letter queue."
  type        = number
  default     = 5
}

variable "message_retention_seconds" {
  description = "How long the queue keeps a message (the DLQ keeps them 14 days)."
  type        = number
  default     = 345600
}

variable "kms_data_key_reuse_period_seconds" {
  description = "How long SQS reuses a data key before calling KMS again (60 to 86400)."
  type        = number
  default     = 300
}

variable "alarm_actions" {
  description = "ARNs notified when the dead-letter queue holds messages (the alerts topic)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
