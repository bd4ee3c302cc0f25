//! `commits list`.

use super::{Context, Listing, list};
use crate::args::CommitsCommand;
use crate::error::CliError;
use crate::render::{Column, column, narrow};

const TABLE: &[Column] = &[
    narrow("sha", "/sha", 12),
    column("committed at", "/committed_at"),
    narrow("author", "/author_name", 24),
    narrow("title", "/title", 60),
    column("removed at", "/removed_at"),
];

const CSV: &[Column] = &[
    column("sha", "/sha"),
    column("committed_at", "/committed_at"),
    column("author_name", "/author_name"),
    column("author_email", "/author_email"),
    column("authored_date", "/authored_date"),
    column("committer_name", "/committer_name"),
    column("committer_email", "/committer_email"),
    column("committed_date", "/committed_date"),
    column("title", "/title"),
    column("parent_ids", "/parent_ids"),
    column("additions", "/additions"),
    column("deletions", "/deletions"),
    column("total_changes", "/total_changes"),
    column("web_url", "/web_url"),
    column("project_path", "/project_path"),
    column("removed_at", "/removed_at"),
];

const LISTING: Listing = Listing {
    method: "commits.list",
    field: "commits",
    noun: "commits",
    table: TABLE,
    csv: CSV,
};

pub async fn run(ctx: &Context, command: CommitsCommand) -> Result<(), CliError> {
    let CommitsCommand::List(args) = command;
    let mut query = vec![("project_id", args.project_id.to_string())];
    if let Some(since) = args.since {
        query.push(("since", since));
    }
    if let Some(until) = args.until {
        query.push(("until", until));
    }
    if args.include_removed {
        query.push(("include_removed", "true".to_owned()));
    }
    list(ctx, LISTING, query, &args.page).await
}
