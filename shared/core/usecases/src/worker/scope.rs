//! Which conversation a job is about, and whether the product is on for it.

use std::sync::Arc;

use llbridge_domain::config::Enablement;
use llbridge_domain::conversation::Conversation;
use llbridge_domain::scope::{self, IgnoreReason};
use llbridge_domain::Installation;

use super::report::{Decision, Reason, Report};
use super::{Decided, Job, Stopped};
use crate::error::{Error, Result};
use crate::state;

/// The enablement that applies to a conversation, from all its legs.
pub fn resolve_scope<'a>(
    inst: &'a Installation,
    conv: &Conversation,
) -> std::result::Result<&'a Enablement, IgnoreReason> {
    let cc = conv.call_center.as_ref().ok_or(IgnoreReason::UserLine)?;
    scope::select(inst, &cc.id, cc.office_id.as_deref())
        .map(|(_, e)| e)
        .ok_or(IgnoreReason::NotEnabled)
}

/// A conversation in scope: its record, the config, and the enablement that applies.
pub(super) struct Scoped {
    pub conv: Conversation,
    pub inst: Arc<Installation>,
    pub enablement: Enablement,
    /// The job's report so far (conversation and scope filled in).
    pub report: Report,
    /// How the conversation reached the product.
    pub source: crate::jobs::Source,
    /// When the job's leg was first offered to its agent (a ring), by Dialpad's clock.
    pub offered_at: Option<i64>,
}

/// Whether the job's conversation is in scope.
// One per job, moved once: not worth a box.
#[allow(clippy::large_enum_variant)]
pub(super) enum InScope {
    Yes(Scoped),
    /// Not: dropped, with the reason.
    No(Decided),
}

impl Job<'_> {
    /// The job's conversation, whether the webhook delivered any of its events, and when
    /// this job's leg was first offered to its agent (Dialpad's time).
    async fn conversation(&self) -> Result<(Conversation, bool, Option<i64>)> {
        let loaded = state::load_legs(self.worker.store.as_ref(), &self.event.call_id).await?;
        let offered_at = loaded
            .events
            .iter()
            .filter(|e| e.call_id == self.event.call_id && e.state.offers_agent())
            .map(|e| e.event_timestamp)
            .min();
        let conv = llbridge_domain::conversation::merge(&loaded.events)
            .ok_or_else(|| Error::transient("store", "the merged event is not in the store yet"))?;
        tracing::Span::current().record("conversation", conv.key.as_str());
        Ok((conv, loaded.heard_from_webhook, offered_at))
    }

    /// Loads the event's conversation and decides its scope.
    pub(super) async fn scoped(&self) -> std::result::Result<InScope, Box<Stopped>> {
        let (conv, heard, offered_at) = self
            .conversation()
            .await
            .map_err(|e| Stopped::early(e, self.report(Decision::Failed)))?;
        // How the conversation reached the product: the webhook, if it delivered any of it.
        let source = if heard {
            crate::jobs::Source::Webhook
        } else {
            self.msg.source
        };
        let report = self.report(Decision::Dropped).conversation(&conv);
        let inst = match self.worker.config.installation().await {
            Ok(i) => i,
            Err(e) => {
                return Err(Stopped::on(
                    e.with_code("config_unavailable"),
                    report,
                    &conv,
                ))
            }
        };
        let enablement = match resolve_scope(&inst, &conv) {
            Ok(e) => e.clone(),
            Err(r) => {
                return Ok(InScope::No(Decided::about(
                    report.reason(Reason::Ignored(r)),
                    conv,
                )))
            }
        };
        Ok(InScope::Yes(Scoped {
            report: report.scope(&enablement),
            conv,
            inst,
            enablement,
            source,
            offered_at,
        }))
    }
}
