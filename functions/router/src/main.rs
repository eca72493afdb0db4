//! The router Lambda: Dialpad's call routers post each inbound call to
//! `/dialpad/route/{name}` and wait for where it goes. A function of its own: its cold start
//! and concurrency do not depend on the webhook's (provisioned concurrency can keep it warm).
//! The use case and its clients are built for the first request, as the ingest's are: nothing
//! at start that the request does not need; its caches live as long as the instance.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::{service_fn, Body, Error, Request, Response};
use llbridge_aws::deployment::{adapters, init_json_logs, init_metrics, Deployment};
use llbridge_usecases::click::Users;
use llbridge_usecases::route::Router;
use tokio::sync::OnceCell;

/// The router's name: the path's last segment (`/dialpad/route/{name}`).
fn router_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

async fn build(deployment: &Deployment) -> Result<Arc<Router>, Error> {
    // Every AWS call fits well inside the answer's deadline (1.5 s by default).
    let a = adapters(
        deployment,
        Duration::from_millis(800),
        llbridge_crm_registry::crms(),
    );
    let clients = llbridge_crm_registry::HttpClients::new(
        a.secrets.clone(),
        a.store.clone(),
        a.clock.clone(),
    )?
    .with_request_budget(Duration::from_millis(1200));
    Ok(Arc::new(Router::new(
        a.config,
        a.secrets,
        a.store,
        a.clock,
        Arc::new(clients),
        Arc::new(Users::default()),
    )))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_json_logs();
    let metrics = init_metrics();
    let deployment = Arc::new(Deployment::from_env()?);
    let router: Arc<OnceCell<Arc<Router>>> = Arc::new(OnceCell::new());
    lambda_http::run(service_fn(move |req: Request| {
        let (router, deployment) = (router.clone(), deployment.clone());
        async move {
            let router = router.get_or_try_init(|| build(&deployment)).await?.clone();
            let body: &[u8] = match req.body() {
                Body::Empty => &[],
                Body::Text(t) => t.as_bytes(),
                Body::Binary(b) => b,
                _ => &[],
            };
            let name = router_name(req.uri().path()).to_owned();
            let answer = router.handle(&name, req.method().as_str(), body).await;
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
