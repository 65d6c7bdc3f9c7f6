output "database_name" {
  description = "Name of the Glue catalog database."
  value       = try(aws_glue_catalog_database.this[0].name, null)
}

output "table_name" {
  description = "Name of the workflow's table."
  value       = try(aws_glue_catalog_table.workflow[0].name, null)
}

output "workgroup_name" {
  description = "Name of the Athena workgroup."
  value       = try(aws_athena_workgroup.this[0].name, null)
}
