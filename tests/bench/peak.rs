//! The peak hour of a 200-agent contact center, compressed, through the local host: every call
//! rings an agent (a pop), is answered, hangs up and gets its disposition (five events), and is
//! logged in Phone Log mode. Nine callers in ten are known families. Counted: webhook events,
//! jobs by kind, LineLeader and Dialpad requests, and the store's reads and writes with the
//! DynamoDB capacity units they would cost (1 KB per write unit, 4 KB per read unit). The
//! call log's 3-minute wait is cut to 1 s, and the sandbox's pop limit is lifted (in compressed
//! time every agent would take 20 pops a minute; in real time 0.35).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use llbridge_local_host::Options;
use llbridge_memory::{MemoryStore, SystemClock};
use llbridge_sandbox::SbFamily;
use llbridge_tests::configs::{self, CALL_CENTER};
use llbridge_tests::events::Call;
use llbridge_tests::scenario::{data, family};
use llbridge_tests::webhook::sign;
use llbridge_usecases::ports::{Condition, Item, Store, Write};
use llbridge_usecases::Result;
use serde_json::json;

use crate::Args;

/// A store that counts what it is asked.
struct Counting {
    inner: MemoryStore,
    reads: AtomicU64,
    read_units: AtomicU64,
    writes: AtomicU64,
    write_units: AtomicU64,
    /// The writes of the ledger's hourly index that took effect, and their units.
    index_writes: AtomicU64,
    index_units: AtomicU64,
}

fn units(bytes: usize, per: usize) -> u64 {
    bytes.div_ceil(per).max(1) as u64
}

#[async_trait]
impl Store for Counting {
    async fn get(&self, key: &str) -> Result<Option<Item>> {
        let got = self.inner.get(key).await?;
        self.reads.fetch_add(1, Ordering::Relaxed);
        let size = key.len() + got.as_ref().map_or(0, |i| i.value.len());
        self.read_units
            .fetch_add(units(size, 4096), Ordering::Relaxed);
        Ok(got)
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        expires_at: Option<i64>,
        condition: Condition,
    ) -> Result<Option<u64>> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.write_units
            .fetch_add(units(key.len() + value.len(), 1024), Ordering::Relaxed);
        self.inner.put(key, value, expires_at, condition).await
    }

    async fn delete(&self, key: &str, version: Option<u64>) -> Result<bool> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.write_units.fetch_add(1, Ordering::Relaxed);
        self.inner.delete(key, version).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Item>>> {
        let got = self.inner.get_many(keys).await?;
        for (k, i) in keys.iter().zip(&got) {
            self.reads.fetch_add(1, Ordering::Relaxed);
            let size = k.len() + i.as_ref().map_or(0, |i| i.value.len());
            self.read_units
                .fetch_add(units(size, 4096), Ordering::Relaxed);
        }
        Ok(got)
    }

    async fn transact(&self, writes: &[Write]) -> Result<Option<Vec<u64>>> {
        for w in writes {
            // A transaction costs twice the units of the same writes.
            self.writes.fetch_add(1, Ordering::Relaxed);
            self.write_units.fetch_add(
                2 * units(w.key.len() + w.value.len(), 1024),
                Ordering::Relaxed,
            );
        }
        let done = self.inner.transact(writes).await?;
        if done.is_some() {
            for w in writes.iter().filter(|w| w.key.starts_with("ledger#hour#")) {
                self.index_writes.fetch_add(1, Ordering::Relaxed);
                self.index_units.fetch_add(
                    2 * units(w.key.len() + w.value.len(), 1024),
                    Ordering::Relaxed,
                );
            }
        }
        Ok(done)
    }
}

pub async fn run(args: &Args) {
    let calls = args.num("calls", 4170);
    let seconds = args.num("seconds", 120);
    let agents = 200;
    let known = 3000;
    let now = Utc::now();
    let families: Vec<SbFamily> = (0..known)
        .map(|i| {
            family(
                10_000 + i,
                &format!("+1415{:07}", 2_000_000 + i),
                101,
                1,
                now - chrono::Duration::days(30),
            )
        })
        .collect();
    let doc = configs::document(
        vec![configs::enablement(
            "call_center",
            Some(CALL_CENTER),
            json!({"screen_pop": true, "enable_task_queue": true}),
        )],
        "sandbox",
        "sandbox",
    );
    let mut opts = Options::new(
        configs::installation(&doc),
        "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
    );
    opts.log_delay = Duration::from_secs(1);
    opts.sandbox.data = Some(data(now, families));
    opts.sandbox.dialpad.pops_per_minute = usize::MAX;
    let store = Arc::new(Counting {
        inner: MemoryStore::new(Arc::new(SystemClock)),
        reads: AtomicU64::new(0),
        read_units: AtomicU64::new(0),
        writes: AtomicU64::new(0),
        write_units: AtomicU64::new(0),
        index_writes: AtomicU64::new(0),
        index_units: AtomicU64::new(0),
    });
    opts.store = Some(store.clone());
    let host = llbridge_local_host::start(opts)
        .await
        .unwrap_or_else(|e| panic!("host: {e}"));
    let sb = host.sandboxes.as_ref().expect("sandboxes");
    let http = reqwest::Client::new();
    let url = host.webhook_url();

    let began = Instant::now();
    let gap = Duration::from_secs_f64(seconds as f64 / calls as f64);
    let mut events = 0u64;
    let mut rejected = 0u64;
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..calls {
        // Nine in ten callers are known families; the tenth is new.
        let caller = if i % 10 == 9 {
            format!("+1650{:07}", 3_000_000 + i)
        } else {
            format!("+1415{:07}", 2_000_000 + (i * 7919) % known)
        };
        let t0 = Utc::now().timestamp_millis() - 300_000;
        let mut call = Call::new(i + 1, &caller, t0);
        call.agent_id = 5_150_000_000_000_001 + i % agents;
        // A five-minute call played at once: its phone rings now (a pop comes within 30 s of
        // the ring), the rest keeps the call's own times.
        let mut ring = call.agent("ringing", 200);
        let mut answer = call.agent("connected", 5_100);
        ring["event_timestamp"] = json!(Utc::now().timestamp_millis());
        answer["event_timestamp"] = json!(Utc::now().timestamp_millis());
        let script = vec![
            ring,
            answer,
            call.agent("hangup", 295_050),
            call.cc_hangup(295_200),
            call.dispositions(&["Tour Booked"], 296_000),
        ];
        for e in script {
            let (http, url, body) = (http.clone(), url.clone(), sign(&e));
            events += 1;
            sends.spawn(async move {
                http.post(&url)
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            });
        }
        let due = gap * (i as u32 + 1);
        if let Some(wait) = due.checked_sub(began.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }
    while let Some(status) = sends.join_next().await {
        if status.map_or(true, |s| s != 200) {
            rejected += 1;
        }
    }
    let sent_in = began.elapsed();
    let settled = host
        .settle(Duration::from_secs(60), Duration::from_secs(300))
        .await;
    let reports = host.reports();
    let jobs = |kind: &str| {
        reports
            .iter()
            .filter(|r| r.job.is_some_and(|j| j.as_str() == kind))
            .count()
    };
    let decisions = |d: &str| reports.iter().filter(|r| r.decision.as_str() == d).count();
    let ll = sb.lineleader.requests();
    let count = |method: &str, suffix: &str| {
        ll.iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .count()
    };
    let state = sb.lineleader.state().data;
    let per_call = |n: f64| n / calls as f64;
    println!(
        "peak hour compressed: {calls} calls, {events} events sent in {:.0} s ({} not answered 200); settled: {settled}",
        sent_in.as_secs_f64(),
        rejected
    );
    println!(
        "  jobs: merge {}, screen_pop {}, call_log {} ({:.2} per call); decisions: logged {}, popped {}",
        jobs("merge"),
        jobs("screen_pop"),
        jobs("call_log"),
        per_call(reports.len() as f64),
        decisions("logged"),
        decisions("popped"),
    );
    println!(
        "  LineLeader: {} requests ({:.2} per call): searches {}, families created {}, phone logs {}; logins {}",
        ll.len(),
        per_call(ll.len() as f64),
        count("GET", "/families/search"),
        state.families.len() as u64 - known,
        state.phone_logs.len(),
        count("POST", "/login"),
    );
    println!(
        "  Dialpad: {} requests ({:.2} per call), pops sent {}",
        sb.dialpad.requests().len(),
        per_call(sb.dialpad.requests().len() as f64),
        sb.dialpad.sent().len()
    );
    let (r, ru, w, wu) = (
        store.reads.load(Ordering::Relaxed) as f64,
        store.read_units.load(Ordering::Relaxed) as f64,
        store.writes.load(Ordering::Relaxed) as f64,
        store.write_units.load(Ordering::Relaxed) as f64,
    );
    println!(
        "  store: {r} reads ({:.1} per call, {:.1} read units), {w} writes ({:.1} per call, {:.1} write units)",
        per_call(r),
        per_call(ru),
        per_call(w),
        per_call(wu),
    );
    let (iw, iu) = (
        store.index_writes.load(Ordering::Relaxed) as f64,
        store.index_units.load(Ordering::Relaxed) as f64,
    );
    println!(
        "  of which the ledger's hourly index, in transactions that took effect: {iw} writes ({:.1} per call, {:.1} write units)",
        per_call(iw),
        per_call(iu),
    );
    host.stop().await;
}
