# SQL over the outputs: a Glue catalog database, a table over the Parquet outputs of one
# workflow, and an Athena workgroup whose configuration (results in the output bucket under
# _athena/, SSE-KMS) queries cannot override.

locals {
  database_name = replace(var.name, "-", "_")
  table_name    = replace(var.workflow, "-", "_")
}

resource "aws_glue_catalog_database" "this" {
  count = var.create ? 1 : 0

  name        = local.database_name
  description = "ingestflow outputs of ${var.name}"
  tags        = var.tags
}

resource "aws_glue_catalog_table" "workflow" {
  count = var.create ? 1 : 0

  database_name = aws_glue_catalog_database.this[0].name
  name          = local.table_name
  description   = "Parquet outputs of the ${var.workflow} workflow"
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    EXTERNAL       = "TRUE"
    classification = "parquet"
  }

  storage_descriptor {
    location      = "s3://${var.output_bucket_name}/${var.output_prefix}${var.workflow}/"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      name                  = "parquet"
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
      parameters = {
        "serialization.format" = "1"
      }
    }

    dynamic "columns" {
      for_each = var.columns
      content {
        name    = columns.value.name
        type    = columns.value.type
        comment = columns.value.comment
      }
    }
  }
}

resource "aws_athena_workgroup" "this" {
  count = var.create ? 1 : 0

  name          = var.name
  description   = "Queries over the ingestflow outputs of ${var.name}"
  force_destroy = false

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff_per_query

    result_configuration {
      output_location = "s3://${var.output_bucket_name}/_athena/"

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = var.kms_key_arn
      }
    }
  }

  tags = var.tags
}
