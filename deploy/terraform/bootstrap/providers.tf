provider "aws" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids

  default_tags {
    tags = {
      "ingestflow:project" = "ingestflow"
      "managed-by"         = "terraform"
    }
  }
}
