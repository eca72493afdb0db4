//! Per-process cache of reference data (centers, statuses, type lists, staff) with a TTL, so a
//! warm worker does not re-read them for every call. Family and task reads are never cached.

use std::future::Future;
use std::sync::Arc;

use crate::rules::records::{Center, Labeled, Staff, TypeList};
use llbridge_usecases::Result;
use tokio::sync::Mutex;

/// One cached list. Its lock is held while it is fetched, so concurrent misses fetch once.
pub(crate) struct Slot<T> {
    inner: Mutex<Option<(i64, Arc<Vec<T>>)>>,
}

impl<T: Clone> Slot<T> {
    fn new() -> Slot<T> {
        Slot {
            inner: Mutex::new(None),
        }
    }

    pub async fn get_or_fetch<F, Fut>(
        &self,
        now_ms: impl Fn() -> i64,
        ttl_ms: i64,
        fetch: F,
    ) -> Result<Vec<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<T>>>,
    {
        let mut slot = self.inner.lock().await;
        if let Some((at, list)) = slot.as_ref() {
            let age = now_ms() - at;
            if (0..ttl_ms).contains(&age) {
                return Ok(list.as_ref().clone());
            }
        }
        let list = fetch().await?;
        *slot = Some((now_ms(), Arc::new(list.clone())));
        Ok(list)
    }

    async fn clear(&self) {
        *self.inner.lock().await = None;
    }
}

pub(crate) struct Cache {
    pub centers: Slot<Center>,
    pub statuses: Slot<Labeled>,
    pub staff: Slot<Staff>,
    source: Slot<Labeled>,
    inquiry: Slot<Labeled>,
    task: Slot<Labeled>,
    result: Slot<Labeled>,
}

impl Cache {
    pub fn new() -> Cache {
        Cache {
            centers: Slot::new(),
            statuses: Slot::new(),
            staff: Slot::new(),
            source: Slot::new(),
            inquiry: Slot::new(),
            task: Slot::new(),
            result: Slot::new(),
        }
    }

    pub fn types(&self, list: TypeList) -> &Slot<Labeled> {
        match list {
            TypeList::FamilySource => &self.source,
            TypeList::FamilyInquiry => &self.inquiry,
            TypeList::Task => &self.task,
            TypeList::TaskResult => &self.result,
        }
    }

    pub async fn clear(&self) {
        self.centers.clear().await;
        self.statuses.clear().await;
        self.staff.clear().await;
        for l in [
            TypeList::FamilySource,
            TypeList::FamilyInquiry,
            TypeList::Task,
            TypeList::TaskResult,
        ] {
            self.types(l).clear().await;
        }
    }
}
