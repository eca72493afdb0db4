//! `llbridge doctor (--config FILE | --stack NAME | --table T) [--json]`: every check of the
//! setup against the live Dialpad API and CRM connections, as a table with the fix of each
//! failure. Exits 1 when a check fails.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use llbridge_aws::{load_sdk_config, DynamoStore, SecretsManagerSecrets};
use llbridge_domain::config::{SecretRef, SANDBOX};
use llbridge_domain::Installation;
use llbridge_memory::{MemorySecrets, MemoryStore};
use llbridge_usecases::doctor::{self, Checkup, Verdict};
use llbridge_usecases::ports::{Clock, Secrets, SystemClock};

/// Where the config to check comes from.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct Source {
    /// An installation config file (Secrets Manager references are read from AWS).
    #[arg(long)]
    config: Option<PathBuf>,
    /// A deployed stack's table (its `TableName` output): the config pushed there.
    #[arg(long)]
    table: Option<String>,
    /// A deployed stack's name: the config pushed to its table.
    #[arg(long)]
    stack: Option<String>,
}

pub async fn run(source: &Source, json: bool) -> anyhow::Result<ExitCode> {
    let stack_table = match &source.stack {
        Some(name) => Some(crate::stack::describe(name).await?.table),
        None => source.table.clone(),
    };
    let inst = match (&source.config, &stack_table) {
        (Some(file), _) => crate::read_config(file)?,
        (None, Some(table)) => {
            let store = DynamoStore::new(&load_sdk_config().await, table);
            let text = llbridge_usecases::config_store::show(&store)
                .await
                .with_context(|| format!("cannot read the config from table {table}"))?
                .with_context(|| format!("no config in table {table}: push one first"))?;
            llbridge_crm_registry::parse(&text)
                .map_err(|e| anyhow::anyhow!("the config in table {table} is not valid:\n{e}"))?
        }
        (None, None) => anyhow::bail!("give --config FILE, --stack NAME or --table T"),
    };
    if uses_sandbox(&inst) {
        anyhow::bail!(
            "the config points at \"sandbox\": run `llbridge sandbox` and put the URLs it prints in a copy of the config"
        );
    }
    let managed = inst
        .secret_refs()
        .iter()
        .any(|(_, r)| matches!(r, SecretRef::Managed { .. }));
    let secrets: Arc<dyn Secrets> = if managed || stack_table.is_some() {
        Arc::new(SecretsManagerSecrets::new(&load_sdk_config().await))
    } else {
        Arc::new(MemorySecrets::new())
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let clients = llbridge_crm_registry::HttpClients::new(
        secrets,
        Arc::new(MemoryStore::new(clock.clone())),
        clock.clone(),
    )?;
    let checkup = doctor::run(&inst, &clients, clock.now_ms()).await;
    if json {
        println!("{}", serde_json::to_string_pretty(&checkup)?);
    } else {
        print!("{}", table(&checkup));
    }
    Ok(if checkup.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn uses_sandbox(inst: &Installation) -> bool {
    inst.dialpad.api_base_url == SANDBOX || inst.connections.values().any(|c| c.uses_sandbox())
}

/// The checks as a table: result, where, what, and the fix under each warning and failure.
pub fn table(checkup: &Checkup) -> String {
    let scope_w = checkup
        .checks
        .iter()
        .map(|c| c.scope.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let check_w = checkup
        .checks
        .iter()
        .map(|c| c.check.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = format!(
        "{:<6} {:<scope_w$} {:<check_w$} DETAIL\n",
        "RESULT", "SCOPE", "CHECK"
    );
    for c in &checkup.checks {
        out.push_str(&format!(
            "{:<6} {:<scope_w$} {:<check_w$} {}\n",
            c.verdict.as_str(),
            c.scope,
            c.check,
            c.detail
        ));
        if let Some(fix) = &c.fix {
            out.push_str(&format!(
                "{:<6} {:<scope_w$} {:<check_w$} fix: {fix}\n",
                "", "", ""
            ));
        }
    }
    out.push_str(&format!(
        "{} passed, {} warnings, {} failed\n",
        checkup.count(Verdict::Pass),
        checkup.count(Verdict::Warn),
        checkup.count(Verdict::Fail)
    ));
    out
}
