//! `llbridge console (--stack NAME | --url URL | --table T --queue-url Q --dlq-url D)`: the
//! console in a browser. For a deployed stack it is served here, on 127.0.0.1 (a free port),
//! reading the stack with the admin's own AWS credentials: nothing new is deployed or exposed.
//! For a local host (`--url`), the host serves it: a fresh one-time token is asked of it.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use llbridge_local_host::admin::{routes, Admin};
use llbridge_local_host::console::{Sessions, PATH};
use llbridge_usecases::ports::SystemClock;

use crate::admin::Target;

pub async fn run(target: &Target) -> anyhow::Result<ExitCode> {
    if let Some(url) = &target.url {
        let url = url.trim_end_matches('/');
        let answer: serde_json::Value = reqwest::Client::new()
            .post(format!("{url}{PATH}/token"))
            .send()
            .await
            .with_context(|| format!("cannot reach the local host at {url}"))?
            .error_for_status()
            .with_context(|| format!("{url} refused a console token"))?
            .json()
            .await
            .context("unreadable answer")?;
        let path = answer["path"].as_str().unwrap_or_default();
        println!("console (this URL works once, in one browser): {url}{path}");
        return Ok(ExitCode::SUCCESS);
    }
    let stack = crate::admin::stack_parts(target).await?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .context("cannot listen on 127.0.0.1")?;
    let addr = listener.local_addr()?;
    let sessions = Arc::new(Mutex::new(Sessions::new()));
    let token = sessions
        .lock()
        .ok()
        .and_then(|s| s.token().map(str::to_owned))
        .unwrap_or_default();
    let admin = Admin {
        store: stack.store,
        clock: Arc::new(SystemClock),
        probe: stack.probe,
        reconciler: stack.reconciler,
        port: addr.port(),
        console: sessions,
    };
    println!("console of the stack's table (this URL works once, in one browser; Ctrl-C ends the session):");
    println!("http://{addr}{PATH}?token={token}");
    let app = routes(admin).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await?;
    Ok(ExitCode::SUCCESS)
}
