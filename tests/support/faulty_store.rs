//! A store that fails chosen writes: an outage of the store, or a job dying, at the worst
//! moment of the exactly-once machinery.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use llbridge_usecases::ports::{Condition, Item, Store, Write};
use llbridge_usecases::{Error, Result};

/// Which writes fail: those of keys starting with `prefix` whose value contains `containing`,
/// the next `times` of them.
#[derive(Debug, Clone)]
pub struct WriteFault {
    pub prefix: String,
    pub containing: String,
    pub times: usize,
}

/// A store that fails the writes its faults name (transiently, nothing written), and passes
/// everything else to `inner`. A transaction with one such write fails whole.
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    faults: Mutex<Vec<WriteFault>>,
    failed: Mutex<Vec<String>>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn Store>, faults: Vec<WriteFault>) -> FaultyStore {
        FaultyStore {
            inner,
            faults: Mutex::new(faults),
            failed: Mutex::new(Vec::new()),
        }
    }

    /// The keys of the writes it failed, in order.
    pub fn failed(&self) -> Vec<String> {
        self.failed.lock().map(|f| f.clone()).unwrap_or_default()
    }

    fn hit(&self, key: &str, value: &str) -> bool {
        let Ok(mut faults) = self.faults.lock() else {
            return false;
        };
        let hit = faults
            .iter_mut()
            .find(|f| f.times > 0 && key.starts_with(&f.prefix) && value.contains(&f.containing));
        match hit {
            Some(f) => {
                f.times -= 1;
                if let Ok(mut failed) = self.failed.lock() {
                    failed.push(key.to_owned());
                }
                true
            }
            None => false,
        }
    }
}

fn down(key: &str) -> Error {
    Error::transient("store", format!("{key}: injected write failure"))
}

#[async_trait]
impl Store for FaultyStore {
    async fn get(&self, key: &str) -> Result<Option<Item>> {
        self.inner.get(key).await
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        expires_at: Option<i64>,
        condition: Condition,
    ) -> Result<Option<u64>> {
        if self.hit(key, value) {
            return Err(down(key));
        }
        self.inner.put(key, value, expires_at, condition).await
    }

    async fn delete(&self, key: &str, version: Option<u64>) -> Result<bool> {
        self.inner.delete(key, version).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Item>>> {
        self.inner.get_many(keys).await
    }

    async fn transact(&self, writes: &[Write]) -> Result<Option<Vec<u64>>> {
        if let Some(w) = writes.iter().find(|w| self.hit(&w.key, &w.value)) {
            return Err(down(&w.key));
        }
        self.inner.transact(writes).await
    }
}
