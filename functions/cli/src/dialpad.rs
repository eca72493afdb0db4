//! `llbridge dialpad connect (--stack NAME | --config FILE --webhook-url URL) [--dry-run]`:
//! Dialpad's webhook, call-event subscriptions and call routers made to match the config, one
//! line per object (`created`, `updated`, `unchanged`); running it twice changes nothing.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use llbridge_aws::{load_sdk_config, DynamoStore, SecretsManagerSecrets};
use llbridge_domain::config::{SecretRef, SANDBOX};
use llbridge_domain::Installation;
use llbridge_memory::{MemorySecrets, MemoryStore};
use llbridge_usecases::connect;
use llbridge_usecases::crm::Clients;
use llbridge_usecases::ports::{Clock, Secrets, SystemClock};

/// `dialpad connect`'s arguments.
#[derive(Args)]
pub struct ConnectArgs {
    /// A deployed stack: its config, and its webhook URL (the `WebhookUrl` output).
    #[arg(long, conflicts_with_all = ["config", "webhook_url"])]
    stack: Option<String>,
    /// An installation config file (Secrets Manager references are read from AWS).
    #[arg(long, requires = "webhook_url")]
    config: Option<PathBuf>,
    /// The URL Dialpad posts call events to (with --config).
    #[arg(long)]
    webhook_url: Option<String>,
    /// Assign a number to a router of the config's routing: NAME=+14155550100 (repeatable).
    #[arg(long = "router-number", value_name = "NAME=NUMBER")]
    router_numbers: Vec<String>,
    /// Say what would change, change nothing.
    #[arg(long)]
    dry_run: bool,
}

pub async fn connect(args: &ConnectArgs) -> anyhow::Result<ExitCode> {
    let (inst, hook_url, managed_store) = match (&args.stack, &args.config, &args.webhook_url) {
        (Some(name), _, _) => {
            let stack = crate::stack::describe(name).await?;
            let url = stack
                .webhook_url
                .with_context(|| format!("the stack {name} has no WebhookUrl output"))?;
            let store = DynamoStore::new(&load_sdk_config().await, &stack.table);
            let text = llbridge_usecases::config_store::show(&store)
                .await
                .with_context(|| format!("cannot read the config from table {}", stack.table))?
                .with_context(|| format!("no config in table {}: push one first", stack.table))?;
            let inst = llbridge_crm_registry::parse(&text).map_err(|e| {
                anyhow::anyhow!("the config in table {} is not valid:\n{e}", stack.table)
            })?;
            (inst, url, true)
        }
        (None, Some(file), Some(url)) => (crate::read_config(file)?, url.clone(), false),
        _ => anyhow::bail!("give --stack NAME, or --config FILE --webhook-url URL"),
    };
    if inst.dialpad.api_base_url == SANDBOX {
        anyhow::bail!("the config's dialpad.api_base_url is \"sandbox\": put the URL `llbridge sandbox` prints in a copy of the config");
    }
    let secrets = secrets_for(&inst, managed_store).await;
    let secret_ref = inst
        .dialpad
        .webhook_secrets
        .first()
        .context("the config has no webhook secret: Dialpad's events would not be signed")?;
    let secret = secrets
        .get(secret_ref)
        .await
        .context("cannot read the config's first webhook secret")?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let clients = llbridge_crm_registry::HttpClients::new(
        secrets.clone(),
        Arc::new(MemoryStore::new(clock.clone())),
        clock,
    )?;
    let dialpad = clients
        .dialpad(&inst)
        .await
        .context("cannot use the Dialpad API key (dialpad.api_key)")?;
    let mut plans = Vec::new();
    for (name, entry) in &inst.routing {
        let secret = secrets
            .get(&entry.secret)
            .await
            .with_context(|| format!("cannot read the secret of router {name}"))?;
        plans.push(connect::RouterPlan {
            name: name.clone(),
            secret: secret.expose().to_owned(),
            numbers: Vec::new(),
        });
    }
    for spec in &args.router_numbers {
        let (name, number) = spec
            .split_once('=')
            .with_context(|| format!("--router-number {spec}: give NAME=+1…"))?;
        let plan = plans
            .iter_mut()
            .find(|p| p.name == name.trim())
            .with_context(|| {
                format!("--router-number {spec}: the config's routing has no router {name}")
            })?;
        let number = llbridge_domain::phone::Phone::parse(number)
            .with_context(|| format!("--router-number {spec}: not a phone number"))?;
        plan.numbers.push(number.e164().to_owned());
    }
    let retry = "Dialpad refused or did not answer; what was done so far is kept, run it again";
    let mut lines = connect::connect(
        dialpad.as_ref(),
        &inst,
        &hook_url,
        secret.expose(),
        args.dry_run,
    )
    .await
    .context(retry)?;
    lines.extend(
        connect::routers(dialpad.as_ref(), &inst, &hook_url, &plans, args.dry_run)
            .await
            .context(retry)?,
    );
    for l in &lines {
        let change = if args.dry_run && l.change != connect::Change::Unchanged {
            format!("would be {}", l.change.as_str())
        } else {
            l.change.as_str().to_owned()
        };
        let id = if l.id.is_empty() {
            String::new()
        } else {
            format!(" (id {})", l.id)
        };
        let detail = if l.detail.is_empty() {
            String::new()
        } else {
            format!(": {}", l.detail)
        };
        println!("{change:<9} {} {}{id}{detail}", l.object, l.what);
    }
    Ok(ExitCode::SUCCESS)
}

/// Secrets Manager when the config references it (or comes from a stack), else the literals.
async fn secrets_for(inst: &Installation, from_stack: bool) -> Arc<dyn Secrets> {
    let managed = inst
        .secret_refs()
        .iter()
        .any(|(_, r)| matches!(r, SecretRef::Managed { .. }));
    if managed || from_stack {
        Arc::new(SecretsManagerSecrets::new(&load_sdk_config().await))
    } else {
        Arc::new(MemorySecrets::new())
    }
}
