use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use llbridge_usecases::ports::{Clock, Condition, Item, Store, Write};
use llbridge_usecases::{Error, Result};

/// An in-memory store with the same semantics as the DynamoDB adapter: versions, conditional
/// writes, and expired items reading as absent.
pub struct MemoryStore {
    clock: Arc<dyn Clock>,
    items: Mutex<HashMap<String, Item>>,
}

impl MemoryStore {
    pub fn new(clock: Arc<dyn Clock>) -> MemoryStore {
        MemoryStore {
            clock,
            items: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Item>>> {
        self.items
            .lock()
            .map_err(|_| Error::transient("store", "store state poisoned"))
    }

    fn live(&self, item: &Item) -> bool {
        item.expires_at.is_none_or(|t| t > self.clock.now_secs())
    }

    /// The version a write of `key` under `condition` gets, or `None` when the condition fails.
    fn holds(&self, items: &HashMap<String, Item>, key: &str, condition: Condition) -> Option<u64> {
        let current = items.get(key).filter(|i| self.live(i));
        let ok = match (condition, current) {
            (Condition::Any, _) => true,
            (Condition::Absent, None) => true,
            (Condition::Absent, Some(_)) => false,
            (Condition::Version(v), Some(i)) => i.version == v,
            (Condition::Version(_), None) => false,
        };
        ok.then(|| current.map_or(1, |i| i.version + 1))
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Item>> {
        Ok(self.lock()?.get(key).filter(|i| self.live(i)).cloned())
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        expires_at: Option<i64>,
        condition: Condition,
    ) -> Result<Option<u64>> {
        let mut items = self.lock()?;
        let Some(version) = self.holds(&items, key, condition) else {
            return Ok(None);
        };
        items.insert(
            key.to_owned(),
            Item {
                value: value.to_owned(),
                version,
                expires_at,
            },
        );
        Ok(Some(version))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Item>>> {
        let items = self.lock()?;
        Ok(keys
            .iter()
            .map(|k| items.get(k).filter(|i| self.live(i)).cloned())
            .collect())
    }

    async fn transact(&self, writes: &[Write]) -> Result<Option<Vec<u64>>> {
        Write::check_all(writes)?;
        let mut items = self.lock()?;
        let mut versions = Vec::with_capacity(writes.len());
        for w in writes {
            match self.holds(&items, &w.key, w.condition) {
                Some(v) => versions.push(v),
                None => return Ok(None),
            }
        }
        for (w, version) in writes.iter().zip(&versions) {
            items.insert(
                w.key.clone(),
                Item {
                    value: w.value.clone(),
                    version: *version,
                    expires_at: w.expires_at,
                },
            );
        }
        Ok(Some(versions))
    }

    async fn delete(&self, key: &str, version: Option<u64>) -> Result<bool> {
        let mut items = self.lock()?;
        let matches = match (items.get(key).filter(|i| self.live(i)), version) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(i), Some(v)) => i.version == v,
        };
        if matches {
            items.remove(key);
        }
        Ok(matches)
    }
}
