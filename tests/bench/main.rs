//! The benchmarks of BENCHMARKS.md, one command each:
//!
//! ```text
//! cargo bench -p llbridge-tests --bench llbridge -- pop [--latency-ms 50] [--calls 100]
//! cargo bench -p llbridge-tests --bench llbridge -- load [--seconds 20] [--connections 32]
//! cargo bench -p llbridge-tests --bench llbridge -- peak [--calls 4170] [--minutes 2]
//! cargo bench -p llbridge-tests --bench llbridge -- coldstart --floor PATH --bootstrap NAME=PATH...
//! cargo bench -p llbridge-tests --bench llbridge -- webhook [--calls 200] [--aws]
//! cargo bench -p llbridge-tests --bench llbridge -- route [--calls 200] [--latency-ms 0] [--deadline-ms 1500]
//! cargo bench -p llbridge-tests --bench llbridge -- reconcile [--calls 10000] [--aws] [--latency-ms 0] [--page-size 50] [--pace-ms 100]
//! cargo bench -p llbridge-tests --bench llbridge -- console [--calls 10000] [--runs 10] [--aws]
//! ```
//!
//! Each prints its figures, and the floor they are measured against, in one run.

mod coldstart;
mod console;
mod load;
mod peak;
mod pop;
mod reconcile;
mod route;
mod webhook;

use std::collections::BTreeMap;

/// `--name value` pairs and the words before them.
pub struct Args {
    pub command: String,
    flags: BTreeMap<String, Vec<String>>,
}

impl Args {
    fn parse() -> Args {
        // `cargo bench` adds `--bench`.
        let words: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| a != "--bench")
            .collect();
        let command = words.first().cloned().unwrap_or_default();
        let mut flags: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut name: Option<String> = None;
        for w in words.iter().skip(1) {
            if let Some(n) = w.strip_prefix("--") {
                name = Some(n.to_owned());
                flags.entry(n.to_owned()).or_default();
            } else if let Some(n) = &name {
                flags.entry(n.clone()).or_default().push(w.clone());
            }
        }
        Args { command, flags }
    }

    pub fn num(&self, name: &str, default: u64) -> u64 {
        self.flags
            .get(name)
            .and_then(|v| v.first())
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.flags.get(name).cloned().unwrap_or_default()
    }

    /// Whether `--name` was given.
    pub fn flags_has(&self, name: &str) -> bool {
        self.flags.contains_key(name)
    }

    pub fn one(&self, name: &str) -> Option<String> {
        self.flags.get(name).and_then(|v| v.first()).cloned()
    }
}

/// The `p`-th percentile (0..=100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// A LineLeader sandbox token, for a floor client that calls it directly (`ll`: its API base).
pub async fn lineleader_token(http: &reqwest::Client, ll: &str) -> String {
    http.post(format!("{ll}/login"))
        .json(&serde_json::json!({"username": "llbridge", "password": "sandbox-password"}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("login: {e}"))
        .json::<serde_json::Value>()
        .await
        .unwrap_or_else(|e| panic!("login: {e}"))["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    match args.command.as_str() {
        "pop" => runtime.block_on(pop::run(&args)),
        "load" => runtime.block_on(load::run(&args)),
        "peak" => runtime.block_on(peak::run(&args)),
        "coldstart" => runtime.block_on(coldstart::run(&args)),
        "webhook" => runtime.block_on(webhook::run(&args)),
        "reconcile" => runtime.block_on(reconcile::run(&args)),
        "route" => runtime.block_on(route::run(&args)),
        "console" => runtime.block_on(console::run(&args)),
        other => {
            eprintln!(
                "unknown benchmark {other:?}: pop, load, peak, coldstart, webhook, reconcile, route or console"
            );
            std::process::exit(2);
        }
    }
}
