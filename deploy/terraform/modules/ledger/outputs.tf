locals {
  tables = var.create ? {
    files             = aws_dynamodb_table.files[0]
    transitions       = aws_dynamodb_table.transitions[0]
    batches           = aws_dynamodb_table.batches[0]
    workflow_metadata = aws_dynamodb_table.workflow_metadata[0]
    meta              = aws_dynamodb_table.meta[0]
  } : {}
}

output "table_prefix" {
  description = "Prefix of the tables (the ledger URL is dynamodb://<prefix>)."
  value       = var.table_prefix
}

output "ledger_url" {
  description = "The ledger URL the functions' INGESTFLOW_LEDGER__URL takes."
  value       = "dynamodb://${var.table_prefix}"
}

output "dynamodb_table_names" {
  description = "Short name -> table name."
  value       = { for k, t in local.tables : k => t.name }
}

output "dynamodb_table_arns" {
  description = "Short name -> table ARN."
  value       = { for k, t in local.tables : k => t.arn }
}

output "dynamodb_table_stream_arn" {
  description = "ARN of the files table's stream (NEW_AND_OLD_IMAGES), the forward_metrics trigger."
  value       = try(aws_dynamodb_table.files[0].stream_arn, null)
}

output "files_table_arn" {
  description = "ARN of the files table."
  value       = try(aws_dynamodb_table.files[0].arn, null)
}
