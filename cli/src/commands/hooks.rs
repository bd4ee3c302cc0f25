//! `hooks rotate` and `hook-setup`.

use serde_json::{Value, json};

use super::Context;
use crate::args::HooksCommand;
use crate::error::CliError;

/// The webhook form's event to tick: the only one the push hook acts on.
const EVENTS: &[&str] = &["Push events"];

pub async fn run(ctx: &Context, command: HooksCommand) -> Result<(), CliError> {
    match command {
        HooksCommand::Rotate => {
            ctx.no_csv("hooks rotate")?;
            let reply = ctx.api.post("hooks.rotate", None).await?;
            let secret = secret_of(&reply)?;
            ctx.show(&reply, |_| {
                format!(
                    "new push hook secret (shown this once; the old one stops working within a minute):\n{secret}"
                )
            })
        }
    }
}

fn secret_of(reply: &Value) -> Result<&str, CliError> {
    reply["push_hook"]["secret"]
        .as_str()
        .ok_or_else(|| CliError::Failure("hooks.rotate: the reply has no secret".into()))
}

/// The push hook URL of the connection: the stack's `PushHookUrl` output, else the API's route.
fn hook_url(ctx: &Context) -> String {
    let connection = ctx.api.connection();
    match ctx.stack.as_ref().and_then(|s| s.get("PushHookUrl")) {
        Some(template) => template.replace("{connection_id}", connection),
        None => format!(
            "{}/connections/{connection}/hooks/gitlab",
            ctx.api.base_url()
        ),
    }
}

pub async fn setup(ctx: &Context, rotate: bool) -> Result<(), CliError> {
    ctx.no_csv("hook-setup")?;
    let secret = if rotate {
        let reply = ctx.api.post("hooks.rotate", None).await?;
        Some(secret_of(&reply)?.to_owned())
    } else {
        None
    };
    let url = hook_url(ctx);
    let reply = json!({
        "url": url,
        "secret": secret,
        "events": EVENTS,
        "ssl_verification": true,
    });
    ctx.show(&reply, |_| {
        let secret_line = match &secret {
            Some(secret) => format!("{secret}\n                (shown this once: paste it now)"),
            None => "the one `credentials create` showed for this connection; `hook-setup --rotate` makes \
                     a new one"
                .to_owned(),
        };
        format!(
            "In GitLab: the project (or group) > Settings > Webhooks > Add new webhook\n\
             \n  URL           {url}\
             \n  Secret token  {secret_line}\
             \n  Trigger       {} (optionally filtered to the default branch)\
             \n  SSL           Enable SSL verification\n",
            EVENTS.join(", ")
        )
    })
}
