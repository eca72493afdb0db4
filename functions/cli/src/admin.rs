//! `llbridge report`, `trace`, `reconcile` and `dlq`: the admin's view of the call ledger and
//! the dead letters, and reconciliation on demand. Each works against a local host
//! (`--url http://127.0.0.1:8080`, its admin API) or a deployed stack (`--table`, and the
//! queues' URLs where the command needs them; AWS credentials from the usual environment).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use llbridge_aws::{load_sdk_config, DynamoStore, SecretsManagerSecrets, SqsQueue};
use llbridge_local_host::admin::DeadLetterView;
use llbridge_local_host::aws::SqsProbe;
use llbridge_local_host::QueueProbe;
use llbridge_usecases::config_store::StoreConfigSource;
use llbridge_usecases::ports::{Clock, SystemClock};
use llbridge_usecases::reconcile::{Pass, Reconciler};
use llbridge_usecases::report::{self, Coverage};
use llbridge_usecases::trace::{self, Trace};
use llbridge_usecases::{ledger, Error};
use serde_json::Value;

/// Where the product runs.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// A local host's base URL (`http://127.0.0.1:8080`): its admin API answers.
    #[arg(long, conflicts_with_all = ["table", "stack"])]
    pub url: Option<String>,
    /// A deployed stack's name: its table and queues from its outputs.
    #[arg(long, conflicts_with_all = ["table", "queue_url", "dlq_url"])]
    pub stack: Option<String>,
    /// A deployed stack's DynamoDB table (its `TableName` output).
    #[arg(long)]
    pub table: Option<String>,
    /// The stack's job queue (its `QueueUrl` output), with --table.
    #[arg(long)]
    pub queue_url: Option<String>,
    /// The stack's dead-letter queue (its `DeadLetterQueueUrl` output), with --table.
    #[arg(long)]
    pub dlq_url: Option<String>,
}

enum Where {
    Local(String),
    Stack(Target),
}

impl Target {
    async fn resolve(&self) -> anyhow::Result<Where> {
        if let Some(name) = &self.stack {
            let stack = crate::stack::describe(name).await?;
            return Ok(Where::Stack(Target {
                url: None,
                stack: None,
                table: Some(stack.table),
                queue_url: Some(stack.queue_url),
                dlq_url: Some(stack.dlq_url),
            }));
        }
        match (&self.url, &self.table) {
            (Some(u), _) => Ok(Where::Local(u.trim_end_matches('/').to_owned())),
            (None, Some(_)) => Ok(Where::Stack(self.clone())),
            (None, None) => bail!(
                "say where: --url URL (a local host), --stack NAME or --table TABLE (a deployed stack)"
            ),
        }
    }
}

fn period(since: &str) -> anyhow::Result<Duration> {
    humantime::parse_duration(since)
        .with_context(|| format!("--since {since}: a duration such as 90m, 2h or 1d"))
}

async fn get(url: &str) -> anyhow::Result<Value> {
    call(reqwest::Client::new().get(url), url).await
}

async fn post(url: &str) -> anyhow::Result<Value> {
    call(reqwest::Client::new().post(url), url).await
}

async fn call(req: reqwest::RequestBuilder, url: &str) -> anyhow::Result<Value> {
    let resp = req
        .timeout(Duration::from_secs(600))
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if status.as_u16() == 404 {
        return Ok(Value::Null);
    }
    if !status.is_success() {
        bail!("{url}: HTTP {status}: {body}");
    }
    Ok(body)
}

async fn table_store(t: &Target) -> anyhow::Result<Arc<DynamoStore>> {
    let table = t.table.as_deref().context("--table is required")?;
    Ok(Arc::new(DynamoStore::new(&load_sdk_config().await, table)))
}

async fn stack_probe(t: &Target) -> anyhow::Result<SqsProbe> {
    let (Some(queue), Some(dlq)) = (t.queue_url.as_deref(), t.dlq_url.as_deref()) else {
        bail!("--queue-url and --dlq-url are required with --table (the stack's QueueUrl and DeadLetterQueueUrl outputs)");
    };
    Ok(SqsProbe::new(&load_sdk_config().await, queue, dlq))
}

/// `llbridge report --since D`: the coverage of the period; non-zero exit when a conversation
/// is unaccounted for.
pub async fn report(since: &str, target: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let period = period(since)?;
    let (coverage, unaccounted): (Coverage, Vec<String>) = match target.resolve().await? {
        Where::Local(url) => {
            let v = get(&format!(
                "{url}/_llbridge/report?since_secs={}",
                period.as_secs()
            ))
            .await?;
            let mut c: Coverage = serde_json::from_value(v["coverage"].clone())
                .context("unreadable report from the local host")?;
            let u: Vec<String> =
                serde_json::from_value(v["unaccounted"].clone()).unwrap_or_default();
            c.unaccounted = u.clone();
            (c, u)
        }
        Where::Stack(t) => {
            let store = table_store(&t).await?;
            let dead = match (&t.queue_url, &t.dlq_url) {
                (Some(_), Some(_)) => stack_probe(&t).await?.dead_letter_count().await,
                _ => {
                    eprintln!(
                        "note: without --queue-url and --dlq-url the dead letters are not counted"
                    );
                    0
                }
            };
            let c = report::coverage(
                llbridge_usecases::ports::Records {
                    store: store.as_ref(),
                    clock: &SystemClock,
                },
                period,
                dead,
            )
            .await?;
            let u = c.unaccounted.clone();
            (c, u)
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&coverage)?);
    } else {
        println!("{}", coverage.summary());
        for (reason, n) in &coverage.dropped {
            println!("  dropped {reason}: {n}");
        }
        for c in &unaccounted {
            println!("  unaccounted for: conversation {c} (llbridge trace {c} says why)");
        }
    }
    Ok(if unaccounted.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `llbridge trace CALL_ID`.
pub async fn trace(call_id: &str, target: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let found: Option<Trace> = match target.resolve().await? {
        Where::Local(url) => {
            let v = get(&format!("{url}/_llbridge/trace/{}", call_id.trim())).await?;
            if v.is_null() {
                None
            } else {
                Some(serde_json::from_value(v).context("unreadable trace from the local host")?)
            }
        }
        Where::Stack(t) => trace::trace(table_store(&t).await?.as_ref(), call_id.trim()).await?,
    };
    match found {
        Some(t) if json => println!("{}", serde_json::to_string_pretty(&t)?),
        Some(t) => println!("{}", t.render()),
        None => {
            println!("call {call_id}: no event of it reached llbridge, and no ledger record names it (was it a contact-center call in scope? `llbridge reconcile` looks for calls the webhook missed)");
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `llbridge reconcile --since D`: one pass now.
pub async fn reconcile(since: &str, target: &Target) -> anyhow::Result<ExitCode> {
    let period = period(since)?;
    let pass: Pass = match target.resolve().await? {
        Where::Local(url) => serde_json::from_value(
            post(&format!(
                "{url}/_llbridge/reconcile?since_secs={}",
                period.as_secs()
            ))
            .await?,
        )
        .context("unreadable answer from the local host")?,
        Where::Stack(t) => stack_reconciler(&t).await?.pass(Some(period)).await?,
    };
    if pass.queued {
        println!(
            "another pass is running: the window of the last {} is added to the reconciler's work ({} window(s) to read); the running pass and the scheduled ones read it",
            since, pass.windows_left
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} leg(s) listed in {} page(s): {} fed through the pipeline, {} already accounted for, {} with a job under way, {} too recent (next pass), {} out of scope",
        pass.legs,
        pass.pages,
        pass.fed.len(),
        pass.accounted,
        pass.alive,
        pass.too_recent,
        pass.out_of_scope
    );
    if let Some(e) = &pass.error {
        println!("the call list failed: {e}");
    }
    if let Some(why) = &pass.stopped {
        println!(
            "stopped ({why}) with {} window(s) left: the next passes read them first (every call started before {} was looked at)",
            pass.windows_left,
            pass.covered_until.map(iso).unwrap_or_else(|| "-".into())
        );
    }
    for leg in &pass.fed {
        println!("  fed: {leg}");
    }
    Ok(ExitCode::SUCCESS)
}

/// What the console reads of a deployed stack.
pub(crate) struct StackParts {
    pub store: Arc<dyn llbridge_usecases::ports::Store>,
    pub probe: Arc<dyn llbridge_local_host::QueueProbe>,
    pub reconciler: Arc<Reconciler>,
}

/// The store, queues and reconciler of the stack `target` names (`--stack`, or `--table`
/// with its queues).
pub(crate) async fn stack_parts(target: &Target) -> anyhow::Result<StackParts> {
    let Where::Stack(t) = target.resolve().await? else {
        anyhow::bail!("a local host serves its console itself");
    };
    Ok(StackParts {
        store: table_store(&t).await?,
        probe: Arc::new(stack_probe(&t).await?),
        reconciler: Arc::new(stack_reconciler(&t).await?),
    })
}

async fn stack_reconciler(t: &Target) -> anyhow::Result<Reconciler> {
    let Some(queue_url) = t.queue_url.as_deref() else {
        bail!("--queue-url is required with --table (the stack's QueueUrl output)");
    };
    let sdk = load_sdk_config().await;
    let store = table_store(t).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let secrets = Arc::new(SecretsManagerSecrets::new(&sdk));
    let clients = Arc::new(
        llbridge_crm_registry::HttpClients::new(secrets, store.clone(), clock.clone())
            .map_err(|e: Error| anyhow::anyhow!(e))?,
    );
    Ok(Reconciler {
        store: store.clone(),
        queue: Arc::new(SqsQueue::new(&sdk, queue_url)),
        clock: clock.clone(),
        config: Arc::new(StoreConfigSource::new(
            store,
            clock,
            llbridge_crm_registry::crms(),
        )),
        clients,
        log_delay: Duration::from_secs(180),
        settings: Default::default(),
    })
}

/// `llbridge replay (--call ID | --since D) [--reason CODE]`: refused call logs run again.
pub async fn replay(
    call: Option<&str>,
    since: Option<&str>,
    reason: Option<&str>,
    target: &Target,
) -> anyhow::Result<ExitCode> {
    if call.is_none() && since.is_none() {
        bail!("say which: --call CALL_ID, or --since 24h (and --reason lineleader_rejected)");
    }
    let since = since.map(period).transpose()?;
    let replayed: Vec<llbridge_usecases::replay::Replayed> = match target.resolve().await? {
        Where::Local(url) => {
            let mut q = Vec::new();
            if let Some(c) = call {
                q.push(format!("call={c}"));
            }
            if let Some(s) = since {
                q.push(format!("since_secs={}", s.as_secs()));
            }
            if let Some(r) = reason {
                q.push(format!("reason={r}"));
            }
            let v = post(&format!("{url}/_llbridge/replay?{}", q.join("&"))).await?;
            serde_json::from_value(v["replayed"].clone())
                .context("unreadable answer from the local host")?
        }
        Where::Stack(t) => {
            let Some(queue_url) = t.queue_url.as_deref() else {
                bail!("--queue-url is required with --table (the stack's QueueUrl output)");
            };
            let store = table_store(&t).await?;
            let queue = SqsQueue::new(&load_sdk_config().await, queue_url);
            let records = llbridge_usecases::ports::Records {
                store: store.as_ref(),
                clock: &SystemClock,
            };
            let anchors = llbridge_local_host::admin::refused_conversations(
                store.as_ref(),
                SystemClock.now_ms(),
                call,
                since,
                reason,
            )
            .await?;
            let mut out = Vec::new();
            for a in anchors {
                if let Some(r) = llbridge_usecases::replay::replay(records, &queue, &a).await? {
                    out.push(r);
                }
            }
            out
        }
    };
    if replayed.is_empty() {
        println!("no refused call log to run again");
    }
    for r in &replayed {
        println!(
            "call {} (conversation {}) runs again: {}",
            r.dialpad_call_id,
            r.conversation,
            if r.reopened.is_empty() {
                "its log".to_owned()
            } else {
                format!("its log, and {}", r.reopened.join(", "))
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `llbridge dlq list`.
pub async fn dlq_list(target: &Target) -> anyhow::Result<ExitCode> {
    let letters: Vec<DeadLetterView> = match target.resolve().await? {
        Where::Local(url) => serde_json::from_value(get(&format!("{url}/_llbridge/dlq")).await?)
            .context("unreadable answer from the local host")?,
        Where::Stack(t) => stack_probe(&t)
            .await?
            .dead_letters()
            .await
            .iter()
            .map(DeadLetterView::of)
            .collect(),
    };
    if letters.is_empty() {
        println!("the dead-letter queue is empty");
    }
    for d in &letters {
        println!(
            "{} job of call {}: {} after {} deliveries — {}",
            d.job.as_deref().unwrap_or("?"),
            d.call_id.as_deref().unwrap_or("?"),
            d.reason
                .as_deref()
                .unwrap_or("no reason (redriven by the queue itself)"),
            d.deliveries
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into()),
            d.detail.as_deref().unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `llbridge dlq replay (--call ID | --all)`: back to the job queue. What the jobs already did
/// is not done again.
pub async fn dlq_replay(
    call: Option<&str>,
    all: bool,
    target: &Target,
) -> anyhow::Result<ExitCode> {
    if call.is_none() && !all {
        bail!("say which: --call CALL_ID, or --all");
    }
    let replayed = match target.resolve().await? {
        Where::Local(url) => {
            let q = match call {
                Some(c) => format!("call={c}"),
                None => "all=true".to_owned(),
            };
            post(&format!("{url}/_llbridge/dlq/replay?{q}")).await?["replayed"]
                .as_u64()
                .unwrap_or(0) as usize
        }
        Where::Stack(t) => {
            let store = table_store(&t).await?;
            let wanted = call.map(str::to_owned);
            let pick = move |d: &llbridge_usecases::ports::DeadLetter| match &wanted {
                Some(id) => DeadLetterView::of(d).call_id.as_deref() == Some(id.as_str()),
                None => true,
            };
            let replayed = stack_probe(&t).await?.replay_dead_letters(&pick).await;
            for d in &replayed {
                if let Some(id) = DeadLetterView::of(d).call_id {
                    ledger::note_replay(
                        llbridge_usecases::ports::Records {
                            store: store.as_ref(),
                            clock: &SystemClock,
                        },
                        &id,
                    )
                    .await?;
                }
            }
            replayed.len()
        }
    };
    println!("{replayed} job(s) back in the job queue");
    Ok(ExitCode::SUCCESS)
}

/// An epoch-ms time as ISO-8601 UTC, whole seconds.
fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
