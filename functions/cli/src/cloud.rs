//! `llbridge config push FILE --table NAME` and `llbridge config show --table NAME`: the
//! installation config of a deployed stack, kept in its DynamoDB table (the stack's `TableName`
//! output). AWS credentials and region come from the usual environment (profile, variables);
//! `AWS_ENDPOINT_URL` points them at an emulator.

use std::path::Path;

use anyhow::Context;
use clap::Args;
use llbridge_aws::{load_sdk_config, DynamoStore};
use llbridge_domain::config::SecretRef;
use llbridge_usecases::config_store::{self, PushError, CONFIG_KEY};

/// Which deployed stack.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// The stack's name: its table and secret from its outputs.
    #[arg(long)]
    stack: Option<String>,
    /// The DynamoDB table (the stack's `TableName` output).
    #[arg(long)]
    table: Option<String>,
}

impl Target {
    /// The table, and the secret the stack's functions may read (known with --stack).
    async fn resolve(&self) -> anyhow::Result<(String, Option<String>)> {
        match (&self.stack, &self.table) {
            (Some(name), _) => {
                let stack = crate::stack::describe(name).await?;
                Ok((stack.table, stack.config_secret))
            }
            (None, Some(table)) => Ok((table.clone(), None)),
            (None, None) => anyhow::bail!("give --stack NAME or --table TABLE"),
        }
    }
}

/// The secret references of `text` that name another secret than `secret`, with their paths.
fn foreign_secrets(text: &str, secret: &str) -> Vec<String> {
    let Ok(inst) = llbridge_crm_registry::parse(text) else {
        return Vec::new();
    };
    inst.secret_refs()
        .into_iter()
        .filter_map(|(path, r)| match r {
            SecretRef::Managed { secret: s, .. } if s != secret => {
                Some(format!("{path}: names the secret {s}"))
            }
            _ => None,
        })
        .collect()
}

async fn store(table: &str) -> DynamoStore {
    DynamoStore::new(&load_sdk_config().await, table)
}

/// Validates FILE as a deployed config (every error with its JSON path; secrets must be Secrets
/// Manager references) and stores it in TABLE. The functions pick it up within 30 s.
pub async fn push(file: &Path, target: &Target) -> anyhow::Result<()> {
    let (table, secret) = target.resolve().await?;
    let table = table.as_str();
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    if let Some(secret) = &secret {
        let foreign = foreign_secrets(&text, secret);
        if !foreign.is_empty() {
            anyhow::bail!(
                "{} names secrets the stack cannot read (its functions may read {secret} only; nothing was stored):\n{}",
                file.display(),
                foreign.join("\n")
            );
        }
    }
    match config_store::push(&store(table).await, &text, llbridge_crm_registry::crms()).await {
        Ok(pushed) => {
            println!("{}", pushed.installation.summary());
            println!(
                "stored in table {table} under {CONFIG_KEY} (version {}); the functions use it within 30 s",
                pushed.version
            );
            Ok(())
        }
        Err(PushError::Invalid(errors)) => Err(anyhow::anyhow!(
            "{} is not a valid deployed config (nothing was stored):\n{errors}",
            file.display()
        )),
        Err(PushError::Store(e)) => {
            Err(anyhow::anyhow!(e).context(format!("cannot store the config in table {table}")))
        }
    }
}

/// Prints the stored config (it holds secret references only, never secret values).
pub async fn show(target: &Target) -> anyhow::Result<()> {
    let (table, _) = target.resolve().await?;
    let table = table.as_str();
    let stored = config_store::show(&store(table).await)
        .await
        .with_context(|| format!("cannot read the config from table {table}"))?;
    match stored {
        Some(text) => {
            println!("{}", text.trim_end());
            Ok(())
        }
        None => anyhow::bail!(
            "no config in table {table} (key {CONFIG_KEY}): push one with `llbridge config push FILE --table {table}`"
        ),
    }
}
