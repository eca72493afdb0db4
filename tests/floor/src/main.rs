//! The smallest `lambda_runtime` function, built with the functions' release settings: the
//! floor of BENCHMARKS.md's cold-start figures. It answers every event with the event.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
