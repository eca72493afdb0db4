//! Crashes on the real adapters: `llbridge local --aws-endpoint` (DynamoDB and SQS on moto) is
//! killed with SIGKILL at random moments while conversations are in flight, and started
//! again each time. Whatever the moments, every conversation is logged exactly once, every new
//! caller gets one family, and every Event-mode call gets one event, at most one task
//! completed (the one due first) and at most one status change. (A kill can hold a
//! disposition back past the log delay: then the call is logged without it, as the product
//! does for any disposition that comes late.)
//!
//! `LLBRIDGE_CRASH_CONVERSATIONS` (default 30) and `LLBRIDGE_CRASH_KILLS` (default 8) size the
//! run; `LLBRIDGE_CRASH_SEED` replays one. The full-size run is in the README.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Duration as Span, Utc};
use llbridge_sandbox::{Dataset, FaultRule, Faults, Options, Sandboxes, SbFamily, SbTask};
use llbridge_tests::configs::left_voicemail_event_mode;
use llbridge_tests::events::Call;
use llbridge_tests::local::{deliver, temp_dir, write_json, LocalHost};
use llbridge_tests::moto;
use serde_json::{json, Value};

const SECRET: &str = "crash-test-webhook-secret";
const PHONE_LOG_CC: &str = "4716644561813504";
const EVENT_CC: &str = "4716644561813999";
/// The call-center phones of the demo data's Oak Park (101) and Elm Street (102).
const OAK_PARK: &str = "+14155550100";
const ELM_STREET: &str = "+14155550101";
const NEW_LEAD: u64 = 1;
const CONTACTED: u64 = 2;

fn env_number(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator, so that a failing run can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}

/// Who calls, and how the call is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    PhoneLogNewCaller,
    PhoneLogKnownFamily,
    EventNewCaller,
    EventKnownFamily,
}

struct Conversation {
    kind: Kind,
    call: Call,
    /// The known family called, if any.
    family: Option<u64>,
}

fn family(id: u64, phone: &str, center: u64, created: chrono::DateTime<Utc>) -> SbFamily {
    SbFamily {
        id,
        created_date: created,
        center_id: center,
        status_id: NEW_LEAD,
        first_name: "Pat".into(),
        last_name: format!("Family{id}"),
        phone: phone.into(),
        origin: "seed".into(),
    }
}

/// The conversations, and the sandbox data they need: known families at Oak Park (Phone
/// Log) and at Elm Street (Event mode, each with two "Phone Call" tasks due today).
fn plan(n: u64) -> (Vec<Conversation>, Dataset) {
    let now = Utc::now();
    let t0 = now.timestamp_millis() - 300_000;
    let mut data = Dataset::demo(now);
    data.families.clear();
    data.tasks.clear();
    let due = now - Span::seconds(5);
    let mut out = Vec::new();
    for i in 0..n {
        let kind = match i % 6 {
            0 | 1 => Kind::PhoneLogNewCaller,
            2 => Kind::PhoneLogKnownFamily,
            3 => Kind::EventNewCaller,
            _ => Kind::EventKnownFamily,
        };
        let caller = format!("+1650888{i:04}");
        let mut call = Call::new(i, &caller, t0);
        let mut known = None;
        if matches!(kind, Kind::EventNewCaller | Kind::EventKnownFamily) {
            call.call_center = EVENT_CC.into();
            call.call_center_phone = ELM_STREET.into();
        } else {
            call.call_center = PHONE_LOG_CC.into();
            call.call_center_phone = OAK_PARK.into();
        }
        let id = 6000 + i;
        match kind {
            Kind::PhoneLogKnownFamily => {
                data.families
                    .push(family(id, &caller, 101, now - Span::days(3)));
                known = Some(id);
            }
            Kind::EventKnownFamily => {
                data.families
                    .push(family(id, &caller, 102, now - Span::days(3)));
                for (task, at) in [(2 * id, due - Span::seconds(2)), (2 * id + 1, due)] {
                    data.tasks.push(SbTask::open(task, id, 31, at));
                }
                known = Some(id);
            }
            _ => {}
        }
        out.push(Conversation {
            kind,
            call,
            family: known,
        });
    }
    (out, data)
}

fn config(sb: &Sandboxes) -> Value {
    let base = |cc: &str| {
        json!({
            "scope": {"level": "call_center", "id": cc},
            "connection": "main",
            "screen_pop": false,
            "default_center_name": "Oak Park",
            "enable_task_queue": true
        })
    };
    let mut event = base(EVENT_CC);
    event["call_log"] = left_voicemail_event_mode();
    let mut phone_log = base(PHONE_LOG_CC);
    phone_log["call_log"] = json!({"type": "phone_log"});
    json!({
        "dialpad": {"webhook_secrets": [SECRET], "api_base_url": sb.dialpad_url, "api_key": "sandbox-dialpad-key"},
        "connections": {"main": {"base_url": sb.lineleader_url, "username": "sandbox", "password": "sandbox"}},
        "enablements": [phone_log, event]
    })
}

fn events_of(c: &Conversation) -> Vec<Value> {
    let call = &c.call;
    match c.kind {
        Kind::PhoneLogNewCaller | Kind::PhoneLogKnownFamily => {
            vec![call.agent("connected", 5_100), call.cc_hangup(295_200)]
        }
        Kind::EventNewCaller | Kind::EventKnownFamily => vec![
            call.agent("connected", 5_100),
            call.dispositions(&["Left Voicemail"], 296_000),
            call.agent("hangup", 295_050),
            call.cc_hangup(295_200),
        ],
    }
}

/// The events in a random order, but the hangups last: the disposition is sent before the
/// call ends, so that the log, 2 s after the hangup, normally has it.
fn shuffled(mut events: Vec<Value>, rng: &mut Rng) -> Vec<Value> {
    let split = events
        .iter()
        .position(|e| e["state"] == "hangup")
        .unwrap_or(events.len());
    let (before, after) = events.split_at_mut(split);
    for part in [before, after] {
        for i in (1..part.len()).rev() {
            part.swap(i, rng.between(0, i as u64 + 1) as usize);
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_every_conversation_is_logged_exactly_once() {
    let n = env_number("LLBRIDGE_CRASH_CONVERSATIONS", 30);
    let kills = env_number("LLBRIDGE_CRASH_KILLS", 8);
    let seed = env_number(
        "LLBRIDGE_CRASH_SEED",
        Utc::now().timestamp_nanos_opt().unwrap_or(7) as u64 | 1,
    );
    eprintln!("crash run: {n} conversations, {kills} kills, LLBRIDGE_CRASH_SEED={seed}");
    let begun = Instant::now();
    let mut rng = Rng(seed);

    let moto = moto::shared();
    let (conversations, data) = plan(n);
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    // Every write takes effect, then answers 300 ms later: a kill often lands between a write
    // and its recorded result, where only a lookup can tell what happened.
    let slow_writes = Faults {
        rules: [
            ("POST", "/families"),
            ("POST", "/in-contact/phone-logs"),
            ("POST", "/events"),
            ("PUT", "/tasks/*"),
            ("PUT", "/families/*/status"),
        ]
        .iter()
        .map(|(m, p)| FaultRule::slow_answer(m, p, 300))
        .collect(),
        ..Faults::default()
    };
    let sb = llbridge_sandbox::start(
        local,
        local,
        Options {
            data: Some(data),
            lineleader_faults: slow_writes,
            ..Options::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("sandboxes: {e}"));
    let dir = temp_dir("llbridge-crash");
    let (table, queue) = (moto::unique("crash"), moto::unique("crash-jobs"));
    write_json(&dir.join("config.json"), &config(&sb));
    let mut local = LocalHost::new(
        env!("CARGO_BIN_EXE_llbridge"),
        &dir.join("config.json"),
        dir.join("host.log"),
        &[
            "--aws-endpoint",
            moto.endpoint(),
            "--table",
            &table,
            "--queue",
            &queue,
            // Jobs of 6 s: writes of 2.4 s at most, leases of 14.4 s. (With 3 s, moto under a
            // 2-core CI's load can make every delivery run out of time before its write, and
            // the retries keep it loaded.) Call logs 2 s after hangup. Retries every 1 to 4 s:
            // a message redelivered by many kills does not wait long. No reconciler: this is
            // about crashes.
            "--job-budget-secs",
            "6",
            "--retry-horizon-secs",
            "3600",
            "--retry-delay-secs",
            "1",
            "--retry-max-delay-secs",
            "4",
            "--log-delay-secs",
            "2",
            "--reconcile-every-secs",
            "0",
        ],
    );
    local.spawn();
    let url = local.webhook_url();
    let host = Arc::new(Mutex::new(local));

    // The killer: SIGKILL, and a restart right after, `kills` times. Every other kill comes at
    // a random moment; the others wait for a write that LineLeader has taken and not yet
    // answered (the window where a crash leaves an intent without a result).
    let killer = {
        let host = host.clone();
        let lineleader = sb.lineleader.clone();
        // The writes aimed at, in turn; a kill waits up to 3 s for its kind of write.
        let writes = [
            "/in-contact/phone-logs",
            "/events",
            "/families",
            "/tasks/",
            "/status",
        ];
        let plan: Vec<(u64, Option<&str>)> = (0..kills)
            .map(|k| {
                let aim = (k % 2 == 1).then(|| writes[(k as usize / 2) % writes.len()]);
                (rng.between(300, 1_200), aim)
            })
            .collect();
        tokio::spawn(async move {
            let mut in_a_write = 0;
            for (pause, aim) in plan {
                tokio::time::sleep(Duration::from_millis(pause)).await;
                if let Some(aim) = aim {
                    let until = Instant::now() + Duration::from_secs(3);
                    while Instant::now() < until {
                        // Unanswered, and recent: answers come 300 ms after the write (a
                        // request whose client was killed stays unanswered for good).
                        let now = Utc::now().timestamp_millis();
                        let writing = lineleader.requests().into_iter().find(|r| {
                            r.status == 0
                                && now - r.at_ms < 250
                                && matches!(r.method.as_str(), "POST" | "PUT")
                                && (r.path.ends_with(aim) || r.path.contains(aim))
                        });
                        if let Some(w) = writing {
                            eprintln!("crash run: kill during {} {}", w.method, w.path);
                            in_a_write += 1;
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                let mut h = host.lock().unwrap_or_else(|e| e.into_inner());
                h.kill();
                h.spawn();
            }
            in_a_write
        })
    };
    // Conversations arrive one after the other, their events in a shuffled order.
    for c in &conversations {
        for e in &shuffled(events_of(c), &mut rng) {
            deliver(&url, e, SECRET).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.between(20, 120))).await;
    }
    let in_a_write = killer.await.unwrap_or_else(|e| panic!("killer: {e}"));
    eprintln!("crash run: {in_a_write} kill(s) while LineLeader held a write's answer");
    let sent_at = Instant::now();
    eprintln!(
        "crash run: events delivered in {:.1} s",
        begun.elapsed().as_secs_f64()
    );

    // Let the last host finish: the queue drains once the dead hosts' leases and in-flight
    // messages have run out. (Delayed messages are re-checks of legs that ended before their
    // call did, put off for minutes: they find the call logged.)
    let sdk = moto.sdk_config().await;
    let started = Instant::now();
    let mut empty_since: Option<Instant> = None;
    loop {
        let depth = moto::queue_depth(&sdk, &queue).await;
        if matches!(depth, Some((0, 0, _))) {
            let since = *empty_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(3) {
                break;
            }
        } else {
            empty_since = None;
        }
        if started.elapsed() > Duration::from_secs(180) {
            let tail = host.lock().map(|h| h.log_tail()).unwrap_or_default();
            panic!("the queue did not drain ({depth:?} left); the host's log ends with:\n{tail}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let state = sb.lineleader.state().data;
    eprintln!(
        "crash run: drained {:.1} s after the last event; {} phone logs, {} events, {} tasks completed, {} status changes",
        sent_at.elapsed().as_secs_f64(),
        state.phone_logs.len(),
        state.events.len(),
        state.tasks.iter().filter(|t| t.is_completed).count(),
        state.status_changes.len()
    );
    let tail = host.lock().map(|h| h.log_tail()).unwrap_or_default();
    let context = format!("seed {seed}; the host's log ends with:\n{tail}");

    // Exactly once, conversation by conversation.
    let mut created_per_phone: BTreeMap<String, usize> = BTreeMap::new();
    for f in state.families.iter().filter(|f| f.origin == "api") {
        *created_per_phone.entry(f.phone.clone()).or_default() += 1;
    }
    for c in &conversations {
        let leg = c.call.cc_leg.to_string();
        let ten = &c.call.caller[2..];
        let family_id = match c.family {
            Some(id) => id,
            None => {
                assert_eq!(
                    created_per_phone.get(ten),
                    Some(&1),
                    "one family for the new caller of {leg}: {created_per_phone:?}; {context}"
                );
                state
                    .families
                    .iter()
                    .find(|f| f.phone == ten)
                    .map(|f| f.id)
                    .unwrap_or_default()
            }
        };
        match c.kind {
            Kind::PhoneLogNewCaller | Kind::PhoneLogKnownFamily => {
                let logs: Vec<_> = state
                    .phone_logs
                    .iter()
                    .filter(|p| p.external_call_id == leg)
                    .map(|p| p.family_id)
                    .collect();
                assert_eq!(logs, vec![family_id], "one phone log for {leg}; {context}");
            }
            Kind::EventNewCaller | Kind::EventKnownFamily => {
                let events: Vec<_> = state
                    .events
                    .iter()
                    .filter(|e| e.description.contains(&leg))
                    .map(|e| e.family_id)
                    .collect();
                assert_eq!(events, vec![family_id], "one event for {leg}; {context}");
                let done: Vec<u64> = state
                    .tasks
                    .iter()
                    .filter(|t| t.family_id == family_id && t.is_completed)
                    .map(|t| t.id)
                    .collect();
                let first_due = match c.kind {
                    Kind::EventKnownFamily => vec![2 * family_id],
                    _ => vec![],
                };
                assert!(
                    done.is_empty() || done == first_due,
                    "at most the task due first, for {leg}: {done:?}; {context}"
                );
                let changes: Vec<_> = state
                    .status_changes
                    .iter()
                    .filter(|s| s.family_id == family_id)
                    .map(|s| (s.from_status_id, s.to_status_id))
                    .collect();
                assert!(
                    changes.is_empty() || changes == vec![(NEW_LEAD, CONTACTED)],
                    "at most one status change for {leg}: {changes:?}; {context}"
                );
            }
        }
    }
    let phone_log_calls = conversations
        .iter()
        .filter(|c| matches!(c.kind, Kind::PhoneLogNewCaller | Kind::PhoneLogKnownFamily))
        .count();
    assert_eq!(state.phone_logs.len(), phone_log_calls, "{context}");
    assert_eq!(
        state.events.len(),
        conversations.len() - phone_log_calls,
        "{context}"
    );

    // And the ledger accounts for every conversation: each logged, none left pending.
    let report = {
        let h = host.lock().unwrap_or_else(|e| e.into_inner());
        h.cli(&["report", "--json", "--since", "1h", "--url", &h.url()])
    };
    let text = String::from_utf8_lossy(&report.stdout).into_owned();
    assert!(report.status.success(), "report: {text}; {context}");
    let r: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(r["calls"], json!(conversations.len()), "{r}; {context}");
    assert_eq!(r["logged"], json!(conversations.len()), "{r}; {context}");
    for k in ["failed", "pending", "needs_review"] {
        assert_eq!(r[k], 0, "{k}: {r}; {context}");
    }
    drop(host);
    sb.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
