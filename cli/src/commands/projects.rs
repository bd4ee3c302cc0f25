//! `projects list|info|sync|resync` and `connections sync`.

use serde_json::{Value, json};

use super::{Context, Listing, list};
use crate::args::{ConnectionsCommand, ProjectsCommand};
use crate::error::CliError;
use crate::render::{self, Column, column, narrow};

const TABLE: &[Column] = &[
    column("id", "/project_id"),
    narrow("path", "/path_with_namespace", 40),
    column("status", "/status"),
    narrow("head", "/last_head", 12),
    column("commits", "/commits_written"),
    column("last synced", "/last_synced_at"),
    column("last error", "/last_error"),
    column("queued", "/sync_queued"),
];

const CSV: &[Column] = &[
    column("project_id", "/project_id"),
    column("path_with_namespace", "/path_with_namespace"),
    column("default_branch", "/default_branch"),
    column("status", "/status"),
    column("last_head", "/last_head"),
    column("commits_written", "/commits_written"),
    column("last_synced_at", "/last_synced_at"),
    column("last_success_at", "/last_success_at"),
    column("last_error", "/last_error/code"),
    column("last_error_at", "/last_error/at"),
    column("access_error", "/access_error/code"),
    column("access_error_at", "/access_error/at"),
    column("verified_at", "/verified_at"),
    column("sync_queued", "/sync_queued"),
    column("seen_at", "/seen_at"),
    column("gone_at", "/gone_at"),
];

pub const LISTING: Listing = Listing {
    method: "projects.list",
    field: "projects",
    noun: "projects",
    table: TABLE,
    csv: CSV,
};

pub async fn run(ctx: &Context, command: ProjectsCommand) -> Result<(), CliError> {
    match command {
        ProjectsCommand::List { status, page } => {
            let query = status
                .and_then(|s| clap::ValueEnum::to_possible_value(&s))
                .map(|s| vec![("status", s.get_name().to_owned())])
                .unwrap_or_default();
            list(ctx, LISTING, query, &page).await
        }
        ProjectsCommand::Info { project_id } => {
            ctx.no_csv("projects info")?;
            let id = project_id.to_string();
            let reply = ctx.api.get("projects.info", Some(&id), &[]).await?;
            ctx.show(&reply, |reply| render::object_table(&reply["project"]))
        }
        ProjectsCommand::Sync { project_id } => request(ctx, "projects.sync", project_id).await,
        ProjectsCommand::Resync { project_id } => request(ctx, "projects.resync", project_id).await,
    }
}

async fn request(ctx: &Context, method: &'static str, project_id: u64) -> Result<(), CliError> {
    ctx.no_csv(method)?;
    let body = json!({ "project_id": project_id });
    let reply = ctx.api.post(method, Some(&body)).await?;
    ctx.show(&reply, |reply| {
        let what = if method == "projects.resync" {
            "re-import"
        } else {
            "sync"
        };
        format!("project {project_id}: {what} {}", said(reply))
    })
}

/// `queued`, or `covered` and by what.
fn said(reply: &Value) -> String {
    match reply["sync"].as_str() {
        Some("covered") => "covered (one is already queued or running)".into(),
        Some(other) => other.to_owned(),
        None => "requested".into(),
    }
}

pub async fn run_connection(ctx: &Context, command: ConnectionsCommand) -> Result<(), CliError> {
    match command {
        ConnectionsCommand::Sync => {
            ctx.no_csv("connections sync")?;
            let reply = ctx.api.post("connections.sync", None).await?;
            ctx.show(&reply, |reply| {
                format!(
                    "connection {}: discovery {}",
                    ctx.api.connection(),
                    said(reply)
                )
            })
        }
    }
}
