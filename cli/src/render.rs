//! How replies are shown: a table for people, JSON as the API gave it for scripts, CSV for listings.

use std::io::Write;

use comfy_table::{Table, presets};
use serde_json::Value;

use crate::error::CliError;

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Tables for people
    Table,
    /// The API's JSON, for scripts
    Json,
    /// Comma-separated values with a header row (listings only)
    Csv,
}

/// One column of a listing: its header, where its value is in an item (a JSON pointer), and how many characters a
/// table shows of it (CSV and JSON show everything).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    pub pointer: &'static str,
    pub table_width: Option<usize>,
}

pub const fn column(header: &'static str, pointer: &'static str) -> Column {
    Column {
        header,
        pointer,
        table_width: None,
    }
}

pub const fn narrow(header: &'static str, pointer: &'static str, width: usize) -> Column {
    Column {
        header,
        pointer,
        table_width: Some(width),
    }
}

/// A value as one cell: nothing for null, text as it is, lists joined, `{code, at}` as "code at".
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(" "),
        Value::Object(fields) if fields.contains_key("code") => [
            cell(&fields["code"]),
            cell(fields.get("at").unwrap_or(&Value::Null)),
        ]
        .join(" ")
        .trim()
        .to_owned(),
        other => other.to_string(),
    }
}

fn shorten(text: String, width: Option<usize>) -> String {
    match width {
        Some(width) if text.chars().count() > width => {
            let kept: String = text.chars().take(width.saturating_sub(1)).collect();
            format!("{kept}…")
        }
        _ => text,
    }
}

fn new_table() -> Table {
    let mut table = Table::new();
    table.load_style(presets::ASCII_MARKDOWN);
    table
}

/// Rows of a listing as a table.
pub fn table(columns: &[Column], items: &[Value]) -> String {
    let mut table = new_table();
    table.set_header(columns.iter().map(|c| c.header));
    for item in items {
        table.add_row(columns.iter().map(|c| {
            shorten(
                cell(item.pointer(c.pointer).unwrap_or(&Value::Null)),
                c.table_width,
            )
        }));
    }
    table.to_string()
}

/// Every field of an object as named rows, nested objects flattened as `a.b`.
fn object_rows(value: &Value) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    flatten("", value, &mut rows);
    rows
}

fn flatten(prefix: &str, value: &Value, rows: &mut Vec<(String, String)>) {
    match value {
        Value::Object(fields) if !fields.contains_key("code") || prefix.is_empty() => {
            for (name, value) in fields {
                let name = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                flatten(&name, value, rows);
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            for (n, item) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{n}]"), item, rows);
            }
        }
        other => rows.push((prefix.to_owned(), cell(other))),
    }
}

/// An object's fields as a two-column table, one named value per row.
pub fn object_table(value: &Value) -> String {
    let mut table = new_table();
    table.set_header(["field", "value"]);
    for (name, value) in object_rows(value) {
        table.add_row([name, value]);
    }
    table.to_string()
}

/// Writes listings as CSV, row by row, so a long listing streams.
#[derive(Debug)]
pub struct CsvRows<W: Write> {
    writer: csv::Writer<W>,
    columns: &'static [Column],
}

impl<W: Write> CsvRows<W> {
    pub fn new(out: W, columns: &'static [Column]) -> Result<CsvRows<W>, CliError> {
        let mut writer = csv::Writer::from_writer(out);
        writer
            .write_record(columns.iter().map(|c| c.header))
            .map_err(csv_failed)?;
        Ok(CsvRows { writer, columns })
    }

    pub fn rows(&mut self, items: &[Value]) -> Result<(), CliError> {
        for item in items {
            self.writer
                .write_record(
                    self.columns
                        .iter()
                        .map(|c| cell(item.pointer(c.pointer).unwrap_or(&Value::Null))),
                )
                .map_err(csv_failed)?;
        }
        self.writer.flush().map_err(|e| write_failed(&e))
    }
}

/// Writes items as one JSON array, element by element, so a long listing streams and is still one document.
#[derive(Debug)]
pub struct JsonArray<W: Write> {
    out: W,
    first: bool,
}

impl<W: Write> JsonArray<W> {
    pub fn new(mut out: W) -> Result<JsonArray<W>, CliError> {
        out.write_all(b"[").map_err(|e| write_failed(&e))?;
        Ok(JsonArray { out, first: true })
    }

    pub fn items(&mut self, items: &[Value]) -> Result<(), CliError> {
        for item in items {
            let separator: &[u8] = if self.first { b"\n" } else { b",\n" };
            self.first = false;
            self.out
                .write_all(separator)
                .map_err(|e| write_failed(&e))?;
            serde_json::to_writer(&mut self.out, item)
                .map_err(|e| write_failed(&std::io::Error::from(e)))?;
        }
        self.out.flush().map_err(|e| write_failed(&e))
    }

    pub fn finish(mut self) -> Result<(), CliError> {
        self.out.write_all(b"\n]\n").map_err(|e| write_failed(&e))?;
        self.out.flush().map_err(|e| write_failed(&e))
    }
}

fn write_failed(e: &std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        // The reader went away (`| head`): nothing more to do, nothing to say.
        return CliError::OutputClosed;
    }
    CliError::Failure(format!("writing the output: {e}"))
}

fn csv_failed(e: csv::Error) -> CliError {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => write_failed(&e),
        other => CliError::Failure(format!("writing the output: {other:?}")),
    }
}

/// Prints `text` and a newline on standard output.
pub fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| write_failed(&e))
}

/// Prints a reply as pretty JSON.
pub fn print_json(value: &Value) -> Result<(), CliError> {
    print(&serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const COLUMNS: &[Column] = &[column("sha", "/sha"), narrow("title", "/title", 5)];

    #[test]
    fn cells_read_like_the_api_means_them() {
        assert_eq!(cell(&json!(null)), "");
        assert_eq!(cell(&json!(["a", "b"])), "a b");
        assert_eq!(
            cell(&json!({"code": "forbidden", "at": "2026-12-07T00:00:00Z"})),
            "forbidden 2026-12-07T00:00:00Z"
        );
        assert_eq!(cell(&json!(42)), "42");
    }

    #[test]
    fn tables_shorten_and_csv_does_not() {
        let items = [json!({"sha": "abc", "title": "a long title, \"quoted\""})];
        let text = table(COLUMNS, &items);
        assert!(text.contains("a lo…"), "{text}");
        let mut out = Vec::new();
        CsvRows::new(&mut out, COLUMNS)
            .unwrap()
            .rows(&items)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "sha,title\nabc,\"a long title, \"\"quoted\"\"\"\n"
        );
    }

    #[test]
    fn a_json_array_streams_as_one_document() {
        let mut out = Vec::new();
        let mut array = JsonArray::new(&mut out).unwrap();
        array.items(&[json!({"a": 1})]).unwrap();
        array.items(&[json!({"a": 2}), json!({"a": 3})]).unwrap();
        array.finish().unwrap();
        let parsed: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed, json!([{"a": 1}, {"a": 2}, {"a": 3}]));
        let mut empty = Vec::new();
        JsonArray::new(&mut empty).unwrap().finish().unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&empty).unwrap(), json!([]));
    }

    #[test]
    fn a_closed_output_stops_quietly_and_other_write_errors_fail() {
        let closed = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert!(matches!(write_failed(&closed), CliError::OutputClosed));
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert!(matches!(write_failed(&full), CliError::Failure(_)));
    }

    #[test]
    fn objects_flatten_into_rows() {
        let rows = object_rows(
            &json!({"id": "c1", "settings": {"base_url": "u", "include": ["a/**"]},
            "last_error": {"code": "x", "at": "t"}, "recent_failures": [{"code": "y", "at": "s"}]}),
        );
        assert!(rows.contains(&("settings.base_url".into(), "u".into())));
        assert!(rows.contains(&("settings.include".into(), "a/**".into())));
        assert!(rows.contains(&("last_error".into(), "x t".into())));
        assert!(rows.contains(&("recent_failures[0]".into(), "y s".into())));
    }
}
