//! The end-to-end suites of the worker (matching, phone logs, screen pops, concurrency, Event
//! mode) once more, with the host on the AWS adapters: SQS, DynamoDB and Secrets Manager on moto.
//! (`scenario::on_aws` sees this binary's name.)

#[path = "e2e_concurrency.rs"]
mod concurrency;
#[path = "e2e_event_mode.rs"]
mod event_mode;
#[path = "e2e_matching.rs"]
mod matching;
#[path = "e2e_phone_log.rs"]
mod phone_log;
#[path = "e2e_screen_pop.rs"]
mod screen_pop;

#[test]
fn this_binary_runs_on_the_aws_adapters() {
    assert!(llbridge_tests::scenario::on_aws());
}
