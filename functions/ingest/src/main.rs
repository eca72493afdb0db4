//! The ingest Lambda: API Gateway → the webhook use case → SQS. Adapters are built once per cold
//! start, for its first request; each request only verifies, parses, scopes and enqueues.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::{service_fn, Body, Error, Request, Response};
use llbridge_aws::deployment::{adapters, init_json_logs, init_metrics, Deployment};
use llbridge_usecases::ingest::Ingest;
use tokio::sync::OnceCell;

/// The use case and its AWS clients, built for the first request: nothing at start that the
/// request does not need.
async fn build(deployment: &Deployment) -> Arc<Ingest> {
    // Dialpad waits 5 s: every AWS call must fit well inside.
    let a = adapters(
        deployment,
        Duration::from_millis(1500),
        llbridge_crm_registry::crms(),
    );
    Arc::new(Ingest {
        config: a.config,
        secrets: a.secrets,
        queue: a.queue,
        store: a.store,
        clock: a.clock,
        log_delay: deployment.log_delay,
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_json_logs();
    let metrics = init_metrics();
    let deployment = Arc::new(Deployment::from_env()?);
    let ingest: Arc<OnceCell<Arc<Ingest>>> = Arc::new(OnceCell::new());
    lambda_http::run(service_fn(move |req: Request| {
        let (ingest, deployment) = (ingest.clone(), deployment.clone());
        async move {
            let ingest = ingest.get_or_init(|| build(&deployment)).await.clone();
            let body: &[u8] = match req.body() {
                Body::Empty => &[],
                Body::Text(t) => t.as_bytes(),
                Body::Binary(b) => b,
                _ => &[],
            };
            let answer = ingest.handle(req.method().as_str(), body).await;
            metrics.flush();
            Response::builder()
                .status(answer.status)
                .header("content-type", "application/json")
                .body(Body::from(answer.body.to_string()))
                .map_err(Error::from)
        }
    }))
    .await
}
