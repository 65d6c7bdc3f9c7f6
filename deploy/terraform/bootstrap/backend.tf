# Run once per AWS account by an administrator (not by CI: the deploy roles must never manage
# themselves). Same state bucket as the environments, its own key.
#
#   terraform init -backend-config=backend.hcl      (see backend.hcl.example)
terraform {
  backend "s3" {
    key          = "ingestflow/bootstrap/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}
