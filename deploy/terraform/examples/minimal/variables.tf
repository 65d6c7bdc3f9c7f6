variable "region" {
  description = "AWS region; null uses the environment's (AWS_REGION)."
  type        = string
  default     = null
}

variable "name" {
  description = "Name of the example stack."
  type        = string
  default     = "ingestflow-example"
}
