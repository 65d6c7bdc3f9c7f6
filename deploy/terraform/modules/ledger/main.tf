# The DynamoDB tables of the ledger, exactly as src/ingestflow/adapters/state/dynamodb_tables.py
# defines them (TABLES): names <prefix>-<short name>, key schemas, attribute definitions,
# global secondary indexes (projection ALL), the files table's stream, on-demand billing.
# tests/integration/test_terraform_modules.py compares the two. Point-in-time recovery, the
# stack's key and deletion protection are added; TTL stays off unless ttl_attributes sets it.

################################################################################
# files: one item per file; queue_index (TODO, PROCESSING), outcome_index (DONE, FAILED)
################################################################################

resource "aws_dynamodb_table" "files" {
  count = var.create ? 1 : 0

  name                        = "${var.table_prefix}-files"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.deletion_protection_enabled
  stream_enabled              = true
  stream_view_type            = "NEW_AND_OLD_IMAGES"

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "q_pk"
    type = "S"
  }
  attribute {
    name = "q_sk"
    type = "S"
  }
  attribute {
    name = "o_pk"
    type = "S"
  }
  attribute {
    name = "o_sk"
    type = "S"
  }

  global_secondary_index {
    name            = "queue_index"
    hash_key        = "q_pk"
    range_key       = "q_sk"
    projection_type = "ALL"
  }
  global_secondary_index {
    name            = "outcome_index"
    hash_key        = "o_pk"
    range_key       = "o_sk"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  dynamic "ttl" {
    for_each = contains(keys(var.ttl_attributes), "files") ? [var.ttl_attributes["files"]] : []
    content {
      enabled        = true
      attribute_name = ttl.value
    }
  }

  tags = var.tags
}

################################################################################
# transitions: the change log; history_index (per file), ended_index (per day)
################################################################################

resource "aws_dynamodb_table" "transitions" {
  count = var.create ? 1 : 0

  name                        = "${var.table_prefix}-transitions"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "sk"
    type = "N"
  }
  attribute {
    name = "h_pk"
    type = "S"
  }
  attribute {
    name = "h_sk"
    type = "N"
  }
  attribute {
    name = "e_pk"
    type = "S"
  }
  attribute {
    name = "e_sk"
    type = "S"
  }

  global_secondary_index {
    name            = "history_index"
    hash_key        = "h_pk"
    range_key       = "h_sk"
    projection_type = "ALL"
  }
  global_secondary_index {
    name            = "ended_index"
    hash_key        = "e_pk"
    range_key       = "e_sk"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  dynamic "ttl" {
    for_each = contains(keys(var.ttl_attributes), "transitions") ? [var.ttl_attributes["transitions"]] : []
    content {
      enabled        = true
      attribute_name = ttl.value
    }
  }

  tags = var.tags
}

################################################################################
# batches: claimed batches; running_index (sparse: running batches by lease)
################################################################################

resource "aws_dynamodb_table" "batches" {
  count = var.create ? 1 : 0

  name                        = "${var.table_prefix}-batches"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "r_pk"
    type = "S"
  }
  attribute {
    name = "r_sk"
    type = "S"
  }

  global_secondary_index {
    name            = "running_index"
    hash_key        = "r_pk"
    range_key       = "r_sk"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  dynamic "ttl" {
    for_each = contains(keys(var.ttl_attributes), "batches") ? [var.ttl_attributes["batches"]] : []
    content {
      enabled        = true
      attribute_name = ttl.value
    }
  }

  tags = var.tags
}

################################################################################
# workflow_metadata: the configured workflows
################################################################################

resource "aws_dynamodb_table" "workflow_metadata" {
  count = var.create ? 1 : 0

  name                        = "${var.table_prefix}-workflow_metadata"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "pk"
    type = "S"
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  dynamic "ttl" {
    for_each = contains(keys(var.ttl_attributes), "workflow_metadata") ? [var.ttl_attributes["workflow_metadata"]] : []
    content {
      enabled        = true
      attribute_name = ttl.value
    }
  }

  tags = var.tags
}

################################################################################
# meta: sequences, ready markers, metrics checkpoints, alerts; g_index (sparse)
################################################################################

resource "aws_dynamodb_table" "meta" {
  count = var.create ? 1 : 0

  name                        = "${var.table_prefix}-meta"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "sk"
    type = "S"
  }
  attribute {
    name = "g_pk"
    type = "S"
  }
  attribute {
    name = "g_sk"
    type = "S"
  }

  global_secondary_index {
    name            = "g_index"
    hash_key        = "g_pk"
    range_key       = "g_sk"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  dynamic "ttl" {
    for_each = contains(keys(var.ttl_attributes), "meta") ? [var.ttl_attributes["meta"]] : []
    content {
      enabled        = true
      attribute_name = ttl.value
    }
  }

  tags = var.tags
}
