# The smallest useful composition: a key, the landing and output buckets, the notification
# queue and the DynamoDB ledger. It is enough for a self-hosted worker on a laptop or a VM:
#
#   [landing] url = "s3://<landing_bucket_name>/incoming/"  queue_url = "<queue_url>"
#   [output]  url = "s3://<output_bucket_name>/parquet/"
#   [ledger]  url = "<ledger_url>"
#
# The full serverless pipeline is modules/stack (envs/dev, envs/staging, envs/prod).

provider "aws" {
  region = var.region
}

module "kms" {
  source = "../../modules/kms"

  name                    = var.name
  deletion_window_in_days = 7
}

module "buckets" {
  source = "../../modules/buckets"

  name                   = var.name
  kms_key_arn            = module.kms.key_arn
  notification_queue_arn = module.queue.queue_arn
  force_destroy          = true
}

module "queue" {
  source = "../../modules/queue"

  name                     = var.name
  kms_key_arn              = module.kms.key_arn
  source_bucket_arn        = module.buckets.landing_bucket_arn
  consumer_timeout_seconds = 60
}

module "ledger" {
  source = "../../modules/ledger"

  table_prefix                = var.name
  kms_key_arn                 = module.kms.key_arn
  deletion_protection_enabled = false
}
