variable "create" {
  description = "Whether to create anything (the OIDC provider when create_provider, and the deploy roles)."
  type        = bool
  default     = true
}

variable "create_provider" {
  description = "Whether to create the GitHub OIDC provider (token.actions.githubusercontent.com); false when the account already has one (pass its ARN)."
  type        = bool
  default     = true
}

variable "oidc_provider_arn" {
  description = "ARN of an existing GitHub OIDC provider (only when create_provider = false)."
  type        = string
  default     = null
}

variable "github_repository" {
  description = "The repository whose workflows deploy: <owner>/<repo>."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be <owner>/<repo>, without wildcards."
  }
}

variable "environments" {
  description = <<-EOT
    GitHub environment name -> its stack. stack_name is the stack's name prefix (ingestflow-<env>);
    subject overrides the exact OIDC subject (e.g. the immutable form
    repo:<owner>@<owner id>/<repo>@<repo id>:environment:<env>); default
    repo:<owner>/<repo>:environment:<env>.
  EOT
  type = map(object({
    stack_name = string
    subject    = optional(string)
  }))

  validation {
    condition     = alltrue([for e in values(var.environments) : e.subject == null || !can(regex("[*?]", coalesce(e.subject, "-")))])
    error_message = "OIDC subjects must be exact: no * or ? wildcards."
  }
}

variable "role_name_prefix" {
  description = "Deploy roles are <prefix>-<environment>. Keep it outside every stack's prefix, so a deploy role can never edit itself."
  type        = string
  default     = "ingestflow-deploy"
}

variable "state_bucket_name" {
  description = "Name of the bucket holding the Terraform state (created outside these stacks, versioned)."
  type        = string
}

variable "state_key_prefix" {
  description = "Prefix of the state keys: each environment's state is <prefix>/<env>/terraform.tfstate."
  type        = string
  default     = "ingestflow"
}

variable "state_kms_key_arn" {
  description = "ARN of the KMS key encrypting the state bucket, if it is not SSE-S3."
  type        = string
  default     = null
}

variable "max_session_duration" {
  description = "Longest session of a deploy role, in seconds."
  type        = number
  default     = 3600
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
