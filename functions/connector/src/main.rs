//! The connector Lambda: LeadSquared's click to call (`/leadsquared/click-to-call`) and call
//! dispositions (`/leadsquared/disposition`). A function of its own: a click waits on Dialpad's
//! API (it rings the agent's devices first), and neither its wait nor its concurrency may
//! delay the webhook's answers to Dialpad; its role may start calls, the webhook's may not
//! even read the Dialpad API key's users. Adapters are built once per cold start.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::{service_fn, Body, Error, Request, RequestExt, Response};
use llbridge_aws::deployment::{adapters, init_json_logs, init_metrics, Deployment};
use llbridge_crm_leadsquared::actions::{Actions, Request as ActionRequest, KEY_HEADER};
use llbridge_usecases::click::Dialer;
use llbridge_usecases::ingest::Ingest;
use tokio::sync::OnceCell;

async fn build(deployment: &Deployment) -> Result<Arc<Actions>, Error> {
    let a = adapters(
        deployment,
        Duration::from_millis(1500),
        llbridge_crm_registry::crms(),
    );
    let clients = llbridge_crm_registry::HttpClients::new(
        a.secrets.clone(),
        a.store.clone(),
        a.clock.clone(),
    )?;
    let ingest = Arc::new(Ingest {
        config: a.config.clone(),
        secrets: a.secrets.clone(),
        queue: a.queue,
        store: a.store.clone(),
        clock: a.clock.clone(),
        log_delay: deployment.log_delay,
    });
    Ok(Arc::new(Actions {
        config: a.config,
        secrets: a.secrets,
        store: a.store,
        clock: a.clock,
        clients: Arc::new(clients),
        ingest,
        dialer: Dialer::new(),
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_json_logs();
    let metrics = init_metrics();
    let deployment = Arc::new(Deployment::from_env()?);
    let actions: Arc<OnceCell<Arc<Actions>>> = Arc::new(OnceCell::new());
    lambda_http::run(service_fn(move |req: Request| {
        let (actions, deployment) = (actions.clone(), deployment.clone());
        async move {
            let actions = actions
                .get_or_try_init(|| build(&deployment))
                .await?
                .clone();
            let body: &[u8] = match req.body() {
                Body::Empty => &[],
                Body::Text(t) => t.as_bytes(),
                Body::Binary(b) => b,
                _ => &[],
            };
            let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
            let query = req.uri().query().map(str::to_owned);
            let path = req.raw_http_path();
            let answer = actions
                .handle(ActionRequest {
                    method: req.method().as_str(),
                    path,
                    query: query.as_deref(),
                    content_type: header("content-type"),
                    key: header(KEY_HEADER),
                    body,
                })
                .await;
            metrics.flush();
            let body = if answer.body.is_null() {
                Body::Empty
            } else {
                Body::from(answer.body.to_string())
            };
            Response::builder()
                .status(answer.status)
                .header("content-type", "application/json")
                .body(body)
                .map_err(Error::from)
        }
    }))
    .await
}
