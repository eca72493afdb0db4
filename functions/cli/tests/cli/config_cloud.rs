//! `llbridge config push` then `llbridge config show` against a DynamoDB table on moto: the
//! config round-trips, literal secrets are refused, and no secret value is ever printed.

use std::process::{Command, Output};

use llbridge_tests::moto;

use crate::stack::stack;

async fn table() -> (String, String) {
    let m = moto::shared();
    let config = m.sdk_config().await;
    let name = moto::unique("cli-config");
    moto::create_table(&config, &name).await;
    (m.endpoint().to_owned(), name)
}

fn llbridge(endpoint: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llbridge"))
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap_or_else(|e| panic!("run llbridge: {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn sample(name: &str) -> String {
    format!("{}/../../infra/config/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn push_then_show_round_trips() {
    let (endpoint, table) = table().await;
    let file = sample("deployed.example.json");
    let pushed = llbridge(&endpoint, &["config", "push", &file, "--table", &table]);
    assert!(pushed.status.success(), "{}", text(&pushed));
    assert!(text(&pushed).contains("config valid"), "{}", text(&pushed));
    let shown = llbridge(&endpoint, &["config", "show", "--table", &table]);
    assert!(shown.status.success(), "{}", text(&shown));
    let stored: serde_json::Value =
        serde_json::from_slice(&shown.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&shown)));
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(stored, original);
    assert_eq!(
        stored["dialpad"]["api_key"],
        serde_json::json!({"secret": "llbridge", "key": "dialpad_api_key"})
    );
}

#[tokio::test]
async fn literal_secrets_are_refused_and_never_printed() {
    let (endpoint, table) = table().await;
    let file = sample("local.json");
    let secrets = [
        "local-webhook-secret",
        "local-dialpad-api-key",
        "sandbox-password",
    ];
    let pushed = llbridge(&endpoint, &["config", "push", &file, "--table", &table]);
    assert!(!pushed.status.success());
    let out = text(&pushed);
    assert!(
        out.contains("$.dialpad.webhook_secrets[0]"),
        "the path of the literal secret: {out}"
    );
    for s in secrets {
        assert!(!out.contains(s), "a secret value was printed: {out}");
    }
    let shown = llbridge(&endpoint, &["config", "show", "--table", &table]);
    assert!(!shown.status.success(), "nothing was stored");
    assert!(
        text(&shown).contains("no config in table"),
        "{}",
        text(&shown)
    );
}

#[tokio::test]
async fn with_stack_the_table_comes_from_its_outputs_and_foreign_secrets_are_refused() {
    let (endpoint, table) = table().await;
    let file = sample("deployed.example.json");

    // The stack's functions may read another secret than the config names: refused.
    let other = stack(&table, "https://q", "https://d", "llbridge-prod").await;
    let pushed = llbridge(&endpoint, &["config", "push", &file, "--stack", &other]);
    assert!(!pushed.status.success(), "{}", text(&pushed));
    let out = text(&pushed);
    assert!(
        out.contains("$.dialpad.api_key: names the secret llbridge")
            && out.contains("llbridge-prod"),
        "{out}"
    );
    let shown = llbridge(&endpoint, &["config", "show", "--stack", &other]);
    assert!(!shown.status.success(), "nothing was stored");

    // The secret the config names: stored, and shown from the stack's name.
    let right = stack(&table, "https://q", "https://d", "llbridge").await;
    let pushed = llbridge(&endpoint, &["config", "push", &file, "--stack", &right]);
    assert!(pushed.status.success(), "{}", text(&pushed));
    assert!(text(&pushed).contains(&table), "{}", text(&pushed));
    let shown = llbridge(&endpoint, &["config", "show", "--stack", &right]);
    assert!(shown.status.success(), "{}", text(&shown));
    assert!(text(&shown).contains("dialpad_api_key"), "{}", text(&shown));

    let missing = llbridge(&endpoint, &["config", "show", "--stack", "no-such-stack"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("no-such-stack"),
        "{}",
        text(&missing)
    );
}
