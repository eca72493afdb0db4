//! The port contracts (`support/contract.rs`), each case run against the embedded adapter and
//! the AWS adapter on moto (`support/moto.rs`; install it with `bash infra/tools.sh`).
//!
//! `cargo test -p llbridge-tests --test contracts ports::`

use std::sync::Arc;

use llbridge_aws::{DynamoStore, SecretsManagerSecrets, SqsQueue};
use llbridge_memory::{MemoryQueue, MemorySecrets, MemoryStore, SystemClock};
use llbridge_tests::contract;
use llbridge_tests::moto;

/// One test per case and adapter: `<port>::<adapter>::<case>`.
macro_rules! cases {
    ($port:ident, $make:path, [$($case:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let adapter = $make().await;
                contract::$port::$case(adapter.as_ref()).await;
            }
        )*
    };
}

macro_rules! queue_cases {
    ($make:path) => {
        cases!(
            queue,
            $make,
            [
                delayed_message_is_invisible_until_due,
                a_received_message_is_hidden_and_ack_removes_it,
                release_makes_it_visible_again_and_receive_counts_grow,
                release_with_a_delay_hides_it_until_then,
                send_batch_sends_every_message,
                a_delay_above_fifteen_minutes_is_refused,
            ]
        );
    };
}

macro_rules! store_cases {
    ($make:path) => {
        cases!(
            store,
            $make,
            [
                a_conditional_put_loses_the_second_time,
                versions_count_writes_and_guard_updates,
                a_version_condition_on_a_missing_item_fails,
                an_expired_item_reads_as_absent,
                an_expired_lease_can_be_taken_over,
                delete_honours_the_version,
                expiry_is_kept_and_cleared,
                a_stale_claim_holder_can_neither_complete_nor_release,
                a_leg_of_fifty_large_events_fits,
                a_leg_of_many_large_recaps_stays_under_the_item_limit,
                get_many_answers_each_key_in_order,
                a_transaction_writes_all_or_nothing,
            ]
        );
    };
}

/// Secrets cases also take the name of the secret holding `contract::secrets::DOCUMENT`.
macro_rules! secrets_cases {
    ($make:path, [$($case:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (adapter, secret) = $make().await;
                contract::secrets::$case(adapter.as_ref(), &secret).await;
            }
        )*
    };
    ($make:path) => {
        secrets_cases!($make, [
            a_literal_resolves_to_itself,
            a_managed_reference_reads_its_key,
            a_missing_key_is_a_permanent_error,
            a_missing_secret_is_a_permanent_error,
        ]);
    };
}

mod queue {
    use super::*;

    mod embedded {
        use super::*;

        async fn make() -> Box<MemoryQueue> {
            Box::new(MemoryQueue::new(Arc::new(SystemClock)))
        }

        queue_cases!(make);
    }

    mod sqs {
        use super::*;

        async fn make() -> Box<SqsQueue> {
            let config = moto::shared().sdk_config().await;
            let url = moto::create_queue(&config, &moto::unique("contract")).await;
            Box::new(SqsQueue::new(&config, url))
        }

        queue_cases!(make);
    }
}

mod store {
    use super::*;

    mod embedded {
        use super::*;

        async fn make() -> Box<MemoryStore> {
            Box::new(MemoryStore::new(Arc::new(SystemClock)))
        }

        store_cases!(make);
    }

    mod dynamodb {
        use super::*;

        async fn make() -> Box<DynamoStore> {
            let config = moto::shared().sdk_config().await;
            let table = moto::unique("contract");
            moto::create_table(&config, &table).await;
            Box::new(DynamoStore::new(&config, table))
        }

        store_cases!(make);
    }
}

mod secrets {
    use super::*;

    mod embedded {
        use super::*;

        async fn make() -> (Box<MemorySecrets>, String) {
            let name = "llbridge/contract".to_owned();
            let secrets = MemorySecrets::new().with(&name, contract::secrets::DOCUMENT);
            (Box::new(secrets), name)
        }

        secrets_cases!(make);
    }

    mod secrets_manager {
        use super::*;

        async fn make() -> (Box<SecretsManagerSecrets>, String) {
            let config = moto::shared().sdk_config().await;
            let name = moto::unique("llbridge/contract");
            moto::create_secret(&config, &name, contract::secrets::DOCUMENT).await;
            (Box::new(SecretsManagerSecrets::new(&config)), name)
        }

        secrets_cases!(make);
    }
}

/// What DynamoDB answers a cancelled transaction, as the AWS adapter reads it: a failed
/// condition or a collision with another transaction is `None` (nothing written, read again);
/// a throttle is a transient error. moto never collides, so a stand-in answers here.
mod dynamo_cancellations {
    use axum::http::{header, StatusCode};
    use llbridge_aws::DynamoStore;
    use llbridge_usecases::ports::{Condition, Store, Write};

    async fn store_answering(codes: &'static [&'static str]) -> DynamoStore {
        let reasons: Vec<serde_json::Value> = codes
            .iter()
            .map(|c| serde_json::json!({"Code": c}))
            .collect();
        let body = serde_json::json!({
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "Message": "Transaction cancelled",
            "CancellationReasons": reasons,
        })
        .to_string();
        let app = axum::Router::new().fallback(move || {
            let body = body.clone();
            async move {
                (
                    StatusCode::BAD_REQUEST,
                    [(header::CONTENT_TYPE, "application/x-amz-json-1.0")],
                    body,
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let endpoint = format!(
            "http://{}",
            listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        let config = llbridge_aws::lambda_sdk_config(|k| {
            match k {
                "AWS_REGION" => Some("us-east-1"),
                "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test"),
                "AWS_ENDPOINT_URL" => Some(endpoint.as_str()),
                _ => None,
            }
            .map(str::to_owned)
        });
        DynamoStore::new(&config, "t")
    }

    fn writes() -> Vec<Write> {
        ["a", "b"]
            .iter()
            .map(|k| Write {
                key: (*k).to_owned(),
                value: "{}".into(),
                expires_at: None,
                condition: Condition::Absent,
            })
            .collect()
    }

    #[tokio::test]
    async fn a_collision_with_another_transaction_is_read_again_not_a_failure() {
        for codes in [
            &["None", "TransactionConflict"][..],
            &["ConditionalCheckFailed", "None"][..],
        ] {
            let store = store_answering(codes).await;
            let answer = store.transact(&writes()).await;
            assert!(matches!(answer, Ok(None)), "{codes:?}: {answer:?}");
        }
        let store = store_answering(&["ThrottlingError", "None"]).await;
        let answer = store.transact(&writes()).await;
        assert!(
            answer.as_ref().is_err_and(|e| e.is_transient()),
            "{answer:?}"
        );
    }
}
