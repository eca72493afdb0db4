//! The LineLeader CRM: the `Crm` port of the use cases, over the [`LineLeader`] API.
//!
//! * pop: the caller's family (found, or created once), remembered for the call's legs so that
//!   the call log lands on it too, popped as its LineLeader page through Dialpad's screen pop;
//! * log: family matching, then Phone Log mode or Event mode's three steps ([`call_log`]), each
//!   write an effect of the use case's exactly-once machinery.
//!
//! The rules themselves (center and family matching, the phone log, Event mode) are in the
//! domain crate.

pub mod call_log;
pub mod checkup;
pub mod follow_up;
pub mod late;
pub mod matching;
mod steps;
pub mod text;

use std::sync::Arc;

use crate::config::LineLeaderSettings;
use async_trait::async_trait;
use llbridge_domain::config::Enablement;
use llbridge_domain::phone::Phone;
use llbridge_usecases::checks::{Check, Probe};
use llbridge_usecases::crm::{Crm, Cx, LateDetail, LateLog, Logged, Offer, Owner, PopPlan, TextCx};
use llbridge_usecases::outcome::Decision;
use llbridge_usecases::{Error, Result};
use serde_json::Value;

use crate::api::LineLeader;

/// The LineLeader settings of the job's enablement.
fn settings<'a>(cx: &Cx<'a>) -> Result<&'a LineLeaderSettings> {
    crate::config::settings(cx.enablement).ok_or_else(|| {
        Error::permanent(
            "config",
            format!(
                "the enablement {} is not a LineLeader one, yet its connection is",
                cx.enablement.scope
            ),
        )
    })
}

/// The LineLeader CRM of one connection.
pub struct LineLeaderCrm {
    api: Arc<dyn LineLeader>,
}

impl LineLeaderCrm {
    pub fn new(api: Arc<dyn LineLeader>) -> LineLeaderCrm {
        LineLeaderCrm { api }
    }
}

#[async_trait]
impl Crm for LineLeaderCrm {
    async fn plan_pop(&self, cx: &Cx<'_>, _offer: &Offer<'_>) -> Result<PopPlan> {
        let settings = settings(cx)?;
        let matched =
            match matching::match_or_create(self.api.as_ref(), cx.fx, cx.conv, settings).await? {
                Ok(m) => m,
                Err(d) => {
                    return Ok(PopPlan::Skip {
                        decision: Decision::Dropped,
                        reason: d.reason,
                        detail: d.detail,
                    })
                }
            };
        if let Err(e) = matching::remember(cx.fx, cx.conv, &matched.family_id).await {
            tracing::warn!(error = %e, "LineLeader: could not remember the popped family for the call log");
        }
        let Some(uri) = settings.screen_pop_url(&matched.family_id) else {
            return Ok(PopPlan::Skip {
                decision: Decision::Skipped,
                reason: "no_screen_pop_base_url",
                detail: format!("family {}", matched.family_id),
            });
        };
        Ok(PopPlan::Page {
            uri,
            detail: format!(
                "family {} ({}; center {})",
                matched.family_id, matched.rule, matched.center_rule
            ),
        })
    }

    async fn send_pop(&self, _request: &Value) -> Result<()> {
        Err(Error::permanent(
            "lineleader",
            "LineLeader pops through Dialpad's screen pop, not a request of its own",
        ))
    }

    async fn log(&self, cx: &Cx<'_>, anchor: &str) -> Result<Logged> {
        call_log::run(self.api.as_ref(), cx, settings(cx)?, anchor).await
    }

    async fn log_late(
        &self,
        cx: &Cx<'_>,
        anchor: &str,
        late: &LateDetail<'_>,
    ) -> Result<Option<LateLog>> {
        late::run(self.api.as_ref(), cx, settings(cx)?, anchor, late).await
    }

    async fn owner(&self, caller: &Phone, enablement: &Enablement, now_ms: i64) -> Result<Owner> {
        let settings = crate::config::settings(enablement)
            .ok_or_else(|| Error::permanent("config", "the enablement is not a LineLeader one"))?;
        matching::owner(self.api.as_ref(), caller, settings, now_ms).await
    }

    async fn log_text(&self, cx: &TextCx<'_>) -> Result<Logged> {
        let settings = crate::config::settings(cx.enablement)
            .ok_or_else(|| Error::permanent("config", "the enablement is not a LineLeader one"))?;
        let Some(texts) = &settings.texts else {
            return Ok(Logged {
                result: llbridge_usecases::crm::LogResult::Dropped {
                    reason: llbridge_domain::text::ignored::TEXTS_OFF,
                    detail: "the enablement does not log texts".into(),
                },
                contact: None,
            });
        };
        text::run(self.api.as_ref(), cx, settings, texts).await
    }

    async fn checkup_groups(&self, scope: &str, groups: &[String]) -> Vec<Check> {
        checkup::centers_named(self.api.as_ref(), scope, groups).await
    }

    async fn checkup_connection(&self, scope: &str) -> Vec<Check> {
        checkup::connection(self.api.as_ref(), scope).await
    }

    async fn checkup(&self, probe: &Probe<'_>) -> Vec<Check> {
        match crate::config::settings(probe.enablement) {
            Some(settings) => checkup::enablement(self.api.as_ref(), probe, settings).await,
            None => Vec::new(),
        }
    }
}
