output "oidc_provider_arn" {
  description = "ARN of the GitHub OIDC provider the roles trust."
  value       = local.provider_arn
}

output "role_arns" {
  description = "Environment -> ARN of its deploy role (the workflow's role-to-assume)."
  value       = { for env, r in aws_iam_role.deploy : env => r.arn }
}

output "subjects" {
  description = "Environment -> the exact OIDC subject its role trusts."
  value       = local.subjects
}
