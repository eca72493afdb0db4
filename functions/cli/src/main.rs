//! `llbridge`: the operator CLI.
//!
//! * `llbridge local --config FILE [--aws-endpoint URL]`: the local host (webhook + worker on
//!   embedded adapters, or on the AWS adapters at an endpoint such as moto).
//! * `llbridge send --config FILE EVENT.json`: sign an event with the config's first webhook
//!   secret and POST it.
//! * `llbridge config validate FILE`: validate an installation config.
//! * `llbridge config push FILE --table NAME` / `llbridge config show --table NAME`: store and
//!   read the config of a deployed stack.
//! * `llbridge doctor (--config FILE | --table T)`: the setup checked against the live Dialpad
//!   API and CRMs, each failure with its fix.
//! * `llbridge dialpad connect (--stack NAME | --config FILE --webhook-url URL) [--dry-run]`:
//!   Dialpad's webhook and subscriptions made to match the config.
//! * `llbridge console (--stack NAME | --url URL | --table T ...)`: the console in a browser.
//! * `llbridge sandbox`: the LineLeader and Dialpad sandboxes, standalone.
//! * `llbridge demo`: scripted calls through the local host and sandboxes, told in plain words.
//! * `llbridge report | trace | reconcile | replay | dlq`: the call ledger, reconciliation on
//!   demand, refused call logs run again and the dead letters, of a local host (`--url`) or a
//!   deployed stack (`--table`).

mod admin;
mod cloud;
mod console;
mod demo;
mod dialpad;
mod doctor;
mod stack;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use llbridge_domain::config::SecretRef;
use llbridge_domain::Installation;
use llbridge_local_host::aws::AwsTarget;
use llbridge_usecases::effect::Timing;
use llbridge_usecases::worker::RetryPolicy;

#[derive(Parser)]
#[command(
    name = "llbridge",
    version,
    about = "Dialpad contact-center calls into LineLeader"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the local host: the webhook over HTTP and the worker in-process.
    Local(LocalArgs),
    /// Sign an event JSON with the config's first webhook secret and POST it.
    Send {
        #[arg(long)]
        config: PathBuf,
        /// The event JSON file.
        event: PathBuf,
        #[arg(long, default_value = "http://127.0.0.1:8080/dialpad/events")]
        url: String,
    },
    /// Installation config commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Check the setup against the live Dialpad API and CRM connections: each failure with its
    /// fix. Exits 1 when a check fails. Reads only.
    Doctor {
        #[command(flatten)]
        source: doctor::Source,
        /// One JSON object: {checks: [{scope, check, verdict, detail, fix}]}.
        #[arg(long)]
        json: bool,
    },
    /// Dialpad's side of the setup.
    Dialpad {
        #[command(subcommand)]
        command: DialpadCommand,
    },
    /// Run the LineLeader, Dialpad and LeadSquared sandboxes standalone.
    Sandbox {
        /// The LineLeader sandbox's address; the Dialpad sandbox listens on the next port, the
        /// LeadSquared one on the port after.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
    },
    /// Play a few scripted calls through the local host and sandboxes, and say what happened.
    Demo,
    /// The coverage of a period: calls in scope, logged, recovered, dropped by reason, failed,
    /// pending, needing review, dead letters. Exits 1 when a call is unaccounted for.
    Report {
        /// The period, back from now: 24h, 90m, 7d.
        #[arg(long, default_value = "24h")]
        since: String,
        #[command(flatten)]
        target: admin::Target,
        /// One JSON object: since, calls, logged, recovered, dropped, failed, pending,
        /// needs_review, dead_letters.
        #[arg(long)]
        json: bool,
    },
    /// Everything known of one call, from any of its legs' ids: why it was (not) logged.
    Trace {
        call_id: String,
        #[command(flatten)]
        target: admin::Target,
        #[arg(long)]
        json: bool,
    },
    /// One reconciliation pass now: calls in Dialpad's call list that the webhook missed go
    /// through the pipeline.
    Reconcile {
        /// How far back to look: 2h, 1d.
        #[arg(long, default_value = "2h")]
        since: String,
        #[command(flatten)]
        target: admin::Target,
    },
    /// Run again the call logs the CRM refused (a 4xx: a wrong `api.paths` value, a missing
    /// type), once the setting is fixed. What was written is not written again.
    Replay {
        /// Only the call of this leg's id.
        #[arg(long, conflicts_with = "since")]
        call: Option<String>,
        /// Every refused call of the period: 24h, 7d.
        #[arg(long)]
        since: Option<String>,
        /// Only those refused for this reason (`lineleader_rejected`, `leadsquared_rejected`).
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        target: admin::Target,
    },
    /// The console in a browser: every call at a glance, its trace, the dead letters. Served
    /// on 127.0.0.1 for a deployed stack (with your AWS credentials); a local host serves its
    /// own (`--url`: a fresh one-time URL).
    Console {
        #[command(flatten)]
        target: admin::Target,
    },
    /// The dead-letter queue: jobs given up after the retry horizon.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
}

#[derive(Subcommand)]
enum DialpadCommand {
    /// Create or update Dialpad's webhook (signed with the config's first webhook secret) and
    /// each enablement's call-event subscription with every call state the config needs. One
    /// line per object: created, updated or unchanged; running it twice changes nothing.
    Connect(dialpad::ConnectArgs),
}

#[derive(Subcommand)]
enum DlqCommand {
    /// The jobs in the dead-letter queue: call id, last reason, deliveries.
    List {
        #[command(flatten)]
        target: admin::Target,
    },
    /// Puts jobs back in the job queue; what they already did is not done again.
    Replay {
        /// Only the jobs of this call (a leg's id).
        #[arg(long, conflicts_with = "all")]
        call: Option<String>,
        /// Every job.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        target: admin::Target,
    },
}

/// `llbridge local`: the local host, on embedded or AWS adapters.
#[derive(Args)]
struct LocalArgs {
    /// The installation config file.
    #[arg(long)]
    config: PathBuf,
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Call-log delay (seconds) for enablements with the task queue.
    #[arg(long, default_value_t = 180)]
    log_delay_secs: u64,
    /// Log format: text or json.
    #[arg(long, default_value = "text")]
    log_format: String,
    /// Run on the AWS adapters (DynamoDB, SQS, Secrets Manager) at this endpoint, e.g. a
    /// moto server (`http://127.0.0.1:5005`); the table and queues are created if absent.
    #[arg(long)]
    aws_endpoint: Option<String>,
    /// The DynamoDB table, with --aws-endpoint.
    #[arg(long, default_value = "llbridge-local")]
    table: String,
    /// The SQS job queue (its dead-letter queue is `<queue>-dlq`), with --aws-endpoint.
    #[arg(long, default_value = "llbridge-local-jobs")]
    queue: String,
    /// The most one job may take (seconds); a write gets two fifths of it (20 s at most), a
    /// lease 2.4 times it.
    #[arg(long, default_value_t = 50)]
    job_budget_secs: u64,
    /// How long a failing job is retried before it goes to the dead letters (seconds).
    #[arg(long, default_value_t = 6 * 3600)]
    retry_horizon_secs: u64,
    /// How often the reconciler looks for calls the webhook missed (seconds; 0 turns it off).
    #[arg(long, default_value_t = 600)]
    reconcile_every_secs: u64,
    /// How long one reconciliation pass may take (seconds); what it does not read is kept
    /// for the next pass.
    #[arg(long, default_value_t = 240)]
    reconcile_budget_secs: u64,
    /// The delay before a failed job's first retry (seconds); it doubles on each failure,
    /// up to 15 minutes.
    #[arg(long, default_value_t = 30)]
    retry_delay_secs: u64,
    /// The longest delay between two retries of a failed job (seconds).
    #[arg(long, default_value_t = 900)]
    retry_max_delay_secs: u64,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a config file: every error with its JSON path.
    Validate { file: PathBuf },
    /// Validate a config file and store it in the deployed stack's table. With --stack, every
    /// Secrets Manager reference must name the stack's secret (the only one it may read).
    Push {
        file: PathBuf,
        #[command(flatten)]
        target: cloud::Target,
    },
    /// Print the config stored in the deployed stack's table (secrets as references only).
    Show {
        #[command(flatten)]
        target: cloud::Target,
    },
}

fn init_logs(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only on a terminal: not in files, pipes or log collectors.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.compact().init();
    }
}

pub(crate) fn read_config(path: &Path) -> anyhow::Result<Installation> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    llbridge_crm_registry::parse(&text)
        .map_err(|errs| anyhow::anyhow!("{} is not a valid config:\n{errs}", path.display()))
}

fn validate(path: &Path) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    match llbridge_crm_registry::parse(&text) {
        Ok(inst) => {
            println!("{}", inst.summary());
            Ok(ExitCode::SUCCESS)
        }
        Err(errs) => {
            for e in &errs.0 {
                println!("error: {e}");
            }
            println!("{} error(s) in {}", errs.0.len(), path.display());
            Ok(ExitCode::from(1))
        }
    }
}

async fn local(run: LocalArgs) -> anyhow::Result<ExitCode> {
    let inst = read_config(&run.config)?;
    let mut opts = llbridge_local_host::Options::new(inst, run.listen);
    opts.log_delay = Duration::from_secs(run.log_delay_secs);
    if run.job_budget_secs < 3 {
        bail!("--job-budget-secs must be at least 3");
    }
    opts.timing = Timing::for_job_budget(Duration::from_secs(run.job_budget_secs));
    opts.reconcile_every =
        (run.reconcile_every_secs > 0).then(|| Duration::from_secs(run.reconcile_every_secs));
    opts.reconcile.budget = Duration::from_secs(run.reconcile_budget_secs.max(1));
    opts.retry = RetryPolicy {
        first: Duration::from_secs(run.retry_delay_secs.max(1)),
        max: Duration::from_secs(run.retry_max_delay_secs.max(run.retry_delay_secs).max(1)),
        horizon: Duration::from_secs(run.retry_horizon_secs),
    };
    if let Some(endpoint) = run.aws_endpoint {
        let target = AwsTarget {
            endpoint: Some(endpoint.clone()),
            table: run.table,
            queue: run.queue,
        };
        let queues = llbridge_local_host::aws::use_aws(&mut opts, &target)
            .await
            .with_context(|| format!("cannot set up the table and queues at {endpoint}"))?;
        println!(
            "on AWS adapters at {endpoint}: table {}, queue {}",
            target.table, queues.queue_url
        );
    }
    let host = llbridge_local_host::start(opts)
        .await
        .with_context(|| format!("cannot listen on {}", run.listen))?;
    println!("listening on http://{}", host.addr);
    if let Some(url) = host.console_url() {
        println!("console (this URL works once, in one browser): {url}");
    }
    tokio::signal::ctrl_c().await.ok();
    host.stop().await;
    Ok(ExitCode::SUCCESS)
}

async fn send(config: &Path, event: &Path, url: &str) -> anyhow::Result<ExitCode> {
    let inst = read_config(config)?;
    let secret = match inst.dialpad.webhook_secrets.first() {
        Some(SecretRef::Literal(s)) => s.clone(),
        Some(SecretRef::Managed { .. }) => {
            bail!("the first webhook secret is a Secrets Manager reference; `send` signs with literal secrets only")
        }
        None => bail!("the config has no webhook secret to sign with"),
    };
    let body = std::fs::read_to_string(event)
        .with_context(|| format!("cannot read {}", event.display()))?;
    let claims: serde_json::Value =
        serde_json::from_str(&body).with_context(|| format!("{} is not JSON", event.display()))?;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes())
            .context("the webhook secret is empty")?,
    )
    .context("cannot sign the event")?;
    let resp = reqwest::Client::new()
        .post(url)
        .body(token)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    println!("{} {}", status.as_u16(), text);
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn sandbox(listen: SocketAddr) -> anyhow::Result<ExitCode> {
    let dialpad = SocketAddr::new(listen.ip(), listen.port().saturating_add(1));
    let leadsquared = SocketAddr::new(listen.ip(), listen.port().saturating_add(2));
    let options = llbridge_sandbox::Options {
        leadsquared_addr: Some(leadsquared),
        ..llbridge_sandbox::Options::default()
    };
    let sb = llbridge_sandbox::start(listen, dialpad, options)
        .await
        .with_context(|| format!("cannot listen on {listen}, {dialpad} and {leadsquared}"))?;
    println!(
        "LineLeader sandbox on {} (login sandbox/sandbox)",
        sb.lineleader_url
    );
    println!(
        "Dialpad sandbox on {} (key sandbox-dialpad-key)",
        sb.dialpad_url
    );
    println!(
        "LeadSquared sandbox on {}: call_log_url {}, agent_popup_url {}",
        sb.leadsquared_url,
        sb.leadsquared_call_log_url(),
        sb.leadsquared_agent_popup_url()
    );
    println!(
        "Inspect: GET {}/_sandbox/state, GET {}/_sandbox/pops, GET {}/_sandbox/calllogs",
        sb.lineleader_url, sb.dialpad_url, sb.leadsquared_url
    );
    tokio::signal::ctrl_c().await.ok();
    sb.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Local(args) => {
            init_logs(&args.log_format);
            local(args).await
        }
        Command::Send { config, event, url } => send(&config, &event, &url).await,
        Command::Config { command } => match command {
            ConfigCommand::Validate { file } => validate(&file),
            ConfigCommand::Push { file, target } => {
                cloud::push(&file, &target).await.map(|_| ExitCode::SUCCESS)
            }
            ConfigCommand::Show { target } => cloud::show(&target).await.map(|_| ExitCode::SUCCESS),
        },
        Command::Doctor { source, json } => {
            if std::env::var_os("RUST_LOG").is_none() {
                std::env::set_var("RUST_LOG", "error");
            }
            init_logs("text");
            doctor::run(&source, json).await
        }
        Command::Dialpad {
            command: DialpadCommand::Connect(args),
        } => {
            if std::env::var_os("RUST_LOG").is_none() {
                std::env::set_var("RUST_LOG", "error");
            }
            init_logs("text");
            dialpad::connect(&args).await
        }
        Command::Console { target } => {
            init_logs("text");
            console::run(&target).await
        }
        Command::Sandbox { listen } => {
            init_logs("text");
            sandbox(listen).await
        }
        Command::Report {
            since,
            target,
            json,
        } => {
            init_logs("text");
            admin::report(&since, &target, json).await
        }
        Command::Trace {
            call_id,
            target,
            json,
        } => {
            init_logs("text");
            admin::trace(&call_id, &target, json).await
        }
        Command::Reconcile { since, target } => {
            init_logs("text");
            admin::reconcile(&since, &target).await
        }
        Command::Replay {
            call,
            since,
            reason,
            target,
        } => {
            init_logs("text");
            admin::replay(
                call.as_deref(),
                since.as_deref(),
                reason.as_deref(),
                &target,
            )
            .await
        }
        Command::Dlq { command } => {
            init_logs("text");
            match command {
                DlqCommand::List { target } => admin::dlq_list(&target).await,
                DlqCommand::Replay { call, all, target } => {
                    admin::dlq_replay(call.as_deref(), all, &target).await
                }
            }
        }
        Command::Demo => {
            if std::env::var_os("RUST_LOG").is_none() {
                std::env::set_var("RUST_LOG", "warn");
            }
            init_logs("text");
            demo::run().await.map(|_| ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => Arc::new(rt),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
