//! The wiring of a deployed stack: settings from the functions' environment (set by
//! `template.yaml`), the adapters built once per cold start, and JSON logs for CloudWatch.

use std::sync::Arc;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use llbridge_domain::config::Crms;
use llbridge_usecases::config_store::StoreConfigSource;
use llbridge_usecases::ports::{Clock, ConfigSource, SystemClock};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;

use crate::{DynamoStore, SecretsManagerSecrets, SqsQueue};

/// The stack's settings, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// `LLBRIDGE_TABLE`
    pub table: String,
    /// `LLBRIDGE_QUEUE_URL`
    pub queue_url: String,
    /// `LLBRIDGE_LOG_DELAY_SECS` (default 180, at most 900)
    pub log_delay: Duration,
    /// `LLBRIDGE_DLQ_URL`: where the worker moves jobs it gives up (the worker only).
    pub dead_letter_url: Option<String>,
    /// `LLBRIDGE_RETRY_HORIZON_SECS` (default 6 h, from 10 min to 12 h): how long a failing job
    /// is retried before it goes to the dead-letter queue.
    pub retry_horizon: Duration,
}

/// The longest retry horizon: the queue's redrive count (60 deliveries) covers it.
pub const MAX_RETRY_HORIZON: Duration = Duration::from_secs(12 * 3600);

impl Deployment {
    pub fn from_env() -> Result<Deployment, String> {
        Deployment::from_vars(|k| std::env::var(k).ok())
    }

    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Deployment, String> {
        let need = |k: &str| {
            var(k)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| format!("environment variable {k} is not set"))
        };
        let log_delay = match var("LLBRIDGE_LOG_DELAY_SECS") {
            None => 180,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|s| *s <= 900)
                .ok_or_else(|| {
                    format!("LLBRIDGE_LOG_DELAY_SECS={v} is not a number of seconds in 0..=900")
                })?,
        };
        let retry_horizon = match var("LLBRIDGE_RETRY_HORIZON_SECS") {
            None => 6 * 3600,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|s| (600..=MAX_RETRY_HORIZON.as_secs()).contains(s))
                .ok_or_else(|| {
                    format!(
                        "LLBRIDGE_RETRY_HORIZON_SECS={v} is not a number of seconds in 600..={}",
                        MAX_RETRY_HORIZON.as_secs()
                    )
                })?,
        };
        Ok(Deployment {
            table: need("LLBRIDGE_TABLE")?,
            queue_url: need("LLBRIDGE_QUEUE_URL")?,
            log_delay: Duration::from_secs(log_delay),
            dead_letter_url: var("LLBRIDGE_DLQ_URL").filter(|v| !v.trim().is_empty()),
            retry_horizon: Duration::from_secs(retry_horizon),
        })
    }
}

/// The AWS adapters of a function, built once per cold start.
pub struct Adapters {
    pub store: Arc<DynamoStore>,
    pub queue: Arc<SqsQueue>,
    pub secrets: Arc<SecretsManagerSecrets>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<dyn ConfigSource>,
}

/// Builds the adapters. `call_timeout` bounds each AWS call, retries included (the webhook
/// must answer Dialpad within 5 s); the stored config is read with the CRMs `crms`.
pub fn adapters(d: &Deployment, call_timeout: Duration, crms: Crms<'static>) -> Adapters {
    let sdk = crate::lambda_sdk_config(|k| std::env::var(k).ok())
        .into_builder()
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(call_timeout)
                .connect_timeout(Duration::from_secs(2))
                .build(),
        )
        .build();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(DynamoStore::new(&sdk, d.table.clone()));
    Adapters {
        config: Arc::new(StoreConfigSource::new(store.clone(), clock.clone(), crms)),
        queue: Arc::new(match &d.dead_letter_url {
            Some(dlq) => {
                SqsQueue::new(&sdk, d.queue_url.clone()).with_dead_letter_queue(dlq.clone())
            }
            None => SqsQueue::new(&sdk, d.queue_url.clone()),
        }),
        secrets: Arc::new(SecretsManagerSecrets::new(&sdk)),
        store,
        clock,
    }
}

/// One JSON object per log line, fields at the top level, for CloudWatch Logs Insights.
/// `RUST_LOG` sets the levels: `info` (the default), or `target=level` pairs such as
/// `info,llbridge_crm_lineleader=debug`; a value that does not parse leaves `info` and says so once.
pub fn init_json_logs() {
    let (filter, bad) = log_filter(std::env::var("RUST_LOG").ok().as_deref());
    if tracing::subscriber::set_global_default(json_logs(filter, std::io::stdout)).is_err() {
        eprintln!("logging was set up already");
    }
    if let Some(error) = bad {
        tracing::warn!(error = %error, "RUST_LOG does not parse; logging at info");
    }
}

/// The levels `RUST_LOG` asks for, and why it was not understood, if it was not.
pub fn log_filter(rust_log: Option<&str>) -> (Targets, Option<String>) {
    let info = || Targets::new().with_default(tracing::Level::INFO);
    match rust_log.map(str::trim).filter(|v| !v.is_empty()) {
        None => (info(), None),
        Some(v) => match v.parse::<Targets>() {
            Ok(t) => (t, None),
            Err(e) => (info(), Some(format!("{v:?}: {e}"))),
        },
    }
}

/// The functions' metrics ([`llbridge_usecases::telemetry`]): CloudWatch Embedded Metric Format
/// documents on standard output, next to the log lines, in the namespace
/// `LLBRIDGE_METRICS_NAMESPACE` (`llbridge/<stack>`), flushed after each invocation.
#[derive(Clone, Copy)]
pub struct Metrics(Option<&'static metrics_cloudwatch_embedded::Collector>);

/// Installs the metrics recorder once per cold start.
pub fn init_metrics() -> Metrics {
    let namespace =
        std::env::var("LLBRIDGE_METRICS_NAMESPACE").unwrap_or_else(|_| "llbridge".to_owned());
    match metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(namespace)
        .init()
    {
        Ok(collector) => {
            llbridge_usecases::telemetry::describe();
            Metrics(Some(collector))
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics are off: the recorder could not be installed");
            Metrics(None)
        }
    }
}

impl Metrics {
    /// Writes what the invocation counted, and starts counting afresh.
    pub fn flush(&self) {
        if let Some(collector) = self.0 {
            if let Err(e) = collector.flush(std::io::stdout().lock()) {
                tracing::warn!(error = %e, "metrics: could not write the invocation's metrics");
            }
            llbridge_usecases::telemetry::flushed();
        }
    }
}

/// The functions' log format, written to `writer`: one JSON object per line, the event's
/// fields at the top level, the fields of the job's span under `span` (`span.call_id`), no
/// colour codes.
pub fn json_logs<W>(filter: Targets, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_ansi(false)
        .with_writer(writer)
        .finish()
        .with(filter)
}

#[cfg(test)]
mod tests {
    use tracing::level_filters::LevelFilter;

    use super::*;

    #[test]
    fn rust_log_sets_the_levels() {
        let (t, bad) = log_filter(None);
        assert_eq!((t.default_level(), bad), (Some(LevelFilter::INFO), None));
        let (t, bad) = log_filter(Some("warn,llbridge_crm_lineleader=debug"));
        assert_eq!(bad, None);
        assert_eq!(t.default_level(), Some(LevelFilter::WARN));
        assert!(t.would_enable("llbridge_crm_lineleader::client", &tracing::Level::DEBUG));
        assert!(!t.would_enable("llbridge_usecases::worker", &tracing::Level::INFO));
        let (t, bad) = log_filter(Some("llbridge=loud"));
        assert_eq!(t.default_level(), Some(LevelFilter::INFO));
        assert!(
            bad.as_deref().is_some_and(|e| e.contains("llbridge=loud")),
            "{bad:?}"
        );
    }

    #[test]
    fn settings_from_the_environment() {
        let vars = |k: &str| match k {
            "LLBRIDGE_TABLE" => Some("t".to_owned()),
            "LLBRIDGE_QUEUE_URL" => Some("https://sqs/q".to_owned()),
            _ => None,
        };
        let d = Deployment::from_vars(vars).unwrap();
        assert_eq!(d.log_delay, Duration::from_secs(180));
        assert_eq!(d.retry_horizon, Duration::from_secs(6 * 3600));
        assert_eq!(d.dead_letter_url, None);
        let long = |k: &str| match k {
            "LLBRIDGE_RETRY_HORIZON_SECS" => Some("86400".to_owned()),
            other => vars(other),
        };
        assert!(Deployment::from_vars(long)
            .unwrap_err()
            .contains("LLBRIDGE_RETRY_HORIZON_SECS"));
        let bad = |k: &str| match k {
            "LLBRIDGE_LOG_DELAY_SECS" => Some("1000".to_owned()),
            other => vars(other),
        };
        assert!(Deployment::from_vars(bad).unwrap_err().contains("0..=900"));
        let missing = |k: &str| (k != "LLBRIDGE_TABLE").then(|| vars(k)).flatten();
        assert!(Deployment::from_vars(missing)
            .unwrap_err()
            .contains("LLBRIDGE_TABLE"));
    }
}
