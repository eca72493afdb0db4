//! `llbridge demo`: the local host with sandbox LineLeader, Dialpad and LeadSquared, a few
//! scripted conversations through the real webhook, and what the CRMs received, in plain
//! words.

use llbridge_usecases::jobs::JobKind;
use std::time::Duration;

use anyhow::{bail, Context};
use llbridge_domain::phone::mask;
use llbridge_local_host::{Host, Options};
use llbridge_sandbox::calls::Call;
use llbridge_sandbox::{Dataset, LineLeaderState, SbFamily};
use serde_json::{json, Value};

const CONFIG: &str = include_str!("../../../infra/config/demo.json");
const SECRET: &str = "demo-webhook-secret";
/// The event-mode call center of the demo config (Elm Street's number).
const EVENT_CALL_CENTER: &str = "4716644561813999";
/// The call center of the demo config that runs on LeadSquared.
const LEADSQUARED_CALL_CENTER: &str = "4716644561813777";
const LOG_DELAY: Duration = Duration::from_secs(2);
/// The demo config's LeadSquared `action_key`.
const ACTION_KEY: &str = "demo-action-key-change-me-0123456789";

struct Demo {
    host: Host,
    http: reqwest::Client,
    now_ms: i64,
}

impl Demo {
    async fn send(&self, event: &Value) -> anyhow::Result<()> {
        let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes())?;
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            event,
            &key,
        )?;
        let resp = self
            .http
            .post(self.host.webhook_url())
            .body(token)
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!(
                "the webhook answered {}: {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// Sends the events in order. The scripted calls are five minutes long and played in a
    /// second: an agent's phone rings as it is played (a screen pop comes within 30 s of the
    /// ring, or not at all), the rest keeps the call's own times.
    async fn play(&self, events: &[Value]) -> anyhow::Result<()> {
        for e in events {
            let mut e = e.clone();
            if matches!(e["state"].as_str(), Some("ringing" | "connected")) {
                e["event_timestamp"] = json!(chrono::Utc::now().timestamp_millis());
            }
            self.send(&e).await?;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    async fn settle(&self) -> anyhow::Result<()> {
        if !self
            .host
            .settle(Duration::from_secs(10), Duration::from_secs(30))
            .await
        {
            bail!("the worker did not finish in time");
        }
        Ok(())
    }

    fn call(&self, seed: u64, caller: &str) -> Call {
        Call::new(seed, caller, self.now_ms - 300_000)
    }

    fn state(&self) -> anyhow::Result<LineLeaderState> {
        Ok(self
            .host
            .sandboxes
            .as_ref()
            .context("no sandbox")?
            .lineleader
            .state())
    }

    fn leadsquared(&self) -> anyhow::Result<&llbridge_sandbox::LeadSquaredSandbox> {
        Ok(&self
            .host
            .sandboxes
            .as_ref()
            .context("no sandbox")?
            .leadsquared)
    }

    fn pops(&self) -> anyhow::Result<Vec<llbridge_sandbox::Pop>> {
        Ok(self
            .host
            .sandboxes
            .as_ref()
            .context("no sandbox")?
            .dialpad
            .pops())
    }
}

fn family_name(state: &LineLeaderState, id: u64) -> String {
    state
        .data
        .families
        .iter()
        .find(|f| f.id == id)
        .map(|f| format!("#{} ({} {})", f.id, f.first_name, f.last_name))
        .unwrap_or_else(|| format!("#{id}"))
}

fn label(list: &[llbridge_sandbox::SbLabel], id: u64) -> String {
    list.iter()
        .find(|l| l.id == id)
        .map(|l| l.name.clone())
        .unwrap_or_else(|| id.to_string())
}

fn center_name(state: &LineLeaderState, id: Option<u64>) -> String {
    id.and_then(|id| state.data.centers.iter().find(|c| c.id == id))
        .map(|c| c.name.clone())
        .unwrap_or_else(|| "no center".into())
}

/// What the sandboxes held before a call.
struct Before {
    lineleader: LineLeaderState,
    pops: usize,
    leadsquared_logs: usize,
    leadsquared_popups: usize,
}

impl Demo {
    fn before(&self) -> anyhow::Result<Before> {
        Ok(Before {
            lineleader: self.state()?,
            pops: self.pops()?.len(),
            leadsquared_logs: self.leadsquared()?.call_logs().len(),
            leadsquared_popups: self.leadsquared()?.popups().len(),
        })
    }
}

/// Prints what LeadSquared received since `before`.
fn narrate_leadsquared(demo: &Demo, before: &Before) -> anyhow::Result<()> {
    let lsq = demo.leadsquared()?;
    for p in lsq.popups().iter().skip(before.leadsquared_popups) {
        let field = |k: &str| p.body[k].as_str().unwrap_or_default().to_owned();
        println!(
            "   - LeadSquared agent popup for {}: a call from {}.",
            field("AgentEmail"),
            mask(&field("SourceNumber"))
        );
    }
    for l in lsq.call_logs().iter().skip(before.leadsquared_logs) {
        let field = |k: &str| l.field(k).unwrap_or_default();
        println!(
            "   - LeadSquared call log {}: {} {} call from {} to {}, {} s, CallSessionId {}, notes \"{}\".",
            l.id,
            field("Status"),
            field("Direction"),
            mask(&field("SourceNumber")),
            mask(&field("DestinationNumber")),
            field("CallDuration"),
            field("CallSessionId"),
            field("CallNotes")
        );
        if let Some(lead) = l.field("LeadId") {
            println!("     on lead {lead} (LeadId: the lead the click was for).");
        }
    }
    Ok(())
}

/// A text from a known family and the answer: each one event on the family.
async fn texts(demo: &Demo) -> anyhow::Result<()> {
    let before = demo.state()?.data.events.len();
    let cc = json!({"id": 4716644561813504_u64, "type": "callcenter", "name": "Enrollment",
        "phone_number": "+14155550100"});
    let now = chrono::Utc::now().timestamp_millis();
    demo.play(&[
        json!({"id": 4990021937799168_u64, "created_date": now, "direction": "inbound",
            "target": cc, "contact": {"phone_number": "+14158159602"},
            "from_number": "+14158159602", "to_number": ["+14155550100"],
            "text": "Can we move the tour to Thursday?"}),
        json!({"id": 4990021937799169_u64, "created_date": now + 60_000, "direction": "outbound",
            "target": cc, "contact": {"phone_number": "+14158159602"}, "sender_id": 5150000000000001_u64,
            "from_number": "+14155550100", "to_number": ["+14158159602"],
            "text": "Thursday at 10 works. See you then!"}),
    ])
    .await?;
    demo.settle().await?;
    let state = demo.state()?;
    for e in state.data.events.iter().skip(before) {
        let text = e.description.lines().nth(3).unwrap_or_default();
        println!(
            "   - Text logged as timeline event #{} on family {}, by {}: \"{text}\".",
            e.id,
            family_name(&state, e.family_id),
            state
                .data
                .staff
                .iter()
                .find(|s| s.id == e.staff_id)
                .and_then(|s| s.email_address.clone())
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// Ana clicks a lead's number in LeadSquared: Dialpad rings her, then dials the lead; the call
/// is logged on that lead.
async fn click_to_call(demo: &Demo) -> anyhow::Result<()> {
    let url = format!("http://{}/leadsquared/click-to-call", demo.host.addr);
    let answer: Value = demo
        .http
        .post(&url)
        .header("X-Llbridge-Key", ACTION_KEY)
        .json(
            &json!({"agent_email": "ana@example.com", "phone_number": "+16505550178",
            "lead_id": "lead-1178", "virtual_number": "+14155550177"}),
        )
        .send()
        .await?
        .json()
        .await?;
    let sb = demo.host.sandboxes.as_ref().context("no sandboxes")?;
    let Some(started) = sb.dialpad.started_calls().into_iter().last() else {
        bail!("no call started: {answer}");
    };
    println!(
        "   - LeadSquared got {answer}; Dialpad rings Ana (user {}) and dials {} for the Riverside call center.",
        started.user_id,
        mask(&started.phone_number)
    );
    let before = demo.before()?;
    let mut c = demo.call(9, &started.phone_number);
    c.agent_leg = started.call_id.parse().unwrap_or_default();
    c.call_center = LEADSQUARED_CALL_CENTER.into();
    c.call_center_phone = "+14155550177".into();
    c.custom_data = started.custom_data.clone();
    demo.play(&[
        c.outbound("calling", 10),
        c.outbound("connected", 8_000),
        c.outbound("hangup", 100_000),
    ])
    .await?;
    demo.settle().await?;
    narrate_leadsquared(demo, &before)
}

/// Prints what changed in LineLeader and Dialpad since `before`.
fn narrate(demo: &Demo, before: &Before) -> anyhow::Result<()> {
    let (before, pops_before) = (&before.lineleader, before.pops);
    let after = demo.state()?;
    for f in after
        .data
        .families
        .iter()
        .filter(|f| !before.data.families.iter().any(|b| b.id == f.id))
    {
        println!(
            "   - New family {} created at {} for the unknown caller {} (source \"Phone Call\").",
            family_name(&after, f.id),
            center_name(&after, Some(f.center_id)),
            mask(&f.phone)
        );
    }
    for p in demo.pops()?.iter().skip(pops_before) {
        let family = p.uri.rsplit('/').next().unwrap_or_default();
        match p.outcome.as_str() {
            "sent" => println!(
                "   - Screen pop: the agent's browser opened family #{family} ({}).",
                p.uri
            ),
            other => println!("   - Screen pop to family #{family} refused by Dialpad ({other})."),
        }
    }
    for l in after
        .data
        .phone_logs
        .iter()
        .skip(before.data.phone_logs.len())
    {
        let minutes = (l.end_date_time - l.start_date_time).num_seconds();
        println!(
            "   - Phone log #{} on family {}: {} call, ANI {}, {}m {}s, disposition \"{}\"{}.",
            l.id,
            family_name(&after, l.family_id),
            l.direction,
            mask(&l.ani),
            minutes / 60,
            minutes % 60,
            l.disposition,
            l.recording_url
                .as_deref()
                .map(|u| format!(", recording {u}"))
                .unwrap_or_default()
        );
    }
    for t in after.data.tasks.iter().filter(|t| t.is_completed) {
        if before
            .data
            .tasks
            .iter()
            .any(|b| b.id == t.id && b.is_completed)
        {
            continue;
        }
        println!(
            "   - Task #{} (\"{}\", due today) on family {} completed with result \"{}\".",
            t.id,
            label(&after.data.task_types, t.type_id),
            family_name(&after, t.family_id),
            t.result_type
                .map(|r| label(&after.data.task_results, r))
                .unwrap_or_default()
        );
    }
    for t in after
        .data
        .tasks
        .iter()
        .filter(|t| t.origin == "created" && !before.data.tasks.iter().any(|b| b.id == t.id))
    {
        let staff = t
            .assigned_to_staff_id
            .and_then(|id| after.data.staff.iter().find(|s| s.id == id))
            .and_then(|s| s.email_address.clone())
            .unwrap_or_else(|| "nobody yet".into());
        println!(
            "   - Follow-up task #{} (\"{}\") on family {}, due {}, assigned to {staff}: {}",
            t.id,
            label(&after.data.task_types, t.type_id),
            family_name(&after, t.family_id),
            t.due_date_time.format("%H:%M UTC"),
            t.description.lines().next().unwrap_or_default()
        );
    }
    for e in after.data.events.iter().skip(before.data.events.len()) {
        let staff = after.data.staff.iter().find(|s| s.id == e.staff_id);
        println!(
            "   - Timeline event #{} \"{}\" on family {}, by {}{}: {}",
            e.id,
            label(&after.data.task_results, e.type_id),
            family_name(&after, e.family_id),
            staff
                .and_then(|s| s.email_address.clone())
                .unwrap_or_else(|| e.staff_id.to_string()),
            e.task_id
                .map(|t| format!(", linked to task #{t}"))
                .unwrap_or_default(),
            e.description.replace('\n', "; ")
        );
    }
    for c in after
        .data
        .status_changes
        .iter()
        .skip(before.data.status_changes.len())
    {
        println!(
            "   - Family {} moved from \"{}\" to \"{}\".",
            family_name(&after, c.family_id),
            label(&after.data.statuses, c.from_status_id),
            label(&after.data.statuses, c.to_status_id)
        );
    }
    Ok(())
}

/// What details that came after a log did, since report `from`.
fn late_since(demo: &Demo, from: usize) -> Vec<String> {
    demo.host
        .reports()
        .into_iter()
        .skip(from)
        .filter_map(|r| {
            let reason = r.reason.map(|r| r.as_str())?;
            let what = match reason {
                "late_disposition_applied" => {
                    "The disposition came after the log: the skipped task and status steps ran now"
                }
                "late_follow_ups_created" => {
                    "Details came after the log: follow-up tasks created now"
                }
                "late_event_after_log" => "A detail came after the log and changes nothing",
                _ => return None,
            };
            Some(format!("   - {what}. [{}]", r.detail.unwrap_or_default()))
        })
        .collect()
}

/// Reasons the worker gave for calls it did not log, since report `from`.
fn dropped_since(demo: &Demo, from: usize) -> Vec<String> {
    demo.host
        .reports()
        .into_iter()
        .skip(from)
        .filter(|r| r.decision == "dropped")
        .map(|r| {
            let why = match r.reason.map(|r| r.as_str()).unwrap_or_default() {
                "family_ambiguous" => "several families have this number and no rule could pick one (center, 10-minute window, status priority)",
                "no_center" => "no LineLeader center matched the call center",
                other => other,
            };
            let what = if r.job == Some(JobKind::ScreenPop) { "No screen pop" } else { "Not logged" };
            format!("   - {what}: {why}. [{}]", r.detail.unwrap_or_default())
        })
        .collect()
}

/// A scripted call to the Elm Street call center (Event mode).
fn elm_street(mut c: Call) -> Call {
    c.call_center = EVENT_CALL_CENTER.into();
    c.call_center_phone = "+14155550101".into();
    c
}

fn demo_data(now: chrono::DateTime<chrono::Utc>) -> Dataset {
    let mut data = Dataset::demo(now);
    // Maya's "Phone Call" task is due right now, so it is due "today" in any center's time zone
    // whenever the demo runs.
    if let Some(t) = data.tasks.iter_mut().find(|t| t.id == 5001) {
        t.due_date_time = now;
    }
    // Two families share a number in one center, created minutes apart with the same status.
    for (id, phone, minutes) in [(1101, "(408) 555-0123", 4), (1102, "408-555-0123", 2)] {
        data.families.push(SbFamily {
            id,
            created_date: now - chrono::Duration::minutes(minutes),
            center_id: 101,
            status_id: 1,
            first_name: "Sam".into(),
            last_name: format!("Rivera{id}"),
            phone: phone.into(),
            origin: "seed".into(),
        });
    }
    data
}

pub async fn run() -> anyhow::Result<()> {
    let inst =
        llbridge_crm_registry::parse(CONFIG).map_err(|e| anyhow::anyhow!("demo config: {e}"))?;
    let now = chrono::Utc::now();
    let mut opts = Options::new(inst, "127.0.0.1:0".parse()?);
    opts.log_delay = LOG_DELAY;
    opts.sandbox.data = Some(demo_data(now));
    let host = llbridge_local_host::start(opts)
        .await
        .context("cannot start the local host")?;
    let demo = Demo {
        host,
        http: reqwest::Client::new(),
        now_ms: now.timestamp_millis(),
    };
    println!(
        "llbridge demo: the webhook at {}, with sandbox LineLeader, Dialpad and LeadSquared on this machine.",
        demo.host.webhook_url()
    );
    println!(
        "Call logs wait {} s after hangup (the task queue; 180 s in production).\n",
        LOG_DELAY.as_secs()
    );

    type Script = fn(&Demo) -> (String, Vec<Value>);
    let scripts: Vec<Script> = vec![
        |d| {
            let c = d.call(1, "+16505550142");
            let mut ev = vec![
                c.agent("ringing", 200),
                c.agent("connected", 5_100),
                c.agent("hangup", 295_050),
                c.cc_hangup(295_200),
            ];
            ev.push(c.dispositions(&["Follow-Up Needed"], 296_000));
            (
                "A new caller rings Ana at the Enrollment call center (Phone Log mode).".into(),
                ev,
            )
        },
        |d| {
            let c = d.call(2, "+14158159602");
            ("A known family (Maya Lopez, typed as \"(415) 815-9602\") calls; no disposition is set.".into(), vec![c.agent("ringing", 200), c.agent("connected", 5_100), c.cc_hangup(295_200)])
        },
        |d| {
            let c = d.call(3, "+14085550123");
            (
                "A caller whose number two families share at Oak Park.".into(),
                vec![
                    c.agent("ringing", 200),
                    c.agent("connected", 5_100),
                    c.cc_hangup(295_200),
                ],
            )
        },
        |d| {
            let t0 = d.now_ms - 120_000;
            let leg = |state: &str, dt: i64| {
                let mut e = json!({"call_id": 8100000000000001_u64, "state": state, "direction": "outbound",
                    "event_timestamp": t0 + dt, "date_started": t0, "internal_number": "+14155550100",
                    "external_number": "+14158159632",
                    "target": {"id": 5150000000000001_u64, "type": "user", "email": "ana@example.com"},
                    "proxy_target": {"id": 4716644561813504_u64, "type": "callcenter", "phone": "+14155550100"}});
                if state == "hangup" {
                    e["date_connected"] = json!(t0 + 8_000);
                    e["date_ended"] = json!(t0 + 100_000);
                }
                e
            };
            (
                "Ana's Dialer campaign calls Emma Nguyen (outbound).".into(),
                vec![
                    leg("calling", 10),
                    leg("connected", 8_000),
                    leg("hangup", 100_000),
                ],
            )
        },
        |d| {
            let c = elm_street(d.call(5, "+14158159602"));
            let ev = vec![
                c.agent("ringing", 200),
                c.agent("connected", 5_100),
                c.cc_hangup(295_200),
                c.recap("recap_summary", json!("Maya asked about infant openings for March and tuition."), 300_000),
                c.recap("recap_action_items", json!([{"text": "Send Maya the infant tuition sheet"}, {"text": "Offer a tour next week"}]), 301_000),
            ];
            ("Maya Lopez calls the Elm Street call center (Event mode, follow-up tasks on); Dialpad Ai sends its recap; Ana is still in wrap-up when the log is written.".into(), ev)
        },
        |d| {
            let c = elm_street(d.call(5, "+14158159602"));
            (
                "Ten minutes later Ana picks the disposition \"Left Voicemail\" for Maya's call."
                    .into(),
                vec![c.dispositions(&["Left Voicemail"], 295_200 + 600_000)],
            )
        },
        |d| {
            let c = elm_street(d.call(7, "+14158159632"));
            (
                "Emma Nguyen calls Elm Street while every agent is busy; nobody answers.".into(),
                vec![c.cc_unanswered("missed", 40_000)],
            )
        },
        |d| {
            let mut c = d.call(6, "+16505550177");
            c.call_center = LEADSQUARED_CALL_CENTER.into();
            c.call_center_phone = "+14155550177".into();
            let ev = vec![
                c.agent("ringing", 200),
                c.agent("connected", 5_100),
                c.cc_hangup(295_200),
                c.dispositions(&["Tour Scheduled"], 296_000),
            ];
            ("A caller rings the Riverside call center, which runs on LeadSquared; Ana picks \"Tour Scheduled\".".into(), ev)
        },
    ];
    for (i, script) in scripts.iter().enumerate() {
        let (title, events) = script(&demo);
        println!("{}. {title}", i + 1);
        let before = demo.before()?;
        let reports_before = demo.host.reports().len();
        demo.play(&events).await?;
        demo.settle().await?;
        narrate(&demo, &before)?;
        narrate_leadsquared(&demo, &before)?;
        for line in dropped_since(&demo, reports_before)
            .into_iter()
            .chain(late_since(&demo, reports_before))
        {
            println!("{line}");
        }
        println!();
    }
    println!(
        "{}. Ana clicks a lead's number in LeadSquared (click to call).",
        scripts.len() + 1
    );
    click_to_call(&demo).await?;
    println!();
    println!(
        "{}. Maya Lopez texts the Enrollment call center; Ana texts back.",
        scripts.len() + 2
    );
    texts(&demo).await?;
    println!();
    let state = demo.state()?;
    println!(
        "Done: {} phone log(s), {} timeline event(s) ({} of them texts), {} status change(s), {} follow-up task(s), {} screen pop(s) in the sandboxes; {} LeadSquared call log(s), {} agent popup(s).",
        state.data.phone_logs.len(),
        state.data.events.len(),
        state
            .data
            .events
            .iter()
            .filter(|e| e.description.contains("Dialpad SMS ID:"))
            .count(),
        state.data.status_changes.len(),
        state.data.tasks.iter().filter(|t| t.origin == "created").count(),
        demo.pops()?.len(),
        demo.leadsquared()?.call_logs().len(),
        demo.leadsquared()?.popups().len()
    );
    demo.host.stop().await;
    Ok(())
}
