//! `llbridge local` as a child process, for the suites that drive the CLI like an admin does
//! (and kill it like a crash does). The binary's path comes from the test
//! (`env!("CARGO_BIN_EXE_llbridge")`).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::webhook::sign_with;

/// A free port on 127.0.0.1.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("free port: {e}"))
}

/// A fresh folder under the system's temp dir.
pub fn temp_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(crate::moto::unique(prefix));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("temp dir: {e}"));
    dir
}

/// Writes a JSON document.
pub fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, v.to_string()).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// The local host as a child process, its output in a log file.
pub struct LocalHost {
    bin: PathBuf,
    args: Vec<String>,
    pub log: PathBuf,
    pub addr: SocketAddr,
    child: Option<Child>,
}

impl LocalHost {
    /// `llbridge local --config CONFIG --listen <free port> EXTRA... --log-format json`.
    pub fn new(bin: &str, config: &Path, log: PathBuf, extra: &[&str]) -> LocalHost {
        let addr = free_addr();
        let mut args: Vec<String> = vec![
            "local".into(),
            "--config".into(),
            config.display().to_string(),
            "--listen".into(),
            addr.to_string(),
            "--log-format".into(),
            "json".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        LocalHost {
            bin: PathBuf::from(bin),
            args,
            log,
            addr,
            child: None,
        }
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| panic!("log file: {e}"));
        let err = log.try_clone().unwrap_or_else(|e| panic!("log file: {e}"));
        let child = Command::new(&self.bin)
            .args(&self.args)
            .env(
                "RUST_LOG",
                std::env::var("LLBRIDGE_TEST_LOG").unwrap_or("warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start llbridge local: {e}"));
        self.child = Some(child);
    }

    /// SIGKILL: no cleanup, no graceful shutdown.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `http://ADDR`, the admin API's base.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn webhook_url(&self) -> String {
        format!("{}/dialpad/events", self.url())
    }

    /// Waits until `GET /healthz` answers.
    pub async fn wait_ready(&self) {
        let started = Instant::now();
        let url = format!("{}/healthz", self.url());
        while started.elapsed() < Duration::from_secs(60) {
            if reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "llbridge local did not come up; its log ends with:\n{}",
            self.log_tail()
        );
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Runs another `llbridge` command (`report`, `trace`, ...) and returns its output.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .args(args)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap_or_else(|e| panic!("run llbridge {args:?}: {e}"))
    }
}

impl Drop for LocalHost {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Posts one event as Dialpad would, again and again until it is accepted (a host being
/// restarted drops connections; Dialpad retries 5xx and connection failures).
pub async fn deliver(url: &str, event: &Value, secret: &str) {
    let body = sign_with(event, secret);
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let sent = client
            .post(url)
            .body(body.clone())
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        if let Ok(r) = sent {
            if r.status().is_success() {
                return;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the webhook never accepted {event}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
