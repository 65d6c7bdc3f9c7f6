terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100"
    }
    datadog = {
      source  = "DataDog/datadog"
      version = ">= 3.40"
    }
  }
}
