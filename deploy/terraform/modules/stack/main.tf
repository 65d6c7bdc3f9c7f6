# One ingestflow stack: every module wired together. The env roots (envs/dev, envs/staging,
# envs/prod) call it with their own sizes, schedules, addresses and retention.
#
# Dependencies between modules go through outputs, never through a cycle of resources:
# - the queue's policy names the landing bucket's ARN (derived from its name), and the bucket's
#   notification uses the queue's ARN (an output that waits for the queue's policy);
# - the state machine invokes finish, and the functions start the state machine: the functions
#   build its ARN from its name (local.state_machine_name).

locals {
  name                           = coalesce(var.name, "ingestflow-${var.environment}")
  state_machine_name             = "${local.name}-batch"
  datadog_api_key_parameter_name = "/${local.name}/datadog-api-key"
  tags = merge(var.tags, {
    "ingestflow:stack"       = local.name
    "ingestflow:environment" = var.environment
  })
}

module "kms" {
  source = "../kms"

  name = local.name
  tags = local.tags
}

module "buckets" {
  source = "../buckets"

  name                               = local.name
  kms_key_arn                        = module.kms.key_arn
  landing_prefix                     = var.landing_prefix
  notification_queue_arn             = module.queue.queue_arn
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  force_destroy                      = var.force_destroy
  tags                               = local.tags
}

module "queue" {
  source = "../queue"

  name                     = local.name
  kms_key_arn              = module.kms.key_arn
  source_bucket_arn        = module.buckets.landing_bucket_arn
  consumer_timeout_seconds = var.functions["register"].timeout
  alarm_actions            = [module.alerts.topic_arn]
  tags                     = local.tags
}

module "ledger" {
  source = "../ledger"

  table_prefix                = local.name
  kms_key_arn                 = module.kms.key_arn
  deletion_protection_enabled = var.deletion_protection_enabled
  tags                        = local.tags
}

module "alerts" {
  source = "../alerts"

  name                           = local.name
  kms_key_arn                    = module.kms.key_arn
  alert_emails                   = var.alert_emails
  datadog_api_key_parameter_name = local.datadog_api_key_parameter_name
  function_names                 = module.functions.function_names
  tags                           = local.tags
}

module "functions" {
  source = "../functions"

  name                           = local.name
  environment                    = var.environment
  image_uri                      = var.image_uri
  architecture                   = var.architecture
  functions                      = var.functions
  kms_key_arn                    = module.kms.key_arn
  log_retention_days             = var.log_retention_days
  landing_bucket_name            = module.buckets.landing_bucket_name
  landing_prefix                 = var.landing_prefix
  output_bucket_name             = module.buckets.output_bucket_name
  output_prefix                  = var.output_prefix
  table_prefix                   = module.ledger.table_prefix
  table_arns                     = values(module.ledger.dynamodb_table_arns)
  files_stream_arn               = module.ledger.dynamodb_table_stream_arn
  notification_queue_arn         = module.queue.queue_arn
  state_machine_name             = local.state_machine_name
  datadog_api_key_parameter_name = module.alerts.datadog_api_key_parameter_name
  alerts_topic_arn               = module.alerts.topic_arn
  sqs_batch_size                 = var.sqs_batch_size
  sqs_maximum_concurrency        = var.sqs_maximum_concurrency
  stream_batch_size              = var.stream_batch_size
  ecr_keep_images                = var.ecr_keep_images
  ecr_force_delete               = var.force_destroy
  alarm_actions                  = [module.alerts.topic_arn]
  tags                           = local.tags
}

module "orchestration" {
  source = "../orchestration"

  name                           = local.name
  state_machine_name             = local.state_machine_name
  kms_key_arn                    = module.kms.key_arn
  log_retention_days             = var.log_retention_days
  finish_function_arn            = module.functions.function_arns["finish"]
  schedule_function_arn          = module.functions.function_arns["schedule"]
  alerts_function_arn            = module.functions.function_arns["alerts"]
  schedule_expression            = var.schedule_expression
  alerts_schedule_expression     = var.alerts_schedule_expression
  landing_bucket_name            = module.buckets.landing_bucket_name
  landing_prefix                 = var.landing_prefix
  output_bucket_name             = module.buckets.output_bucket_name
  output_prefix                  = var.output_prefix
  artifacts_bucket_name          = module.buckets.artifacts_bucket_name
  ingestflow_wheel_path          = var.ingestflow_wheel_path
  glue_additional_python_modules = var.glue_additional_python_modules
  glue_worker_type               = var.glue_worker_type
  glue_number_of_workers         = var.glue_number_of_workers
  glue_timeout_minutes           = var.glue_timeout_minutes
  glue_max_concurrent_runs       = var.glue_max_concurrent_runs
  alarm_actions                  = [module.alerts.topic_arn]
  tags                           = local.tags
}

module "analytics" {
  source = "../analytics"

  name               = local.name
  kms_key_arn        = module.kms.key_arn
  output_bucket_name = module.buckets.output_bucket_name
  output_prefix      = var.output_prefix
  workflow           = var.analytics_workflow
  tags               = local.tags
}

module "datadog" {
  source = "../datadog"

  create      = var.datadog_enabled
  environment = var.environment
}
