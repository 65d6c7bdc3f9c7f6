output "deploy_role_arns" {
  description = "Environment -> deploy role ARN (the GitHub environment's AWS_DEPLOY_ROLE_ARN)."
  value       = module.ci_oidc.role_arns
}

output "oidc_subjects" {
  description = "Environment -> the exact OIDC subject its role trusts."
  value       = module.ci_oidc.subjects
}
