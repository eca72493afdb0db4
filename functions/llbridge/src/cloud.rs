//! `llbridge config push FILE --table NAME` and `llbridge config show --table NAME`: the
//! installation config of a deployed stack, kept in its DynamoDB table (the stack's `TableName`
//! output). AWS credentials and region come from the usual environment (profile, variables);
//! `AWS_ENDPOINT_URL` points them at an emulator.

use std::path::Path;

use anyhow::Context;
use llbridge_app::config_store::{self, PushError, CONFIG_KEY};
use llbridge_aws::{load_sdk_config, DynamoStore};

async fn store(table: &str) -> DynamoStore {
    DynamoStore::new(&load_sdk_config().await, table)
}

/// Validates FILE as a deployed config (every error with its JSON path; secrets must be Secrets
/// Manager references) and stores it in TABLE. The functions pick it up within 30 s.
pub async fn push(file: &Path, table: &str) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    match config_store::push(&store(table).await, &text).await {
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
pub async fn show(table: &str) -> anyhow::Result<()> {
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
