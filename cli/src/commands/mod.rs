//! One function per command: it calls the API and prints the answer in the chosen `--output`.

use std::collections::HashSet;
use std::io::IsTerminal;

use aws_config::SdkConfig;
use serde_json::Value;

use crate::api::Api;
use clap::CommandFactory as _;

use crate::args::{Cli, Command, Global, Page};
use crate::aws::{Signer, StackOutputs, sdk_config};
use crate::error::CliError;
use crate::render::{self, Column, CsvRows, JsonArray, Output};

mod commits;
mod credentials;
mod hooks;
mod projects;
mod status;

/// What every API command works with.
#[derive(Debug)]
pub struct Context {
    pub api: Api,
    pub output: Output,
    /// The stack's outputs, when `--stack` names it.
    pub stack: Option<StackOutputs>,
    pub aws: SdkConfig,
}

/// A connection id as the API takes it (`^[A-Za-z0-9_-]{1,64}$`, `shared::kernel::ids::ConnectionId`, written again
/// here as the CLI does not link the functions' library): a typo is told before anything is signed.
fn valid_connection(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

async fn context(global: &Global) -> Result<Context, CliError> {
    let connection = global.connection.as_deref().ok_or_else(|| {
        CliError::Usage(
            "which connection? give --connection ID or set GITLAB_IMPORTER_CONNECTION".into(),
        )
    })?;
    if !valid_connection(connection) {
        return Err(CliError::Usage(format!(
            "{connection:?} is no connection id (1 to 64 letters, digits, '_' or '-')"
        )));
    }
    let aws = sdk_config(global.profile.as_deref(), global.region.as_deref()).await;
    let stack = match &global.stack {
        Some(name) => Some(StackOutputs::read(&aws, name).await?),
        None => None,
    };
    let api_url = match (&global.api_url, &stack) {
        (Some(url), _) => url.clone(),
        (None, Some(stack)) => stack
            .get("CredentialsApiUrl")
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "stack {:?} has no CredentialsApiUrl output: is it the importer's stack?",
                    stack.stack
                ))
            })?
            .to_owned(),
        (None, None) => {
            return Err(CliError::Usage(
                "where is the API? give --stack NAME (its outputs name it) or --api-url URL".into(),
            ));
        }
    };
    let api = Api::new(&api_url, connection, Signer::new(&aws)?)?;
    Ok(Context {
        api,
        output: global.output,
        stack,
        aws,
    })
}

/// Runs a command: completions without AWS, the others against the API.
pub async fn run(global: &Global, command: Command) -> Result<(), CliError> {
    if let Command::Completions { shell } = command {
        // Into memory first: the generator panics on a write error, and `| head` is one.
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "gitlab-importer", &mut script);
        return render::print(String::from_utf8_lossy(&script).trim_end());
    }
    let ctx = context(global).await?;
    match command {
        Command::Credentials(command) => credentials::run(&ctx, command).await,
        Command::Hooks(command) => hooks::run(&ctx, command).await,
        Command::Projects(command) => projects::run(&ctx, command).await,
        Command::Connections(command) => projects::run_connection(&ctx, command).await,
        Command::Commits(command) => commits::run(&ctx, command).await,
        Command::Status => status::run(&ctx).await,
        Command::HookSetup { rotate } => hooks::setup(&ctx, rotate).await,
        Command::Completions { .. } => unreachable!("printed above"),
    }
}

impl Context {
    /// Commands whose answer is not a listing take no `--output csv`.
    fn no_csv(&self, command: &str) -> Result<(), CliError> {
        if self.output == Output::Csv {
            return Err(CliError::Usage(format!(
                "{command} prints no CSV: use --output table or json"
            )));
        }
        Ok(())
    }

    /// Prints a reply: its JSON, or `table` of it.
    fn show(&self, reply: &Value, table: impl FnOnce(&Value) -> String) -> Result<(), CliError> {
        match self.output {
            Output::Json => render::print_json(reply),
            _ => render::print(&table(reply)),
        }
    }
}

/// A listing's two sets of columns: few and narrow for a table, all of them in CSV.
#[derive(Debug, Clone, Copy)]
pub struct Listing {
    /// The API method (`projects.list`).
    pub method: &'static str,
    /// The reply's field holding the items.
    pub field: &'static str,
    /// What an item is, for the progress bar.
    pub noun: &'static str,
    pub table: &'static [Column],
    pub csv: &'static [Column],
}

/// Pages followed with `--all` at most: far more than any listing has, a bound on a cursor that never ends.
const MAX_PAGES: usize = 1_000_000;

/// Lists one page, or with `--all` every page from the first, streamed as it arrives (a table is printed at the
/// end); the query holds the listing's filters.
pub async fn list(
    ctx: &Context,
    listing: Listing,
    mut query: Vec<(&'static str, String)>,
    page: &Page,
) -> Result<(), CliError> {
    if let Some(limit) = page.limit {
        query.push(("limit", limit.to_string()));
    }
    if !page.all {
        if let Some(cursor) = &page.cursor {
            query.push(("cursor", cursor.clone()));
        }
        let reply = ctx.api.get(listing.method, None, &query).await?;
        let items = items(&reply, listing)?;
        match ctx.output {
            Output::Json => render::print_json(&reply)?,
            Output::Csv => CsvRows::new(std::io::stdout().lock(), listing.csv)?.rows(items)?,
            Output::Table => {
                render::print(&render::table(listing.table, items))?;
                if let Some(next) = reply["next_cursor"].as_str() {
                    eprintln!("more: --cursor {next} (or --all)");
                }
            }
        }
        return Ok(());
    }
    let progress = progress_bar(listing.noun);
    let stdout = std::io::stdout();
    let mut json = (ctx.output == Output::Json)
        .then(|| JsonArray::new(stdout.lock()))
        .transpose()?;
    let mut csv = (ctx.output == Output::Csv)
        .then(|| CsvRows::new(stdout.lock(), listing.csv))
        .transpose()?;
    let mut table_rows = Vec::new();
    let more = each_page(ctx, listing, &query, MAX_PAGES, |items| {
        progress.inc(items.len() as u64);
        match (&mut json, &mut csv) {
            (Some(json), _) => json.items(items),
            (_, Some(csv)) => csv.rows(items),
            _ => {
                table_rows.extend(items.iter().cloned());
                Ok(())
            }
        }
    })
    .await?;
    progress.finish_and_clear();
    if more {
        return Err(CliError::Failure(format!(
            "{}: more than {MAX_PAGES} pages; stopped",
            listing.method
        )));
    }
    match json {
        Some(json) => json.finish(),
        None if csv.is_none() => render::print(&render::table(listing.table, &table_rows)),
        None => Ok(()),
    }
}

/// Reads `listing` page by page from the first, following `next_cursor` to its end, and hands each page's items
/// to `on_page`; at most `max_pages` pages: whether more were left. A cursor seen before is the API's failure (the
/// listing would loop), never a reason to go round again.
pub async fn each_page(
    ctx: &Context,
    listing: Listing,
    query: &[(&'static str, String)],
    max_pages: usize,
    mut on_page: impl FnMut(&[Value]) -> Result<(), CliError>,
) -> Result<bool, CliError> {
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    for _ in 0..max_pages {
        let mut page_query = query.to_vec();
        if let Some(cursor) = &cursor {
            page_query.push(("cursor", cursor.clone()));
        }
        let reply = ctx.api.get(listing.method, None, &page_query).await?;
        on_page(items(&reply, listing)?)?;
        cursor = reply["next_cursor"].as_str().map(str::to_owned);
        let Some(next) = &cursor else {
            return Ok(false);
        };
        if !seen.insert(next.clone()) {
            return Err(CliError::Failure(format!(
                "{}: the API gave a cursor it gave before; stopped rather than loop",
                listing.method
            )));
        }
    }
    Ok(true)
}

fn items(reply: &Value, listing: Listing) -> Result<&[Value], CliError> {
    reply[listing.field]
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| {
            CliError::Failure(format!(
                "{}: the reply has no {} list",
                listing.method, listing.field
            ))
        })
}

/// A spinner counting items on standard error, drawn only when standard error is a terminal.
fn progress_bar(noun: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    let style = indicatif::ProgressStyle::with_template(&format!(
        "{{spinner}} {{pos}} {noun} ({{elapsed}})"
    ))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_ids_are_checked_before_signing() {
        assert!(valid_connection("acme-prod_2"));
        assert!(!valid_connection(""));
        assert!(!valid_connection("acme/prod"));
        assert!(!valid_connection(&"a".repeat(65)));
    }
}
