//! Dialpad's API: the HTTP client ([`client`]) and the use cases' `Dialpad` port over it
//! ([`DialpadApi`]).

use async_trait::async_trait;
use llbridge_usecases::ports::{CallPage, CallQuery, Dialpad, PopOutcome};
use llbridge_usecases::{Error, Result, NOT_SENT};

pub mod client;

pub use client::{HttpDialpad, PopFailure, PopResult};

/// The `Dialpad` port over [`HttpDialpad`].
pub struct DialpadApi(pub HttpDialpad);

#[async_trait]
impl Dialpad for DialpadApi {
    async fn list_calls(&self, q: &CallQuery) -> Result<CallPage> {
        match self
            .0
            .list_calls(q.started_after, q.started_before, q.cursor.as_deref())
            .await
        {
            Ok(page) => Ok(CallPage {
                items: page.items,
                cursor: page.cursor,
            }),
            Err(e) if e.transient => {
                Err(Error::transient("dialpad", e.message).with_retry_after(e.retry_after))
            }
            Err(e) => Err(Error::permanent("dialpad", e.message).with_code("dialpad_rejected")),
        }
    }

    async fn screen_pop(&self, user_id: &str, uri: &str) -> Result<PopOutcome> {
        match self.0.screen_pop(user_id, uri).await {
            Ok(PopResult::Sent) => Ok(PopOutcome::Sent),
            Ok(PopResult::RateLimited) => Ok(PopOutcome::RateLimited),
            Err(e) => Err(match e.kind {
                PopFailure::NotSent => Error::transient("dialpad", e.message).with_code(NOT_SENT),
                PopFailure::Unknown => Error::unknown_outcome("dialpad", e.message),
                PopFailure::Rejected => {
                    Error::permanent("dialpad", e.message).with_code("dialpad_rejected")
                }
            }),
        }
    }
}
