provider "aws" {
  # null: the region of the environment (AWS_REGION, the profile), as in CI.
  region              = var.region
  allowed_account_ids = var.allowed_account_ids

  default_tags {
    tags = {
      "ingestflow:project"     = "ingestflow"
      "ingestflow:environment" = "dev"
      "managed-by"             = "terraform"
    }
  }
}

# Keys from DD_API_KEY and DD_APP_KEY; validated only when the Datadog module is on.
provider "datadog" {
  api_url  = var.datadog_api_url
  validate = var.datadog_enabled
}
