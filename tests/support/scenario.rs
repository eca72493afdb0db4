//! End-to-end scenarios: the local host with its LineLeader, Dialpad and LeadSquared sandboxes,
//! driven over HTTP like Dialpad drives a deployment.

use llbridge_usecases::jobs::JobKind;
use llbridge_usecases::worker::Decision;
use std::time::Duration;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use llbridge_local_host::{Drive, Host, Options};
use llbridge_sandbox::{
    Dataset, DialpadSandbox, LeadSquaredSandbox, LineLeaderSandbox, SbFamily, SbPhoneLog,
};
use llbridge_usecases::ports::Store;
use llbridge_usecases::worker::RetryPolicy;
use serde_json::{json, Value};

use crate::configs::{self, CALL_CENTER};
use crate::events::Call;
use crate::webhook::{post, sign};

/// The adapters a suite runs on, said by the suite: each suite file reads the `BACKEND` of the
/// module that loads it (`e2e/main.rs`: embedded; `e2e/aws.rs`: AWS's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded adapters, the worker stepped.
    Embedded,
    /// SQS, DynamoDB and Secrets Manager on moto, the worker in the background, as deployed.
    Aws,
}

impl Backend {
    pub fn is_aws(self) -> bool {
        self == Backend::Aws
    }
}

/// Retries for the suites: 100 ms doubling to 1 s, given up after 2.5 s of delays (the
/// sixth delivery).
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        first: Duration::from_millis(100),
        max: Duration::from_secs(1),
        horizon: Duration::from_millis(2500),
    }
}

/// Retries inside one LineLeader request for the suites: as many as in production (3), 20 ms
/// doubling to 80 ms.
pub fn fast_request_retries() -> llbridge_crm_registry::RetryPolicy {
    llbridge_crm_registry::RetryPolicy {
        max_retries: 3,
        min_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(80),
        total_delay: Duration::from_millis(300),
    }
}

/// A running local host with sandboxes. On the embedded adapters its worker is stepped: jobs
/// run when the test settles the host, and delays are skipped rather than slept through; on the
/// AWS adapters it runs in the background, as deployed.
pub struct Scenario {
    pub host: Host,
    pub now: DateTime<Utc>,
    pub backend: Backend,
}

/// The sandbox data of the scenarios: the demo data, families replaced by `families`.
pub fn data(now: DateTime<Utc>, families: Vec<SbFamily>) -> Dataset {
    let mut d = Dataset::demo(now);
    d.families = families;
    d
}

/// A family of the sandbox data.
pub fn family(
    id: u64,
    phone: &str,
    center_id: u64,
    status_id: u64,
    created: DateTime<Utc>,
) -> SbFamily {
    SbFamily {
        id,
        created_date: created,
        center_id,
        status_id,
        first_name: "Pat".into(),
        last_name: format!("Family{id}"),
        phone: phone.into(),
        origin: "seed".into(),
    }
}

impl Scenario {
    /// Starts a host whose one enablement (the test call center) has `overrides` merged in.
    pub async fn start(backend: Backend, overrides: Value, data: Option<Dataset>) -> Scenario {
        Scenario::start_with(
            backend,
            vec![configs::enablement(
                "call_center",
                Some(CALL_CENTER),
                overrides,
            )],
            data,
            Duration::from_secs(1),
        )
        .await
    }

    /// Starts a host whose sandbox knows one family: #1001, "(415) 815-9602" (the caller
    /// +14158159602), at Oak Park, a New Lead, three days old.
    pub async fn with_known_family(backend: Backend, overrides: Value) -> Scenario {
        let now = Utc::now();
        let known = family(
            1001,
            "(415) 815-9602",
            101,
            1,
            now - chrono::Duration::days(3),
        );
        Scenario::start(backend, overrides, Some(data(now, vec![known]))).await
    }

    pub async fn start_with(
        backend: Backend,
        enablements: Vec<Value>,
        data: Option<Dataset>,
        log_delay: Duration,
    ) -> Scenario {
        Scenario::start_tuned(backend, enablements, data, log_delay, |_| {}).await
    }

    /// As [`Scenario::start_with`], with the host's options adjusted by `tune` last.
    pub async fn start_tuned(
        backend: Backend,
        enablements: Vec<Value>,
        data: Option<Dataset>,
        log_delay: Duration,
        tune: impl FnOnce(&mut Options),
    ) -> Scenario {
        Scenario::start_with_store(backend, enablements, data, log_delay, tune, |s| s).await
    }

    /// As [`Scenario::start_tuned`], the host's store (embedded, or DynamoDB on moto) wrapped
    /// by `wrap`.
    pub async fn start_with_store(
        backend: Backend,
        enablements: Vec<Value>,
        data: Option<Dataset>,
        log_delay: Duration,
        tune: impl FnOnce(&mut Options),
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
    ) -> Scenario {
        let doc = configs::document(enablements, "sandbox", "sandbox");
        let mut opts = Options::new(
            configs::installation(&doc),
            "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
        );
        opts.log_delay = log_delay;
        opts.sandbox.data = data;
        opts.retry = fast_retries();
        opts.lineleader_retry = Some(fast_request_retries());
        tune(&mut opts);
        if backend.is_aws() {
            crate::aws::use_aws_adapters(&mut opts).await;
        } else {
            opts.drive = Drive::stepped();
        }
        let clock: Arc<dyn llbridge_usecases::ports::Clock> = match &opts.drive {
            Drive::Stepped(c) => c.clone(),
            Drive::Background => opts.clock.clone(),
        };
        let base = opts
            .store
            .take()
            .unwrap_or_else(|| Arc::new(llbridge_memory::MemoryStore::new(clock)));
        opts.store = Some(wrap(base));
        let host = llbridge_local_host::start(opts)
            .await
            .unwrap_or_else(|e| panic!("host: {e}"));
        Scenario {
            host,
            now: Utc::now(),
            backend,
        }
    }

    pub fn lineleader(&self) -> &LineLeaderSandbox {
        &self
            .host
            .sandboxes
            .as_ref()
            .unwrap_or_else(|| panic!("no sandboxes"))
            .lineleader
    }

    pub fn dialpad(&self) -> &DialpadSandbox {
        &self
            .host
            .sandboxes
            .as_ref()
            .unwrap_or_else(|| panic!("no sandboxes"))
            .dialpad
    }

    pub fn leadsquared(&self) -> &LeadSquaredSandbox {
        &self
            .host
            .sandboxes
            .as_ref()
            .unwrap_or_else(|| panic!("no sandboxes"))
            .leadsquared
    }

    /// A call from `caller` that ended just now (it started five minutes ago).
    pub fn call(&self, seed: u64, caller: &str) -> Call {
        Call::new(seed, caller, self.now.timestamp_millis() - 300_000)
    }

    /// A call from `caller` that starts now: its agent's phone rings now (a screen pop is
    /// only sent within 30 s of the ring); it ends in about five minutes.
    pub fn live_call(&self, seed: u64, caller: &str) -> Call {
        Call::new(seed, caller, chrono::Utc::now().timestamp_millis() - 200)
    }

    /// Posts one signed event; it must be accepted.
    pub async fn send(&self, event: &Value) -> Value {
        let (status, body) = post(&self.host.webhook_url(), sign(event)).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn play(&self, events: &[Value]) {
        for e in events {
            self.send(e).await;
        }
    }

    /// Runs the jobs due now, without moving time: what has happened before any delay ran
    /// out. (On AWS, where the worker runs by itself, waits `aws_wait` instead.)
    pub async fn run_due(&self, aws_wait: Duration) {
        if self.backend.is_aws() {
            tokio::time::sleep(aws_wait).await;
        } else {
            assert!(
                self.host
                    .settle(Duration::ZERO, Duration::from_secs(60))
                    .await,
                "the worker did not settle"
            );
        }
    }

    /// Runs every job due within the next 20 s (the log delays of the scenarios, the retries);
    /// re-checks put off for minutes are left alone.
    pub async fn settle(&self) {
        assert!(
            self.host
                .settle(Duration::from_secs(20), Duration::from_secs(30))
                .await,
            "the worker did not settle"
        );
    }

    /// Runs jobs until `done` holds: settles a stepped host (every retry within 20 s runs),
    /// or waits up to two minutes for the background worker on AWS. Returns `done()`.
    pub async fn settle_until(&self, done: impl AsyncFn() -> bool) -> bool {
        if !self.backend.is_aws() {
            self.settle().await;
            return done().await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while !done().await && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        done().await
    }

    /// The conversations whose call log settled (logged, dropped, held for review or failed),
    /// with their decision and reason.
    pub fn settled_logs(&self) -> std::collections::BTreeMap<String, (String, Option<String>)> {
        self.host
            .reports()
            .into_iter()
            .filter(|r| r.job == Some(JobKind::CallLog))
            .filter(|r| {
                matches!(
                    r.decision,
                    Decision::Logged | Decision::Dropped | Decision::NeedsReview | Decision::Failed
                )
            })
            .filter_map(|r| {
                Some((
                    r.conversation?,
                    (
                        r.decision.as_str().to_owned(),
                        r.reason.map(|r| r.as_str().to_owned()),
                    ),
                ))
            })
            .collect()
    }

    pub fn phone_logs(&self) -> Vec<SbPhoneLog> {
        self.lineleader().state().data.phone_logs
    }

    /// Families created through the API.
    pub fn created_families(&self) -> Vec<SbFamily> {
        self.lineleader()
            .state()
            .data
            .families
            .into_iter()
            .filter(|f| f.origin == "api")
            .collect()
    }

    /// Bodies of the requests LineLeader received for `method path`.
    pub fn bodies(&self, method: &str, path: &str) -> Vec<Value> {
        self.lineleader()
            .requests()
            .into_iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && r.path.ends_with(path))
            .map(|r| r.body)
            .collect()
    }

    /// The reports of the call-log jobs that settled (logged or dropped).
    pub fn log_decisions(&self) -> Vec<(String, Option<String>)> {
        self.host
            .reports()
            .into_iter()
            .filter(|r| {
                r.job == Some(JobKind::CallLog)
                    && matches!(r.decision, Decision::Logged | Decision::Dropped)
            })
            .map(|r| {
                (
                    r.decision.as_str().to_owned(),
                    r.reason.map(|r| r.as_str().to_owned()),
                )
            })
            .collect()
    }

    /// The recorded outcome of an Event-mode step (`task`, `event`, `status`) of the only
    /// conversation logged.
    pub async fn step(&self, name: &str) -> Option<Value> {
        let conversation = self
            .host
            .reports()
            .into_iter()
            .filter(|r| r.job == Some(JobKind::CallLog))
            .find_map(|r| r.conversation)?;
        let anchor = llbridge_usecases::state::anchor_of(self.host.store.as_ref(), &conversation)
            .await
            .ok()?
            .unwrap_or(conversation);
        let item = self
            .host
            .store
            .get(&llbridge_usecases::keys::step(&anchor, name))
            .await
            .ok()??;
        let rec: Value = serde_json::from_str(&item.value).ok()?;
        Some(rec["outcome"].clone())
    }

    /// The skip code of an Event-mode step, if it was skipped, as the ledger recorded the
    /// only conversation's log (a step skipped for want of a disposition stays open: its
    /// claim has no outcome).
    pub async fn skipped(&self, name: &str) -> Option<String> {
        let conversation = self
            .host
            .reports()
            .into_iter()
            .filter(|r| r.job == Some(JobKind::CallLog))
            .find_map(|r| r.conversation)?;
        let (_, entry) = llbridge_usecases::ledger::find(self.host.store.as_ref(), &conversation)
            .await
            .ok()??;
        entry.effects?[name]["skipped"].as_str().map(str::to_owned)
    }

    /// Stops the host, after checking that the ledger's hourly index says what its records
    /// say (the report and the console read the index alone).
    pub async fn stop(self) {
        index_agrees(self.host.store.as_ref()).await;
        self.host.stop().await;
    }
}

/// Asserts that the ledger's index rows of the last and next day are its records' rows (a
/// call not decided yet: listed, undecided). A
/// background worker may write meanwhile: the check is made when two reads of the index
/// agree.
pub async fn index_agrees(store: &dyn llbridge_usecases::ports::Store) {
    use llbridge_usecases::ledger;
    let now = chrono::Utc::now().timestamp_millis();
    let (from, to) = (now - 24 * 3_600_000, now + 24 * 3_600_000);
    let rows = async || ledger::rows_between(store, from, to).await.ok();
    for _ in 0..20 {
        let (Some(before), Ok(records), Some(after)) = (
            rows().await,
            ledger::between(store, from, to).await,
            rows().await,
        ) else {
            // A store made to fail: nothing to compare.
            return;
        };
        if before != after {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        // A decided call's row is its record's; one not decided yet is listed, undecided.
        let recorded: std::collections::BTreeMap<String, ledger::Row> = records
            .iter()
            .map(|e| (e.conversation.clone(), e.row()))
            .collect();
        let indexed: std::collections::BTreeMap<String, ledger::Row> =
            after.into_iter().map(|r| (r.anchor.clone(), r)).collect();
        assert_eq!(
            indexed.keys().collect::<Vec<_>>(),
            recorded.keys().collect::<Vec<_>>(),
            "the ledger's index and its records list other calls"
        );
        for (anchor, row) in &recorded {
            let listed = &indexed[anchor];
            if row.decision.is_some() {
                assert_eq!(
                    listed, row,
                    "the index's row of {anchor} is not its record's"
                );
            } else {
                assert_eq!(listed.decision, None, "{anchor}: {listed:?}");
            }
        }
        return;
    }
    eprintln!("the ledger kept changing for two seconds after the test: index not compared");
}

/// A hangup-only inbound call (the simplest call that gets logged): the call-center leg
/// ending after an answered call.
pub fn answered(call: &Call) -> Vec<Value> {
    vec![call.agent("connected", 5_100), call.cc_hangup(295_200)]
}

/// Overrides for an enablement without the task queue (logs at once) and without pops.
pub fn log_now() -> Value {
    json!({"enable_task_queue": false, "screen_pop": false})
}
