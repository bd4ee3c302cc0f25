//! A batch of [`ExportRow`]s as one Parquet file (one row group, Snappy pages), written column by column with
//! the `parquet` crate's low-level writer: no Arrow, which would double the build for nothing the export needs.
//! Text is `BYTE_ARRAY (STRING)`, counts `INT64`/`INT32`, times `INT64 TIMESTAMP(MICROS, UTC)`: Athena, Trino,
//! Spark and DuckDB read them as `varchar`, `bigint`, `integer` and `timestamp` with no table properties.

use std::sync::Arc;

use ::parquet::basic::Compression;
use ::parquet::data_type::{ByteArray, ByteArrayType, DataType, Int32Type, Int64Type};
use ::parquet::errors::ParquetError;
use ::parquet::file::properties::WriterProperties;
use ::parquet::file::writer::SerializedFileWriter;
use ::parquet::schema::parser::parse_message_type;

use super::model::ExportRow;

/// The file schema, in the dataset's column order (the Glue table in `template.yaml` lists the same).
pub const SCHEMA: &str = "message commit {
  REQUIRED BYTE_ARRAY connection_id (STRING);
  REQUIRED INT64 project_id;
  REQUIRED BYTE_ARRAY project_path (STRING);
  REQUIRED BYTE_ARRAY default_branch (STRING);
  REQUIRED BYTE_ARRAY sha (STRING);
  REQUIRED BYTE_ARRAY short_id (STRING);
  REQUIRED BYTE_ARRAY parent_ids (STRING);
  REQUIRED INT32 parent_count;
  REQUIRED BYTE_ARRAY title (STRING);
  REQUIRED BYTE_ARRAY message (STRING);
  REQUIRED BYTE_ARRAY author_name (STRING);
  REQUIRED BYTE_ARRAY author_email (STRING);
  OPTIONAL INT64 authored_at (TIMESTAMP(MICROS,true));
  REQUIRED BYTE_ARRAY committer_name (STRING);
  REQUIRED BYTE_ARRAY committer_email (STRING);
  REQUIRED INT64 committed_at (TIMESTAMP(MICROS,true));
  OPTIONAL INT64 additions;
  OPTIONAL INT64 deletions;
  OPTIONAL INT64 total_changes;
  REQUIRED BYTE_ARRAY trailers (STRING);
  REQUIRED BYTE_ARRAY web_url (STRING);
  OPTIONAL INT64 imported_at (TIMESTAMP(MICROS,true));
  OPTIONAL INT64 removed_at (TIMESTAMP(MICROS,true));
  REQUIRED INT64 changed_at (TIMESTAMP(MICROS,true));
  REQUIRED INT64 exported_at (TIMESTAMP(MICROS,true));
}";

/// The rows could not be written as Parquet: a fault of ours (the schema and the columns disagree), never of
/// the data.
#[derive(Debug, thiserror::Error)]
#[error("writing Parquet: {0}")]
pub struct EncodeError(#[from] ParquetError);

/// One column's values, taken from the rows in order.
enum Column {
    Text(fn(&ExportRow) -> &str),
    Long(fn(&ExportRow) -> i64),
    Int(fn(&ExportRow) -> i32),
    MaybeLong(fn(&ExportRow) -> Option<i64>),
}

/// The columns in [`SCHEMA`]'s order.
const COLUMNS: [Column; 25] = {
    use Column::{Int, Long, MaybeLong, Text};
    [
        Text(|r| &r.connection_id),
        Long(|r| r.project_id),
        Text(|r| &r.project_path),
        Text(|r| &r.default_branch),
        Text(|r| &r.sha),
        Text(|r| &r.short_id),
        Text(|r| &r.parent_ids),
        Int(|r| r.parent_count),
        Text(|r| &r.title),
        Text(|r| &r.message),
        Text(|r| &r.author_name),
        Text(|r| &r.author_email),
        MaybeLong(|r| r.authored_at),
        Text(|r| &r.committer_name),
        Text(|r| &r.committer_email),
        Long(|r| r.committed_at),
        MaybeLong(|r| r.additions),
        MaybeLong(|r| r.deletions),
        MaybeLong(|r| r.total_changes),
        Text(|r| &r.trailers),
        Text(|r| &r.web_url),
        MaybeLong(|r| r.imported_at),
        MaybeLong(|r| r.removed_at),
        Long(|r| r.changed_at),
        Long(|r| r.exported_at),
    ]
};

/// The rows as one Parquet file. Rows are never empty of meaning here: the caller writes no file for no rows.
pub fn encode(rows: &[ExportRow]) -> Result<Vec<u8>, EncodeError> {
    let schema = Arc::new(parse_message_type(SCHEMA)?);
    let properties = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by("gitlab-commit-importer".to_owned())
            .build(),
    );
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, properties)?;
    let mut group = writer.next_row_group()?;
    let mut columns = COLUMNS.iter();
    while let Some(mut writer) = group.next_column()? {
        let Some(column) = columns.next() else {
            return Err(
                ParquetError::General("more columns in the schema than rows have".into()).into(),
            );
        };
        match column {
            Column::Text(value) => {
                let values: Vec<ByteArray> = rows
                    .iter()
                    .map(|r| ByteArray::from(value(r).as_bytes().to_vec()))
                    .collect();
                write::<ByteArrayType>(writer.typed(), &values, None)?;
            }
            Column::Long(value) => {
                let values: Vec<i64> = rows.iter().map(value).collect();
                write::<Int64Type>(writer.typed(), &values, None)?;
            }
            Column::Int(value) => {
                let values: Vec<i32> = rows.iter().map(value).collect();
                write::<Int32Type>(writer.typed(), &values, None)?;
            }
            Column::MaybeLong(value) => {
                let present: Vec<i64> = rows.iter().filter_map(value).collect();
                let levels: Vec<i16> = rows.iter().map(|r| i16::from(value(r).is_some())).collect();
                write::<Int64Type>(writer.typed(), &present, Some(&levels))?;
            }
        }
        writer.close()?;
    }
    if columns.next().is_some() {
        return Err(
            ParquetError::General("fewer columns in the schema than rows have".into()).into(),
        );
    }
    group.close()?;
    Ok(writer.into_inner()?)
}

/// Writes one column's values (only the present ones when `levels` gives which rows have one).
fn write<T: DataType>(
    column: &mut ::parquet::column::writer::ColumnWriterImpl<'_, T>,
    values: &[T::T],
    levels: Option<&[i16]>,
) -> Result<(), ParquetError> {
    column.write_batch(values, levels, None).map(drop)
}

#[cfg(test)]
pub(crate) mod tests {
    use ::parquet::file::reader::{FileReader, SerializedFileReader};
    use ::parquet::record::{Row, RowAccessor};

    use super::*;
    use crate::export::model::ChangedCommit;
    use crate::export::model::tests::record;
    use crate::testing::project_key;

    /// Every row of a Parquet file, as the reader sees it.
    pub(crate) fn read(body: Vec<u8>) -> Vec<Row> {
        let reader = SerializedFileReader::new(bytes::Bytes::from(body)).unwrap();
        reader
            .get_row_iter(None)
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn rows_round_trip_with_their_types_and_nulls() {
        let key = project_key("c1", 7);
        let mut removed = record();
        removed.sha = "d".repeat(40);
        removed.additions = None;
        removed.removed_at = Some("2024-03-03T00:00:00Z".into());
        let rows: Vec<ExportRow> = [record(), removed]
            .into_iter()
            .map(|record| {
                let change = ChangedCommit {
                    record,
                    changed_at: "2024-03-03T00:00:00.000000Z".into(),
                };
                ExportRow::from_change(&key, change, 7).unwrap().1
            })
            .collect();
        let read = read(encode(&rows).unwrap());
        assert_eq!(read.len(), 2);
        let names: Vec<&str> = read[0].get_column_iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.len(), 25);
        assert_eq!(names[0], "connection_id");
        assert_eq!(names[24], "exported_at");
        // connection_id, project_id, sha, parent_count, committed_at, additions, removed_at
        assert_eq!(read[0].get_string(0).unwrap(), "c1");
        assert_eq!(read[0].get_long(1).unwrap(), 7);
        assert_eq!(read[1].get_string(4).unwrap(), &"d".repeat(40));
        assert_eq!(read[0].get_int(7).unwrap(), 2);
        assert_eq!(
            read[0].get_timestamp_micros(15).unwrap(),
            1_709_249_400_000_000
        );
        assert_eq!(read[0].get_long(16).unwrap(), 3);
        assert!(read[1].get_long(16).is_err(), "additions is null");
        assert!(
            read[0].get_timestamp_micros(22).is_err(),
            "removed_at is null"
        );
        assert_eq!(
            read[1].get_timestamp_micros(22).unwrap(),
            1_709_424_000_000_000
        );
        assert_eq!(read[0].get_string(9).unwrap(), &rows[0].message);
    }
}
