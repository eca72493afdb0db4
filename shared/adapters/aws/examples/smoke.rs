//! A round trip through the three adapters against whatever the environment points at (a moto
//! server through `AWS_ENDPOINT_URL`, or an AWS account):
//!
//! ```sh
//! LLBRIDGE_TABLE=... LLBRIDGE_QUEUE_URL=... [LLBRIDGE_SECRET=name LLBRIDGE_SECRET_KEY=key] \
//!   cargo run -p llbridge-aws --example smoke
//! ```
//!
//! It writes and deletes one store item and sends, receives and deletes one message (run it on
//! an idle queue). A secret, when named, is resolved but never printed.

use std::time::Duration;

use llbridge_aws::{load_sdk_config, DynamoStore, SecretsManagerSecrets, SqsQueue};
use llbridge_domain::config::SecretRef;
use llbridge_usecases::ports::{Condition, Queue, Secrets, Store};

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

async fn run() -> Result<(), String> {
    let config = load_sdk_config().await;
    let store = DynamoStore::new(&config, var("LLBRIDGE_TABLE")?);
    let queue = SqsQueue::new(&config, var("LLBRIDGE_QUEUE_URL")?);
    let e = |e: llbridge_usecases::Error| e.to_string();

    let key = format!("smoke#{}", std::process::id());
    let version = store
        .put(&key, "smoke", None, Condition::Absent)
        .await
        .map_err(e)?
        .ok_or("the smoke item already exists")?;
    let read = store.get(&key).await.map_err(e)?;
    let deleted = store.delete(&key, Some(version)).await.map_err(e)?;
    println!(
        "store {}: put v{version}, read back {}, deleted {deleted}",
        store.table(),
        read.is_some()
    );

    queue.send("smoke", Duration::ZERO).await.map_err(e)?;
    let got = queue.receive(1, Duration::from_secs(5)).await.map_err(e)?;
    for m in &got {
        queue.ack(&m.receipt).await.map_err(e)?;
    }
    println!(
        "queue {}: sent 1, received and acked {}",
        queue.url(),
        got.len()
    );

    if let (Ok(secret), Ok(key)) = (var("LLBRIDGE_SECRET"), var("LLBRIDGE_SECRET_KEY")) {
        let secrets = SecretsManagerSecrets::new(&config);
        let value = secrets
            .get(&SecretRef::Managed { secret, key })
            .await
            .map_err(e)?;
        println!("secret resolved ({} characters)", value.expose().len());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("smoke: {msg}");
            std::process::ExitCode::FAILURE
        }
    }
}
