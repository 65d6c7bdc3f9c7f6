output "state_machine_arn" {
  description = "ARN of the batch state machine."
  value       = try(aws_sfn_state_machine.this[0].arn, null)
}

output "state_machine_name" {
  description = "Name of the batch state machine."
  value       = var.state_machine_name
}

output "state_machine_role_arn" {
  description = "ARN of the state machine's role."
  value       = try(aws_iam_role.state_machine[0].arn, null)
}

output "glue_job_name" {
  description = "Name of the batch Glue job."
  value       = try(aws_glue_job.batch[0].name, null)
}

output "glue_job_arn" {
  description = "ARN of the batch Glue job."
  value       = try(aws_glue_job.batch[0].arn, null)
}

output "glue_role_arn" {
  description = "ARN of the Glue job's role."
  value       = try(aws_iam_role.glue[0].arn, null)
}

output "glue_script_s3_uri" {
  description = "Where the Glue script is uploaded."
  value       = "s3://${var.artifacts_bucket_name}/${local.glue_script_key}"
}

output "event_rule_arns" {
  description = "Rule key (schedule, alerts, execution_ended) -> EventBridge rule ARN."
  value       = { for k, r in local.created_rules : k => r.arn }
}

output "events_dlq_arn" {
  description = "ARN of the dead-letter queue of the EventBridge targets."
  value       = try(aws_sqs_queue.events_dlq[0].arn, null)
}

output "glue_additional_python_modules" {
  description = "The wheel the Glue job installs (--additional-python-modules)."
  value       = local.additional_python_modules
}
