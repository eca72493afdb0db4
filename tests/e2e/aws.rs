//! The worker suites once more, on the AWS adapters: SQS, DynamoDB and Secrets Manager on moto.

#[path = "click_to_call.rs"]
mod click_to_call;
#[path = "concurrency.rs"]
mod concurrency;
#[path = "drill.rs"]
mod drill;
#[path = "event_mode.rs"]
mod event_mode;
#[path = "follow_up.rs"]
mod follow_up;
#[path = "lost_answers.rs"]
mod lost_answers;
#[path = "matching.rs"]
mod matching;
#[path = "phone_log.rs"]
mod phone_log;
#[path = "screen_pop.rs"]
mod screen_pop;
#[path = "texts.rs"]
mod texts;
#[path = "webhook_crm.rs"]
mod webhook_crm;

/// The adapters of the suites loaded here.
const BACKEND: llbridge_tests::scenario::Backend = llbridge_tests::scenario::Backend::Aws;
