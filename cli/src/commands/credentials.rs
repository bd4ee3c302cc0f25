//! `credentials create|update|info|list|delete`.

use serde_json::{Map, Value, json};

use super::Context;
use crate::args::{Clearable, CreateArgs, CredentialsCommand, UpdateArgs};
use crate::error::CliError;
use crate::render::{self, Column, Output, column, narrow};
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
            let reply = ctx.api.get("credentials.list", None, &query).await?;
            let items = reply["credentials"].as_array().ok_or_else(|| {
                CliError::Failure("credentials.list: the reply has no credentials list".into())
            })?;
            match ctx.output {
                Output::Json => render::print_json(&reply)?,
                Output::Csv => render::CsvRows::new(std::io::stdout().lock(), CSV)?.rows(items)?,
                Output::Table => render::print(&render::table(TABLE, items))?,
            }
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
    let mut settings = Map::new();
    settings.insert("base_url".into(), args.base_url.clone().into());
    if let Some(path) = &args.ca_bundle {
        settings.insert("ca_bundle".into(), read_ca_bundle(path)?.into());
    }
    if let Some(rate) = args.requests_per_minute {
        settings.insert("requests_per_minute".into(), rate.into());
    }
    if !args.include.is_empty() {
        settings.insert("include".into(), json!(args.include));
    }
    if !args.exclude.is_empty() {
        settings.insert("exclude".into(), json!(args.exclude));
    }
    let mut body = Map::new();
    body.insert("settings".into(), settings.into());
    if let Some(label) = &args.label {
        body.insert("label".into(), label.clone().into());
    }
    if let Some(date) = &args.expiration_date {
        body.insert("expiration_date".into(), date.clone().into());
    }
    Ok(body)
}

/// `credentials.update`'s body: the id, what is given, `null` for what `--clear` names; nothing else (kept).
fn update_body(args: &UpdateArgs) -> Result<Value, CliError> {
    let cleared = |setting: Clearable| args.clear.contains(&setting);
    let conflict = |given: bool, setting: Clearable, flag: &str| {
        if given && cleared(setting) {
            return Err(CliError::Usage(format!(
                "{flag} and --clear {} contradict each other",
                clap::ValueEnum::to_possible_value(&setting)
                    .map(|v| v.get_name().to_owned())
                    .unwrap_or_default()
            )));
        }
        Ok(())
    };
    conflict(args.label.is_some(), Clearable::Label, "--label")?;
    conflict(
        args.expiration_date.is_some(),
        Clearable::ExpirationDate,
        "--expiration-date",
    )?;
    conflict(args.ca_bundle.is_some(), Clearable::CaBundle, "--ca-bundle")?;
    conflict(
        args.requests_per_minute.is_some(),
        Clearable::RequestsPerMinute,
        "--requests-per-minute",
    )?;
    conflict(!args.include.is_empty(), Clearable::Include, "--include")?;
    conflict(!args.exclude.is_empty(), Clearable::Exclude, "--exclude")?;
    let mut body = Map::new();
    body.insert("id".into(), args.id.clone().into());
    let mut settings = Map::new();
    if let Some(url) = &args.base_url {
        settings.insert("base_url".into(), url.clone().into());
    }
    let set = |map: &mut Map<String, Value>, name: &str, value: Option<Value>, clear: Clearable| {
        if let Some(value) = value {
            map.insert(name.into(), value);
        } else if cleared(clear) {
            map.insert(name.into(), Value::Null);
        }
    };
    let ca_bundle = args.ca_bundle.as_deref().map(read_ca_bundle).transpose()?;
    set(
        &mut settings,
        "ca_bundle",
        ca_bundle.map(Value::from),
        Clearable::CaBundle,
    );
    set(
        &mut settings,
        "requests_per_minute",
        args.requests_per_minute.map(Value::from),
        Clearable::RequestsPerMinute,
    );
    let patterns = |list: &Vec<String>| (!list.is_empty()).then(|| json!(list));
    set(
        &mut settings,
        "include",
        patterns(&args.include),
        Clearable::Include,
    );
    set(
        &mut settings,
        "exclude",
        patterns(&args.exclude),
        Clearable::Exclude,
    );
    set(
        &mut body,
        "label",
        args.label.clone().map(Value::from),
        Clearable::Label,
    );
    set(
        &mut body,
        "expiration_date",
        args.expiration_date.clone().map(Value::from),
        Clearable::ExpirationDate,
    );
    if !settings.is_empty() {
        body.insert("settings".into(), settings.into());
    }
    let changes = body.len() > 1 || args.token;
    if !changes {
        return Err(CliError::Usage(
            "nothing to update: give --token, a setting, or --clear SETTING".into(),
        ));
    }
    Ok(body.into())
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
    }
}
