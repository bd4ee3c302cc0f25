//! The command line: global options as the AWS CLI has them, and one command per API route.

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::render::Output;

const ABOUT: &str =
    "Operate the GitLab commit importer: connect GitLab, watch projects, read commits";

const LONG_ABOUT: &str = "\
Operate the GitLab commit importer: connect GitLab, watch projects, read commits.

Requests are signed with your AWS credentials, found as the AWS CLI finds them (--profile, SSO logins, the
environment, instance and container roles). The API is found from the stack's outputs (--stack) or given
(--api-url).

Exit codes: 0 done; 1 our failure (the API, AWS or the network failed; try again); 2 the caller's fault (a bad
option, an unknown id: fix the command); 3 refused (not allowed by IAM, a token GitLab refuses, a conflict).";

#[derive(Debug, Parser)]
#[command(name = "gitlab-importer", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// The AWS profile that signs requests (as the AWS CLI's --profile)
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// The stack's AWS region (as the AWS CLI's --region; else the profile's or AWS_REGION)
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// The CloudFormation stack whose outputs name the API, its queues and its export bucket
    #[arg(
        long,
        global = true,
        env = "GITLAB_IMPORTER_STACK",
        hide_env_values = true
    )]
    pub stack: Option<String>,
    /// The API's base URL (the stack's CredentialsApiUrl output); wins over --stack
    #[arg(
        long,
        global = true,
        env = "GITLAB_IMPORTER_API_URL",
        hide_env_values = true
    )]
    pub api_url: Option<String>,
    /// The connection (tenant) to act on
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "GITLAB_IMPORTER_CONNECTION",
        hide_env_values = true
    )]
    pub connection: Option<String>,
    /// How to print: a table for people, the API's JSON for scripts, CSV for listings
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Connect GitLab: store, verify, show and delete the connection's tokens
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// The connection's push hook secret
    #[command(subcommand)]
    Hooks(HooksCommand),
    /// Where each project stands; sync or re-import one now
    #[command(subcommand)]
    Projects(ProjectsCommand),
    /// Run the connection's discovery now
    #[command(subcommand)]
    Connections(ConnectionsCommand),
    /// Read the imported commits back
    #[command(subcommand)]
    Commits(CommitsCommand),
    /// One screen: each credential's last sync, failing projects, queued syncs, dead letters, the last export
    Status,
    /// What to paste into GitLab's webhook form: the URL, the secret (with --rotate), the events to tick
    HookSetup {
        /// Make a new push hook secret and show it once (the old one stops working within a minute)
        #[arg(long)]
        rotate: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Verify a GitLab token and store it (the token is read from standard input, or asked for without echo)
    Create(CreateArgs),
    /// Change a credential's settings, or rotate its token with --token (verified again first)
    Update(UpdateArgs),
    /// One credential, with its last sync
    Info {
        /// The credential's id (cred_...)
        id: String,
    },
    /// The connection's credentials
    List {
        /// Also list deleted credentials
        #[arg(long)]
        include_deleted: bool,
    },
    /// Delete a credential (its token's secret is kept 7 days, then deleted)
    Delete {
        /// The credential's id (cred_...)
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The GitLab's URL, e.g. https://gitlab.com/ or https://git.example.com/gitlab/
    #[arg(long)]
    pub base_url: String,
    #[command(flatten)]
    pub fields: CredentialFields,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The credential's id (cred_...)
    pub id: String,
    /// Rotate the token: the new one is read from standard input, or asked for without echo
    #[arg(long)]
    pub token: bool,
    /// The GitLab's URL (the connection's instance cannot change)
    #[arg(long)]
    pub base_url: Option<String>,
    #[command(flatten)]
    pub fields: CredentialFields,
    /// Clear a setting (repeatable)
    #[arg(long, value_enum, value_name = "SETTING")]
    pub clear: Vec<Clearable>,
}

/// What `credentials create` sets and `credentials update` changes, beside the URL and the token.
#[derive(Debug, Args)]
pub struct CredentialFields {
    /// A name for people
    #[arg(long)]
    pub label: Option<String>,
    /// The day the token expires (YYYY-MM-DD)
    #[arg(long)]
    pub expiration_date: Option<String>,
    /// A PEM file of the CA certificates that sign the GitLab's TLS certificate (a private CA)
    #[arg(long, value_name = "FILE")]
    pub ca_bundle: Option<std::path::PathBuf>,
    /// GitLab requests per minute this credential may make
    #[arg(long)]
    pub requests_per_minute: Option<u32>,
    /// Import only projects whose path matches (repeatable, e.g. 'acme/platform/**'; an update replaces the list)
    #[arg(long, value_name = "PATTERN")]
    pub include: Vec<String>,
    /// Leave out projects whose path matches (repeatable, e.g. 'acme/*/sandbox'; an update replaces the list)
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,
}

/// Settings `credentials update --clear` can clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Clearable {
    Label,
    ExpirationDate,
    CaBundle,
    RequestsPerMinute,
    Include,
    Exclude,
}

#[derive(Debug, Subcommand)]
pub enum HooksCommand {
    /// Make a new push hook secret and show it once (the old one stops working within a minute)
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum ProjectsCommand {
    /// The connection's projects and their state, in project id order
    List {
        /// Only projects in this state
        #[arg(long, value_enum)]
        status: Option<ProjectStatus>,
        #[command(flatten)]
        page: Page,
    },
    /// One project: its state, the import in progress, its recent failures
    Info {
        /// GitLab's project id
        project_id: u64,
    },
    /// Sync one project now, a failing one too (a sync already queued or running covers the request)
    Sync {
        /// GitLab's project id
        project_id: u64,
    },
    /// Import a project's whole default branch again and reconcile the table with it
    Resync {
        /// GitLab's project id
        project_id: u64,
    },
}

/// A project's state, as `projects.list` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProjectStatus {
    Active,
    Failing,
    Forbidden,
    Excluded,
    Empty,
    Archived,
    Gone,
}

#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// Discover the connection's groups and projects and queue their syncs now, not at the next tick
    Sync,
}

#[derive(Debug, Subcommand)]
pub enum CommitsCommand {
    /// A project's imported commits, newest first
    List(CommitsArgs),
}

#[derive(Debug, Args)]
pub struct CommitsArgs {
    /// GitLab's project id
    #[arg(long)]
    pub project_id: u64,
    /// Commits at or after this time (RFC 3339, e.g. 2026-01-01T00:00:00Z)
    #[arg(long)]
    pub since: Option<String>,
    /// Commits before this time (RFC 3339)
    #[arg(long)]
    pub until: Option<String>,
    /// Also commits that left the default branch (with their removed_at)
    #[arg(long)]
    pub include_removed: bool,
    #[command(flatten)]
    pub page: Page,
}

/// Paging of a listing.
#[derive(Debug, Default, Args)]
pub struct Page {
    /// Items per page (1 to 100)
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub limit: Option<u16>,
    /// Go on from a page's next_cursor
    #[arg(long)]
    pub cursor: Option<String>,
    /// Follow the cursor to the end (a progress bar on standard error when it is a terminal)
    #[arg(long, conflicts_with = "cursor")]
    pub all: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
