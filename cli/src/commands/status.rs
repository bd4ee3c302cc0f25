//! `status`: one screen of the connection's health, from the API and, with `--stack`, from the stack's queues
//! and export bucket (read with the caller's own AWS credentials).

use std::collections::BTreeMap;

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};

use super::{Context, credentials, each_page, items, projects};
use crate::aws::error_chain;
use crate::error::CliError;
use crate::render::{self, Column, Output, column, narrow};

/// Failing projects read at most (pages of 100), and shown in the table.
const MAX_FAILING_PAGES: usize = 10;
const FAILING_SHOWN: usize = 20;

/// The stack's outputs of the queues whose messages `status` counts, with a name for people.
const DEAD_LETTER_QUEUES: &[(&str, &str)] = &[
    ("sync", "SyncDeadLetterQueueUrl"),
    ("schedule", "ScheduleDeadLetterQueueUrl"),
    ("turn requests", "TurnRequestDeadLetterQueueUrl"),
];

/// Where the exporter records its last run in the export bucket: `shared::export::RUN_RECORD` under the stack's
/// (empty) export prefix. Written again here, as the CLI does not link the functions' library (its Lambda and
/// DynamoDB crates); the CLI test reads the record after an export of the local serve.
const LAST_EXPORT_KEY: &str = "runs/latest.json";

const CREDENTIALS: &[Column] = &[
    column("credential", "/id"),
    narrow("label", "/label", 24),
    column("status", "/status"),
    column("last tick", "/last_sync/discovered_at"),
    column("projects", "/last_sync/projects"),
    column("commits", "/last_sync/commits"),
    column("last success", "/last_sync/last_success_at"),
    column("last error", "/last_sync/last_error"),
    column("at", "/last_sync/last_error_at"),
];

const FAILING: &[Column] = &[
    column("project", "/project_id"),
    narrow("path", "/path_with_namespace", 40),
    column("error", "/last_error/code"),
    column("since", "/last_error/at"),
    column("last success", "/last_success_at"),
];

pub async fn run(ctx: &Context) -> Result<(), CliError> {
    ctx.no_csv("status")?;
    let reply = ctx.api.get("credentials.list", None, &[]).await?;
    let credentials = items(&reply, credentials::LISTING)?.to_vec();
    let (failing, more_failing) = failing_projects(ctx).await?;
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    for credential in &credentials {
        let counts = credential["last_sync"]["project_statuses"].as_object();
        for (status, n) in counts.into_iter().flatten() {
            *statuses.entry(status.clone()).or_default() += n.as_u64().unwrap_or(0);
        }
    }
    let mut unreadable = Vec::new();
    let queues = queues(ctx, &mut unreadable).await;
    let last_export = last_export(ctx, &mut unreadable).await;
    let report = json!({
        "connection": ctx.api.connection(),
        "api_url": ctx.api.base_url(),
        "stack": ctx.stack.as_ref().map(|s| s.stack.clone()),
        "credentials": credentials,
        "project_statuses": statuses,
        "failing_projects": failing,
        "failing_projects_truncated": more_failing,
        "queues": queues,
        "last_export": last_export,
        "unreadable": unreadable,
    });
    match ctx.output {
        Output::Json => render::print_json(&report)?,
        _ => render::print(&screen(&report))?,
    }
    if unreadable.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failure(format!(
            "status: could not read {}",
            unreadable.join("; ")
        )))
    }
}

/// Every failing project, up to [`MAX_FAILING_PAGES`] pages; whether there were more.
async fn failing_projects(ctx: &Context) -> Result<(Vec<Value>, bool), CliError> {
    let mut projects = Vec::new();
    let query = [
        ("status", "failing".to_owned()),
        ("limit", "100".to_owned()),
    ];
    let more = each_page(ctx, projects::LISTING, &query, MAX_FAILING_PAGES, |items| {
        projects.extend_from_slice(items);
        Ok(())
    })
    .await?;
    Ok((projects, more))
}

/// The sync queue's messages and each dead-letter queue's, from the stack's queue URLs.
async fn queues(ctx: &Context, unreadable: &mut Vec<String>) -> Value {
    let Some(stack) = &ctx.stack else {
        return Value::Null;
    };
    let sqs = aws_sdk_sqs::Client::new(&ctx.aws);
    let mut counts = json!({});
    if let Some(url) = stack.get("SyncQueueUrl") {
        match queue_counts(&sqs, url).await {
            Ok((visible, in_flight, delayed)) => {
                counts["sync"] =
                    json!({"waiting": visible.saturating_add(delayed), "in_flight": in_flight});
            }
            Err(e) => unreadable.push(format!("the sync queue: {e}")),
        }
    }
    let mut dead = json!({});
    for (name, output) in DEAD_LETTER_QUEUES {
        let Some(url) = stack.get(output) else {
            continue;
        };
        match queue_counts(&sqs, url).await {
            Ok((visible, in_flight, delayed)) => {
                dead[*name] = json!(visible.saturating_add(in_flight).saturating_add(delayed));
            }
            Err(e) => unreadable.push(format!("the {name} dead-letter queue: {e}")),
        }
    }
    counts["dead_letters"] = dead;
    counts
}

async fn queue_counts(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<(u64, u64, u64), String> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .map_err(|e| error_chain(&e))?;
    let count = |name: QueueAttributeName| {
        attributes
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok((
        count(QueueAttributeName::ApproximateNumberOfMessages),
        count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        count(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
    ))
}

/// The exporter's record of its last run in the export bucket; `null` before the first.
async fn last_export(ctx: &Context, unreadable: &mut Vec<String>) -> Value {
    let Some(bucket) = ctx.stack.as_ref().and_then(|s| s.get("ExportBucketName")) else {
        return Value::Null;
    };
    // Path-style addressing against an endpoint of one's own (a stand-in on loopback has no bucket host names).
    let s3 = aws_sdk_s3::config::Builder::from(&ctx.aws)
        .force_path_style(ctx.aws.endpoint_url().is_some())
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(s3);
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(LAST_EXPORT_KEY)
        .send()
        .await;
    let object = match object {
        Ok(object) => object,
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
            return json!({"exported": false});
        }
        Err(e) => {
            // Without s3:ListBucket, S3 answers a missing object with 403: no export may have run yet.
            let denied = e
                .as_service_error()
                .and_then(aws_sdk_s3::error::ProvideErrorMetadata::code)
                == Some("AccessDenied");
            let hint = if denied {
                " (before the first export, S3 says this to a caller without s3:ListBucket on the bucket)"
            } else {
                ""
            };
            unreadable.push(format!("the last export: {}{hint}", error_chain(&e)));
            return Value::Null;
        }
    };
    match object.body.collect().await {
        Ok(bytes) => serde_json::from_slice(&bytes.into_bytes()).unwrap_or_else(|_| {
            unreadable.push(format!("the last export: {LAST_EXPORT_KEY} is no JSON"));
            Value::Null
        }),
        Err(e) => {
            unreadable.push(format!("the last export: {e}"));
            Value::Null
        }
    }
}

/// The report as one screen.
fn screen(report: &Value) -> String {
    let mut out = format!(
        "connection {} at {}",
        render::cell(&report["connection"]),
        render::cell(&report["api_url"])
    );
    if let Some(stack) = report["stack"].as_str() {
        out.push_str(&format!(" (stack {stack})"));
    }
    let empty = Vec::new();
    let credentials = report["credentials"].as_array().unwrap_or(&empty);
    out.push_str(&format!(
        "\n\ncredentials\n{}",
        render::table(CREDENTIALS, credentials)
    ));
    let statuses = counts(&report["project_statuses"]);
    out.push_str(&format!(
        "\n\nprojects at the last tick: {}",
        or_none(statuses)
    ));
    let failing = report["failing_projects"].as_array().unwrap_or(&empty);
    if failing.is_empty() {
        out.push_str("\nfailing projects: none");
    } else {
        let shown = &failing[..failing.len().min(FAILING_SHOWN)];
        out.push_str(&format!(
            "\nfailing projects: {}{}\n{}",
            failing.len(),
            if report["failing_projects_truncated"] == true {
                "+"
            } else {
                ""
            },
            render::table(FAILING, shown)
        ));
        if failing.len() > shown.len() {
            out.push_str("\n(more: projects list --status failing)");
        }
    }
    let queues = &report["queues"];
    if queues.is_null() {
        out.push_str("\n\nqueues and export: give --stack NAME to read them");
        return out;
    }
    let sync = &queues["sync"];
    out.push_str(&format!(
        "\n\nqueued syncs: {} waiting, {} running",
        render::cell(&sync["waiting"]),
        render::cell(&sync["in_flight"])
    ));
    let dead = counts(&queues["dead_letters"]);
    out.push_str(&format!("\ndead-letter messages: {}", or_none(dead)));
    let export = &report["last_export"];
    let export = match export["finished_at"].as_str() {
        Some(at) => format!(
            "{at}: {} rows in {} files, {} projects changed, {} failed, {} left for the next run; exported through {}",
            render::cell(&export["rows"]),
            render::cell(&export["files"]),
            render::cell(&export["changed_projects"]),
            render::cell(&export["failed"]),
            render::cell(&export["deferred"]),
            or_none(render::cell(&export["exported_through"]))
        ),
        None if export["exported"] == false => "none yet".to_owned(),
        None => "unknown".to_owned(),
    };
    out.push_str(&format!("\nlast export: {export}"));
    out
}

/// `{"a": 1, "b": 2}` as "a 1, b 2".
fn counts(named: &Value) -> String {
    let counts = named.as_object().into_iter().flatten();
    counts
        .map(|(name, n)| format!("{name} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn or_none(text: String) -> String {
    if text.is_empty() { "none".into() } else { text }
}
