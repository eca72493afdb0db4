//! Dialpad's API: the HTTP client ([`client`]) and the use cases' `Dialpad` port over it
//! ([`DialpadApi`]).

use async_trait::async_trait;
use llbridge_domain::config::Target;
use llbridge_usecases::ports::{
    CallPage, CallQuery, CallRouter, CallSubscription, Dialpad, DialpadUser, PopOutcome, StartCall,
    Webhook,
};
use llbridge_usecases::{Error, Result, NOT_SENT};

pub mod client;
pub mod rest;

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

    async fn find_user(&self, email: &str) -> Result<Option<DialpadUser>> {
        self.0.find_user(email).await
    }

    async fn start_call(&self, call: &StartCall) -> Result<String> {
        self.0.start_call(call).await
    }

    async fn user(&self, id: &str) -> Result<Option<DialpadUser>> {
        self.0.user(id).await
    }

    async fn target_exists(&self, target: &Target) -> Result<bool> {
        self.0.target_exists(target).await
    }

    async fn call_routers(&self) -> Result<Vec<CallRouter>> {
        self.0.call_routers().await
    }

    async fn save_call_router(
        &self,
        router: &CallRouter,
        secret: Option<&str>,
    ) -> Result<CallRouter> {
        self.0.save_call_router(router, secret).await
    }

    async fn assign_router_number(&self, router_id: &str, number: &str) -> Result<()> {
        self.0.assign_router_number(router_id, number).await
    }

    async fn webhooks(&self) -> Result<Vec<Webhook>> {
        self.0.webhooks().await
    }

    async fn create_webhook(&self, hook_url: &str, secret: &str) -> Result<Webhook> {
        self.0.create_webhook(hook_url, secret).await
    }

    async fn update_webhook(&self, id: &str, hook_url: &str, secret: &str) -> Result<Webhook> {
        self.0.update_webhook(id, hook_url, secret).await
    }

    async fn sms_subscriptions(&self) -> Result<Vec<CallSubscription>> {
        self.0.sms_subscriptions().await
    }

    async fn save_sms_subscription(&self, sub: &CallSubscription) -> Result<CallSubscription> {
        self.0.save_sms_subscription(sub).await
    }

    async fn call_subscriptions(&self) -> Result<Vec<CallSubscription>> {
        self.0.call_subscriptions().await
    }

    async fn save_call_subscription(&self, sub: &CallSubscription) -> Result<CallSubscription> {
        self.0.save_call_subscription(sub).await
    }
}
