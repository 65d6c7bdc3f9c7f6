# The state of this environment: key ingestflow/dev/terraform.tfstate, S3-native locking
# (a .tflock object next to it; Terraform >= 1.10). The bucket and its region come from a
# partial configuration, so no account or bucket name is in the repository:
#
#   terraform init -backend-config=backend.hcl      (see backend.hcl.example)
terraform {
  backend "s3" {
    key          = "ingestflow/dev/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}
