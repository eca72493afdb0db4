//! The LeadSquared contract: what both adapters of the `LeadSquared` trait (the sandbox's
//! state, and `HttpLeadSquared` against the sandbox server) must do.

use llbridge_crm_leadsquared::{HttpLeadSquared, LeadSquared, Posted};
use llbridge_sandbox::{Faults, LeadSquaredConfig, LeadSquaredSandbox, Server};
use serde_json::{json, Value};

/// A call log as the CRM posts it.
pub fn call_log(session: &str) -> Value {
    json!({
        "SourceNumber": "+16505550199",
        "DestinationNumber": "+14155550123",
        "DisplayNumber": "+14155550100",
        "StartTime": "2026-01-06 14:39:58",
        "EndTime": "2026-01-06 14:45:02",
        "CallDuration": 292,
        "Status": "Answered",
        "Direction": "Inbound",
        "CallSessionId": session,
        "ResourceURL": "https://dialpad.com/shared/call/AbC123",
        "CallNotes": "Tour Scheduled"
    })
}

pub async fn call_log_round_trip(api: &dyn LeadSquared, sb: &LeadSquaredSandbox) {
    let posted = api
        .post_call_log(&call_log("900001"))
        .await
        .expect("posted");
    let Posted::Logged { id } = posted else {
        panic!("a new call log is logged: {posted:?}");
    };
    let logs = sb.call_logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(id.as_deref(), Some(logs[0].id.as_str()));
    assert_eq!(logs[0].body, call_log("900001"));
}

/// A second call log with the same `CallSessionId` is refused, and reads as "logged before",
/// however the account words the refusal.
pub async fn duplicates_are_refused(api: &dyn LeadSquared, sb: &LeadSquaredSandbox) {
    for (i, status) in [200_u16, 409, 400, 500].into_iter().enumerate() {
        sb.set_config(LeadSquaredConfig {
            duplicate_status: status,
            ..sb.config()
        });
        let session = format!("91000{i}");
        api.post_call_log(&call_log(&session)).await.expect("first");
        let again = api.post_call_log(&call_log(&session)).await;
        assert!(
            matches!(again, Ok(Posted::Duplicate { .. })),
            "duplicate refused with {status}: {again:?}"
        );
    }
    assert_eq!(sb.call_logs().len(), 4, "one log per session");
}

pub async fn invalid_call_logs_are_rejected(api: &dyn LeadSquared, sb: &LeadSquaredSandbox) {
    for (field, value) in [
        ("DisplayNumber", Value::Null),
        ("StartTime", json!("2026-01-06T14:39:58Z")),
        ("Status", json!("answered")),
        ("CallDuration", json!(2.5)),
    ] {
        let mut log = call_log("920000");
        log[field] = value;
        let err = api.post_call_log(&log).await.expect_err(field);
        assert_eq!(err.code, Some("leadsquared_rejected"), "{field}: {err}");
        assert!(!err.is_transient(), "{field}: {err}");
    }
    assert!(sb.call_logs().is_empty());
}

pub async fn agent_popups(api: &dyn LeadSquared, sb: &LeadSquaredSandbox) {
    let popup = json!({"SourceNumber": "+16505550199", "DestinationNumber": "+14155550123",
        "DisplayNumber": "+14155550100", "Direction": "Inbound", "CallSessionId": "930000",
        "AgentEmail": "ana@example.com"});
    api.show_agent_popup(&popup).await.expect("shown");
    let err = api
        .show_agent_popup(&json!({"Direction": "Inbound"}))
        .await
        .expect_err("no caller");
    assert_eq!(err.code, Some("leadsquared_rejected"));
    let popups = sb.popups();
    assert_eq!(popups.len(), 1);
    assert_eq!(popups[0].body, popup);
}

/// The sandbox served on 127.0.0.1, and clients of it.
pub struct HttpHarness {
    pub sandbox: LeadSquaredSandbox,
    pub server: Server,
}

impl HttpHarness {
    pub async fn start() -> HttpHarness {
        let sandbox = LeadSquaredSandbox::new(LeadSquaredConfig::default(), Faults::default());
        let server = sandbox
            .serve(([127, 0, 0, 1], 0).into())
            .await
            .expect("serve");
        HttpHarness { sandbox, server }
    }

    pub fn call_log_url(&self) -> String {
        self.sandbox.call_log_url(&self.server.url())
    }

    /// A client with both URLs, requests of at most `budget`.
    pub fn client_with(&self, budget: std::time::Duration) -> HttpLeadSquared {
        HttpLeadSquared::new(
            reqwest::Client::new(),
            llbridge_usecases::ports::Secret::new(self.call_log_url()),
            Some(llbridge_usecases::ports::Secret::new(
                self.sandbox.agent_popup_url(&self.server.url()),
            )),
        )
        .expect("client")
        .with_budget(budget)
    }

    pub fn client(&self) -> HttpLeadSquared {
        self.client_with(std::time::Duration::from_secs(10))
    }
}
