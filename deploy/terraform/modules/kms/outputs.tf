output "key_arn" {
  description = "ARN of the customer-managed key."
  value       = try(aws_kms_key.this[0].arn, null)
}

output "key_id" {
  description = "Id of the customer-managed key."
  value       = try(aws_kms_key.this[0].key_id, null)
}

output "alias_name" {
  description = "Name of the key's alias (alias/<name>)."
  value       = try(aws_kms_alias.this[0].name, null)
}

output "alias_arn" {
  description = "ARN of the key's alias."
  value       = try(aws_kms_alias.this[0].arn, null)
}
