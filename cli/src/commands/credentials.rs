//! `credentials create|update|info|list|delete`.

use serde_json::{Map, Value, json};

use super::{Context, Listing, list};
use crate::args::{Clearable, CreateArgs, CredentialFields, CredentialsCommand, Page, UpdateArgs};
use crate::error::CliError;
use crate::render::{self, Column, column, narrow};
use crate::token::read_token;

/// A CA bundle larger than the API's whole body limit (64 KiB) cannot be sent.
const MAX_CA_BUNDLE_BYTES: u64 = 60 * 1024;

const TABLE: &[Column] = &[
    column("id", "/id"),
    narrow("label", "/label", 24),
    column("status", "/status"),
    narrow("gitlab", "/settings/base_url", 40),
    column("token", "/token_fingerprint"),
    column("projects", "/last_sync/projects"),
    column("commits", "/last_sync/commits"),
    column("last success", "/last_sync/last_success_at"),
    column("last error", "/last_sync/last_error"),
];

pub const LISTING: Listing = Listing {
    method: "credentials.list",
    field: "credentials",
    noun: "credentials",
    table: TABLE,
    csv: CSV,
};

const CSV: &[Column] = &[
    column("id", "/id"),
    column("label", "/label"),
    column("status", "/status"),
    column("base_url", "/settings/base_url"),
    column("token_fingerprint", "/token_fingerprint"),
    column("expiration_date", "/expiration_date"),
    column("scopes", "/scopes"),
    column("excess_scopes", "/excess_scopes"),
    column("include", "/settings/include"),
    column("exclude", "/settings/exclude"),
    column("created_at", "/created_at"),
    column("deleted_at", "/deleted_at"),
    column("projects", "/last_sync/projects"),
    column("commits", "/last_sync/commits"),
    column("discovered_at", "/last_sync/discovered_at"),
    column("last_success_at", "/last_sync/last_success_at"),
    column("last_error", "/last_sync/last_error"),
    column("last_error_at", "/last_sync/last_error_at"),
];

pub async fn run(ctx: &Context, command: CredentialsCommand) -> Result<(), CliError> {
    match command {
        CredentialsCommand::Create(args) => {
            ctx.no_csv("credentials create")?;
            let body = create_body(&args)?;
            let mut body = Value::Object(body);
            body["secrets"] = json!({ "api_token": read_token()? });
            let reply = ctx.api.post("credentials.create", Some(&body)).await?;
            show_credential(ctx, &reply)?;
        }
        CredentialsCommand::Update(args) => {
            ctx.no_csv("credentials update")?;
            let mut body = update_body(&args)?;
            if args.token {
                body["secrets"] = json!({ "api_token": read_token()? });
            }
            let reply = ctx.api.post("credentials.update", Some(&body)).await?;
            show_credential(ctx, &reply)?;
        }
        CredentialsCommand::Info { id } => {
            ctx.no_csv("credentials info")?;
            let reply = ctx.api.get("credentials.info", Some(&id), &[]).await?;
            show_credential(ctx, &reply)?;
        }
        CredentialsCommand::List { include_deleted } => {
            let query = if include_deleted {
                vec![("include_deleted", "true".to_owned())]
            } else {
                Vec::new()
            };
            // One page: the API lists a connection's credentials whole.
            list(ctx, LISTING, query, &Page::default()).await?;
        }
        CredentialsCommand::Delete { id } => {
            ctx.no_csv("credentials delete")?;
            let reply = ctx
                .api
                .post("credentials.delete", Some(&json!({ "id": id })))
                .await?;
            show_credential(ctx, &reply)?;
        }
    }
    Ok(())
}

/// The credential of a reply as a table, and a push hook secret the reply shows (once).
fn show_credential(ctx: &Context, reply: &Value) -> Result<(), CliError> {
    ctx.show(reply, |reply| {
        let mut text = render::object_table(&reply["credential"]);
        if let Some(url) = reply["push_hook"]["url"].as_str() {
            text.push_str(&format!("\n\npush hook URL: {url}"));
        }
        if let Some(secret) = reply["push_hook"]["secret"].as_str() {
            text.push_str(&format!(
                "\npush hook secret (shown this once; paste it into GitLab's webhook form): {secret}"
            ));
        }
        text
    })
}

fn create_body(args: &CreateArgs) -> Result<Map<String, Value>, CliError> {
    body(Some(&args.base_url), &args.fields, &[])
}

/// `credentials.update`'s body: the id, what is given, `null` for what `--clear` names; nothing else (kept).
fn update_body(args: &UpdateArgs) -> Result<Value, CliError> {
    let mut body = body(args.base_url.as_deref(), &args.fields, &args.clear)?;
    if body.is_empty() && !args.token {
        return Err(CliError::Usage(
            "nothing to update: give --token, a setting, or --clear SETTING".into(),
        ));
    }
    body.insert("id".into(), args.id.clone().into());
    Ok(body.into())
}

/// Where a field goes in a body.
#[derive(Debug, Clone, Copy)]
enum Place {
    Top,
    Settings,
}

/// A body of the fields given (`settings.base_url` with `base_url`), with `null` for those `clear` names.
fn body(
    base_url: Option<&str>,
    fields: &CredentialFields,
    clear: &[Clearable],
) -> Result<Map<String, Value>, CliError> {
    let patterns = |list: &Vec<String>| (!list.is_empty()).then(|| json!(list));
    let ca_bundle = fields
        .ca_bundle
        .as_deref()
        .map(read_ca_bundle)
        .transpose()?;
    let given = [
        (
            Clearable::Label,
            Place::Top,
            fields.label.clone().map(Value::from),
        ),
        (
            Clearable::ExpirationDate,
            Place::Top,
            fields.expiration_date.clone().map(Value::from),
        ),
        (
            Clearable::CaBundle,
            Place::Settings,
            ca_bundle.map(Value::from),
        ),
        (
            Clearable::RequestsPerMinute,
            Place::Settings,
            fields.requests_per_minute.map(Value::from),
        ),
        (
            Clearable::Include,
            Place::Settings,
            patterns(&fields.include),
        ),
        (
            Clearable::Exclude,
            Place::Settings,
            patterns(&fields.exclude),
        ),
    ];
    let mut body = Map::new();
    let mut settings = Map::new();
    if let Some(url) = base_url {
        settings.insert("base_url".into(), url.into());
    }
    for (field, place, value) in given {
        // The flag's and `--clear`'s name (`expiration-date`); the body's is the same with `_`.
        let flag = clap::ValueEnum::to_possible_value(&field)
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default();
        let value = match (value, clear.contains(&field)) {
            (Some(_), true) => {
                return Err(CliError::Usage(format!(
                    "--{flag} and --clear {flag} contradict each other"
                )));
            }
            (Some(value), false) => value,
            (None, true) => Value::Null,
            (None, false) => continue,
        };
        let name = flag.replace('-', "_");
        match place {
            Place::Top => body.insert(name, value),
            Place::Settings => settings.insert(name, value),
        };
    }
    if !settings.is_empty() {
        body.insert("settings".into(), settings.into());
    }
    Ok(body)
}

fn read_ca_bundle(path: &std::path::Path) -> Result<String, CliError> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::Usage(format!("--ca-bundle {}: {e}", path.display())))?;
    let mut text = String::new();
    file.take(MAX_CA_BUNDLE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| CliError::Usage(format!("--ca-bundle {}: {e}", path.display())))?;
    if text.len() as u64 > MAX_CA_BUNDLE_BYTES {
        return Err(CliError::Usage(format!(
            "--ca-bundle {}: more than {MAX_CA_BUNDLE_BYTES} bytes",
            path.display()
        )));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};

    fn update(line: &[&str]) -> Result<Value, CliError> {
        let cli = Cli::try_parse_from(
            ["gitlab-importer", "credentials", "update", "cred_1"]
                .iter()
                .chain(line),
        )
        .unwrap();
        match cli.command {
            Command::Credentials(CredentialsCommand::Update(args)) => update_body(&args),
            _ => unreachable!(),
        }
    }

    #[test]
    fn updates_send_what_is_given_and_null_for_what_is_cleared() {
        assert_eq!(
            update(&["--label", "L", "--clear", "include", "--exclude", "a/*"]).unwrap(),
            json!({"id": "cred_1", "label": "L", "settings": {"include": null, "exclude": ["a/*"]}})
        );
        assert!(matches!(update(&[]), Err(CliError::Usage(_))));
        assert!(matches!(
            update(&["--label", "L", "--clear", "label"]),
            Err(CliError::Usage(_))
        ));
        assert_eq!(update(&["--token"]).unwrap(), json!({"id": "cred_1"}));
        assert_eq!(
            update(&["--clear", "expiration-date", "--requests-per-minute", "60"]).unwrap(),
            json!({"id": "cred_1", "expiration_date": null, "settings": {"requests_per_minute": 60}})
        );
    }
}
