# The prod environment: one ingestflow stack (modules/stack) with this environment's sizes,
# schedules, alert addresses and retention (terraform.tfvars). CI passes image_uri (-var) and
# ingestflow_wheel (TF_VAR_ingestflow_wheel); see ../../README.md.

module "ingestflow" {
  source = "../../modules/stack"

  environment                 = "prod"
  image_uri                   = var.image_uri
  ingestflow_wheel_path       = var.ingestflow_wheel
  functions                   = var.functions
  sqs_maximum_concurrency     = var.sqs_maximum_concurrency
  log_retention_days          = var.log_retention_days
  deletion_protection_enabled = var.deletion_protection_enabled
  force_destroy               = var.force_destroy
  alert_emails                = var.alert_emails
  alerts_schedule_expression  = var.alerts_schedule_expression
  glue_worker_type            = var.glue_worker_type
  glue_number_of_workers      = var.glue_number_of_workers
  glue_max_concurrent_runs    = var.glue_max_concurrent_runs
  datadog_enabled             = var.datadog_enabled
  tags                        = var.tags
}
