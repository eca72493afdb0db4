//! The installation config in the store: push, show and the cached source, over `MemoryStore`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use llbridge_memory::{ManualClock, MemoryStore};
use llbridge_usecases::config_store::{push, show, PushError, StoreConfigSource};
use llbridge_usecases::ports::{Condition, ConfigSource, Item, Store, Write};
use llbridge_usecases::{Error, Result};

fn doc(password: &str) -> String {
    format!(
        r#"{{
          "dialpad": {{
            "webhook_secrets": [{{"secret": "llbridge/prod", "key": "webhook_secret"}}],
            "api_key": {{"secret": "llbridge/prod", "key": "dialpad_api_key"}}
          }},
          "connections": {{
            "main": {{
              "base_url": "https://live.childcarecrm.com",
              "username": {{"secret": "llbridge/prod", "key": "ll_username"}},
              "password": {password}
            }}
          }},
          "enablements": [{{
            "scope": {{"level": "company"}},
            "connection": "main",
            "screen_pop_base_url": "https://app.lineleader.com",
            "default_center_name": "Main Street"
          }}]
        }}"#
    )
}

fn managed() -> String {
    doc(r#"{"secret": "llbridge/prod", "key": "ll_password"}"#)
}

/// A store that counts reads and can be made to fail transiently.
struct Flaky {
    inner: MemoryStore,
    failing: AtomicBool,
    reads: AtomicUsize,
}

#[async_trait]
impl Store for Flaky {
    async fn get(&self, key: &str) -> Result<Option<Item>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Err(Error::transient("store", "throttled"));
        }
        self.inner.get(key).await
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        expires_at: Option<i64>,
        condition: Condition,
    ) -> Result<Option<u64>> {
        self.inner.put(key, value, expires_at, condition).await
    }

    async fn delete(&self, key: &str, version: Option<u64>) -> Result<bool> {
        self.inner.delete(key, version).await
    }

    async fn transact(&self, writes: &[Write]) -> Result<Option<Vec<u64>>> {
        self.inner.transact(writes).await
    }
}

fn setup() -> (Arc<ManualClock>, Arc<Flaky>) {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let store = Arc::new(Flaky {
        inner: MemoryStore::new(clock.clone()),
        failing: AtomicBool::new(false),
        reads: AtomicUsize::new(0),
    });
    (clock, store)
}

#[tokio::test]
async fn push_stores_the_document_and_show_returns_it() {
    let (_, store) = setup();
    assert_eq!(show(store.as_ref()).await.ok(), Some(None));
    let pushed = push(store.as_ref(), &managed(), llbridge_crm_registry::crms()).await;
    let pushed = pushed.unwrap_or_else(|e| panic!("push failed: {e}"));
    assert_eq!(pushed.version, 1);
    assert_eq!(pushed.installation.connections.len(), 1);
    assert_eq!(show(store.as_ref()).await.ok(), Some(Some(managed())));
    let again = push(store.as_ref(), &managed(), llbridge_crm_registry::crms())
        .await
        .map(|p| p.version);
    assert_eq!(again.ok(), Some(2));
}

#[tokio::test]
async fn a_literal_secret_is_refused_with_its_path_and_nothing_is_stored() {
    let (_, store) = setup();
    let Err(PushError::Invalid(errors)) = push(
        store.as_ref(),
        &doc(r#""hunter2""#),
        llbridge_crm_registry::crms(),
    )
    .await
    else {
        panic!("a literal password was accepted");
    };
    let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["$.connections.main.password"]);
    assert!(!errors.to_string().contains("hunter2"), "{errors}");
    assert_eq!(show(store.as_ref()).await.ok(), Some(None));
}

#[tokio::test]
async fn an_invalid_document_is_refused_with_json_paths() {
    let (_, store) = setup();
    let text = managed().replace("\"connection\": \"main\"", "\"connection\": \"nope\"");
    let Err(PushError::Invalid(errors)) =
        push(store.as_ref(), &text, llbridge_crm_registry::crms()).await
    else {
        panic!("an enablement naming a missing connection was accepted");
    };
    assert!(
        errors
            .0
            .iter()
            .any(|e| e.path.starts_with("$.enablements[0]")),
        "{errors}"
    );
    let Err(PushError::Invalid(errors)) =
        push(store.as_ref(), "{not json", llbridge_crm_registry::crms()).await
    else {
        panic!("broken JSON was accepted");
    };
    assert_eq!(errors.0[0].path, "$");
    assert_eq!(show(store.as_ref()).await.ok(), Some(None));
}

#[tokio::test]
async fn the_source_reports_a_missing_config_as_permanent() {
    let (clock, store) = setup();
    let source = StoreConfigSource::new(store, clock, llbridge_crm_registry::crms());
    let err = source.installation().await.err();
    assert!(err.is_some_and(|e| !e.is_transient() && e.message.contains("config push")));
}

#[tokio::test]
async fn the_source_caches_for_its_ttl_then_sees_a_new_push() {
    let (clock, store) = setup();
    let source =
        StoreConfigSource::new(store.clone(), clock.clone(), llbridge_crm_registry::crms());
    assert!(
        push(store.as_ref(), &managed(), llbridge_crm_registry::crms())
            .await
            .is_ok()
    );
    let first = source.installation().await.ok();
    assert_eq!(first.as_ref().map(|i| i.enablements.len()), Some(1));
    assert_eq!(store.reads.load(Ordering::SeqCst), 1);

    let changed = managed().replace("Main Street", "Elm Street");
    assert!(
        push(store.as_ref(), &changed, llbridge_crm_registry::crms())
            .await
            .is_ok()
    );
    clock.advance(Duration::from_secs(29));
    let cached = source.installation().await.ok();
    assert_eq!(
        cached.map(
            |i| llbridge_crm_lineleader::config::settings(&i.enablements[0])
                .map(|l| l.default_center_name.clone())
                .unwrap_or_default()
        ),
        Some("Main Street".to_owned())
    );
    assert_eq!(store.reads.load(Ordering::SeqCst), 1);

    clock.advance(Duration::from_secs(2));
    let fresh = source.installation().await.ok();
    assert_eq!(
        fresh.map(
            |i| llbridge_crm_lineleader::config::settings(&i.enablements[0])
                .map(|l| l.default_center_name.clone())
                .unwrap_or_default()
        ),
        Some("Elm Street".to_owned())
    );
    assert_eq!(store.reads.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_source_serves_the_last_config_through_a_transient_failure() {
    let (clock, store) = setup();
    let source =
        StoreConfigSource::new(store.clone(), clock.clone(), llbridge_crm_registry::crms());
    store.failing.store(true, Ordering::SeqCst);
    let err = source.installation().await.err();
    assert!(
        err.is_some_and(|e| e.is_transient()),
        "nothing to serve yet"
    );

    store.failing.store(false, Ordering::SeqCst);
    assert!(
        push(store.as_ref(), &managed(), llbridge_crm_registry::crms())
            .await
            .is_ok()
    );
    assert!(source.installation().await.is_ok());
    store.failing.store(true, Ordering::SeqCst);
    clock.advance(Duration::from_secs(60));
    assert!(source.installation().await.is_ok());
    let reads = store.reads.load(Ordering::SeqCst);
    // Not remembered as fresh: the next call tries the store again.
    assert!(source.installation().await.is_ok());
    assert_eq!(store.reads.load(Ordering::SeqCst), reads + 1);
}
