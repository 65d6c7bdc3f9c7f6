# The GitHub OIDC provider and one deploy role per environment (modules/ci_oidc). Their ARNs
# are the AWS_DEPLOY_ROLE_ARN variables of the GitHub environments (.github/workflows/deploy.yml).

module "ci_oidc" {
  source = "../modules/ci_oidc"

  create_provider   = var.create_oidc_provider
  oidc_provider_arn = var.oidc_provider_arn
  github_repository = var.github_repository
  environments      = var.environments
  state_bucket_name = var.state_bucket_name
  state_kms_key_arn = var.state_kms_key_arn
}
