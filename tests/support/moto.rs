//! A moto server (the AWS API emulator from PyPI) for the suites that run the AWS adapters.
//!
//! [`shared`] starts one `moto_server -H 127.0.0.1 -p <free port>` per test binary, found in
//! `$PWD/.venv-tools/bin`, the workspace's `.venv-tools/bin` or on `PATH` (install it with
//! `bash infra/tools.sh`). `LLBRIDGE_MOTO_ENDPOINT=http://127.0.0.1:PORT` uses a server that is
//! already running instead. Tests share the server and isolate themselves with unique resource
//! names ([`unique`]); they build their own SDK clients ([`Moto::sdk_config`]), because a client
//! is bound to the tokio runtime of the test that made it.
//!
//! The server runs under a tiny `sh` watchdog that stops it when the watchdog's stdin closes:
//! when the harness is dropped, and also when the test process exits (a static is never dropped).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;

/// How long the server may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(30);

const WATCHDOG: &str = r#"
"$0" -H 127.0.0.1 -p "$1" </dev/null >"$2" 2>&1 &
pid=$!
while read -r _; do :; done
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
rm -f "$2"
"#;

/// A running moto server.
pub struct Moto {
    endpoint: String,
    watchdog: Option<(Child, ChildStdin)>,
    log: Option<PathBuf>,
}

impl Moto {
    /// Starts a server on a free port of 127.0.0.1 and waits until it answers.
    pub fn start() -> Result<Moto, String> {
        let binary = match find_moto() {
            Some(b) => b,
            None => {
                install_tools()?;
                find_moto().ok_or_else(|| {
                    "moto_server not found in ./.venv-tools/bin, <workspace>/.venv-tools/bin or \
                     PATH, even after `bash infra/tools.sh`"
                        .to_owned()
                })?
            }
        };
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port().map_err(|e| format!("no free port on 127.0.0.1: {e}"))?;
            let log = std::env::temp_dir()
                .join(format!("llbridge-moto-{}-{port}.log", std::process::id()));
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(WATCHDOG)
                .arg(&binary)
                .arg(port.to_string())
                .arg(&log)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
            let Some(stdin) = child.stdin.take() else {
                let _ = child.kill();
                return Err("no stdin pipe to the moto watchdog".into());
            };
            let mut moto = Moto {
                endpoint: format!("http://127.0.0.1:{port}"),
                watchdog: Some((child, stdin)),
                log: Some(log),
            };
            match moto.wait_ready() {
                Ok(()) => return Ok(moto),
                Err(e) => {
                    last = e;
                    moto.stop();
                }
            }
        }
        Err(last)
    }

    /// A server somebody else runs (not stopped on drop).
    pub fn external(endpoint: &str) -> Result<Moto, String> {
        let moto = Moto {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            watchdog: None,
            log: None,
        };
        moto.wait_ready()?;
        Ok(moto)
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// An SDK config for this server, built as the Lambda functions build theirs
    /// ([`llbridge_aws::lambda_sdk_config`]): region us-east-1, dummy credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        llbridge_aws::lambda_sdk_config(|k| {
            match k {
                "AWS_REGION" => Some("us-east-1"),
                "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test"),
                "AWS_ENDPOINT_URL" => Some(self.endpoint.as_str()),
                _ => None,
            }
            .map(str::to_owned)
        })
    }

    fn wait_ready(&self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if probe(&self.endpoint) {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "moto at {} did not answer /moto-api/ within {START_TIMEOUT:?}{}",
                    self.endpoint,
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_tail(&self) -> String {
        let Some(text) = self
            .log
            .as_ref()
            .and_then(|l| std::fs::read_to_string(l).ok())
        else {
            return String::new();
        };
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("; its log ends with:\n{tail}")
    }

    fn stop(&mut self) {
        if let Some((mut child, stdin)) = self.watchdog.take() {
            // Closing stdin makes the watchdog kill the server and exit.
            drop(stdin);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if let Some(log) = self.log.take() {
            let _ = std::fs::remove_file(log);
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The test binary's server, started on first use. Panics (failing the test) with a message
/// naming `infra/tools.sh` when moto is not installed.
pub fn shared() -> &'static Moto {
    static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();
    let moto = MOTO.get_or_init(|| match std::env::var("LLBRIDGE_MOTO_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Moto::external(&endpoint),
        _ => Moto::start(),
    });
    match moto {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    }
}

/// A name no other test of any run uses: `<prefix>-<pid>-<time>-<n>`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() % 1_000_000_000)
        .unwrap_or(0);
    format!("{prefix}-{}-{t}-{n}", std::process::id())
}

/// Creates a standard queue (30 s visibility timeout, as the embedded queue's default) and
/// returns its URL.
pub async fn create_queue(config: &SdkConfig, name: &str) -> String {
    let out = aws_sdk_sqs::Client::new(config)
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::VisibilityTimeout, "30")
        .send()
        .await;
    match out {
        Ok(out) => out.queue_url().unwrap_or_default().to_owned(),
        Err(e) => panic!("CreateQueue {name}: {e:?}"),
    }
}

/// Creates the store's table as `template.yaml` declares it: `pk` (S), on-demand, TTL on `ttl`.
pub async fn create_table(config: &SdkConfig, name: &str) {
    let client = aws_sdk_dynamodb::Client::new(config);
    if let Err(e) = llbridge_aws::provision::ensure_table(&client, name).await {
        panic!("CreateTable {name}: {e}");
    }
}

/// Messages in the queue named `name`: visible, in flight and delayed; `None` when the queue
/// does not exist.
pub async fn queue_depth(config: &SdkConfig, name: &str) -> Option<(usize, usize, usize)> {
    let sqs = aws_sdk_sqs::Client::new(config);
    let url = sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .ok()?
        .queue_url?;
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .ok()?
        .attributes?;
    let n = |k: QueueAttributeName| {
        attrs
            .get(&k)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0)
    };
    Some((
        n(QueueAttributeName::ApproximateNumberOfMessages),
        n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        n(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
    ))
}

/// Creates a secret whose SecretString is `json`.
pub async fn create_secret(config: &SdkConfig, name: &str, json: &str) {
    if let Err(e) = aws_sdk_secretsmanager::Client::new(config)
        .create_secret()
        .name(name)
        .secret_string(json)
        .send()
        .await
    {
        panic!("CreateSecret {name}: {e:?}");
    }
}

/// Installs the pinned tools (moto among them) into the workspace's `.venv-tools`, so that a
/// fresh clone's `cargo test --workspace` needs nothing installed by hand.
fn install_tools() -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("no workspace root")?;
    let script = root.join("infra/tools.sh");
    eprintln!("moto_server not found: running {}", script.display());
    let status = Command::new("bash")
        .arg(&script)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed ({status}); run it by hand to see why",
            script.display()
        ))
    }
}

fn find_moto() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        candidates.push(cwd.join(".venv-tools/bin/moto_server"));
    }
    if let Some(root) = Path::new(env!("CARGO_MANIFEST_DIR")).parent() {
        candidates.push(root.join(".venv-tools/bin/moto_server"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("moto_server")));
    }
    candidates.into_iter().find(|p| p.is_file())
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Whether `GET /moto-api/` answers 200.
fn probe(endpoint: &str) -> bool {
    let Some(addr) = endpoint.strip_prefix("http://") else {
        return false;
    };
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /moto-api/ HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}
