variable "region" {
  description = "AWS region of the stacks the deploy roles manage; null uses the environment's (AWS_REGION)."
  type        = string
  default     = null
}

variable "allowed_account_ids" {
  description = "Accounts this may be applied to; null allows any."
  type        = list(string)
  default     = null
}

variable "github_repository" {
  description = "<owner>/<repo> of the repository whose deploy workflow assumes the roles."
  type        = string
}

variable "environments" {
  description = "GitHub environment -> stack (stack_name, optional exact subject). Only the environments that live in this account."
  type = map(object({
    stack_name = string
    subject    = optional(string)
  }))
  default = {
    dev     = { stack_name = "ingestflow-dev" }
    staging = { stack_name = "ingestflow-staging" }
    prod    = { stack_name = "ingestflow-prod" }
  }
}

variable "create_oidc_provider" {
  description = "Whether to create the account's GitHub OIDC provider (false if it exists: pass oidc_provider_arn)."
  type        = bool
  default     = true
}

variable "oidc_provider_arn" {
  description = "ARN of the existing GitHub OIDC provider when create_oidc_provider = false."
  type        = string
  default     = null
}

variable "state_bucket_name" {
  description = "The Terraform state bucket (the TF_STATE_BUCKET variable of the GitHub environments)."
  type        = string
}

variable "state_kms_key_arn" {
  description = "KMS key of the state bucket, if it is SSE-KMS."
  type        = string
  default     = null
}
