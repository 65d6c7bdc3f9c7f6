variable "create" {
  description = "Whether to create the topic, its subscriptions, the Datadog key parameter and the function alarms."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of the stack (e.g. ingestflow-dev): the topic is <name>-alerts."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed key encrypting the topic and the parameter (its policy lets CloudWatch alarms use it)."
  type        = string
}

variable "alert_emails" {
  description = "E-mail addresses subscribed to the alerts topic (each must confirm the subscription)."
  type        = list(string)
  default     = []
}

variable "datadog_api_key_parameter_name" {
  description = "Name of the SSM SecureString parameter for the Datadog API key. Terraform creates it with a placeholder; put the real key out of band (aws ssm put-parameter --overwrite)."
  type        = string

  validation {
    condition     = startswith(var.datadog_api_key_parameter_name, "/")
    error_message = "datadog_api_key_parameter_name must start with /."
  }
}

variable "function_names" {
  description = "Function key -> function name: one Errors alarm each."
  type        = map(string)
  default     = {}
}

variable "error_alarm_period_seconds" {
  description = "Period of the functions' Errors alarms."
  type        = number
  default     = 300
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
