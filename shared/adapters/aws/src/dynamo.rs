//! The store on one DynamoDB table (single-table design).
//!
//! Item layout: `pk` (S, the key), `value` (S), `version` (N, 1 on creation, +1 per write) and
//! `ttl` (N, epoch seconds; the table's TTL attribute, absent when the item never expires).
//! DynamoDB deletes expired items late (up to days), so every read and every condition treats an
//! item whose `ttl` has passed as absent, exactly as `MemoryStore` does.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnValue, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use llbridge_usecases::ports::{Clock, Condition, Item, Store, SystemClock, Write};
use llbridge_usecases::{Error, Result};

use crate::classify::port_error;

const PK: &str = "pk";
const VALUE: &str = "value";
const VERSION: &str = "version";
const TTL: &str = "ttl";

/// `#ttl`, `#value` and `#version` stand for the attributes: `ttl` and `value` are reserved words.
const LIVE: &str = "(attribute_not_exists(#ttl) OR #ttl > :now)";
const ABSENT: &str = "(attribute_not_exists(pk) OR #ttl <= :now)";

/// How many times an unconditional put retries when another writer creates or removes the
/// item between its two steps.
const ANY_ATTEMPTS: usize = 5;

/// A [`Store`] on a DynamoDB table whose partition key is `pk` (S).
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl DynamoStore {
    pub fn new(config: &SdkConfig, table: impl Into<String>) -> DynamoStore {
        DynamoStore::from_client(Client::new(config), table)
    }

    pub fn from_client(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Uses `clock` to decide which items have expired (the default is the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> DynamoStore {
        self.clock = clock;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn now(&self) -> AttributeValue {
        AttributeValue::N(self.clock.now_secs().to_string())
    }

    fn item(
        key: &str,
        value: &str,
        version: u64,
        expires_at: Option<i64>,
    ) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::from([
            (PK.to_owned(), AttributeValue::S(key.to_owned())),
            (VALUE.to_owned(), AttributeValue::S(value.to_owned())),
            (VERSION.to_owned(), AttributeValue::N(version.to_string())),
        ]);
        if let Some(t) = expires_at {
            item.insert(TTL.to_owned(), AttributeValue::N(t.to_string()));
        }
        item
    }

    /// PutItem of a whole item when `condition` holds; `Ok(false)` when it does not.
    async fn put_if(
        &self,
        item: HashMap<String, AttributeValue>,
        condition: &str,
        mut values: HashMap<String, AttributeValue>,
    ) -> Result<bool> {
        values.insert(":now".to_owned(), self.now());
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names(condition)))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed_put(&e) => Ok(false),
            Err(e) => Err(port_error(
                "store",
                &format!("PutItem on {}", self.table),
                e,
            )),
        }
    }

    /// Overwrites a live item, bumping its version; `Ok(None)` when there is no live item.
    async fn overwrite_live(
        &self,
        key: &str,
        value: &str,
        expires_at: Option<i64>,
    ) -> Result<Option<u64>> {
        let mut update = "SET #value = :value, #version = #version + :one".to_owned();
        let mut values = HashMap::from([
            (":value".to_owned(), AttributeValue::S(value.to_owned())),
            (":one".to_owned(), AttributeValue::N("1".to_owned())),
            (":now".to_owned(), self.now()),
        ]);
        match expires_at {
            Some(t) => {
                update.push_str(", #ttl = :ttl");
                values.insert(":ttl".to_owned(), AttributeValue::N(t.to_string()));
            }
            None => update.push_str(" REMOVE #ttl"),
        }
        let condition = format!("attribute_exists(pk) AND {LIVE}");
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(key.to_owned()))
            .set_expression_attribute_names(Some(names(&format!("{update} {condition}"))))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match res {
            Ok(out) => {
                let version = out
                    .attributes()
                    .and_then(|a| a.get(VERSION))
                    .and_then(number)
                    .ok_or_else(|| {
                        Error::transient("store", "UpdateItem returned no version attribute")
                    })?;
                Ok(Some(version))
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(port_error(
                "store",
                &format!("UpdateItem on {}", self.table),
                e,
            )),
        }
    }
}

fn conditional_failed_put(
    e: &SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError>,
) -> bool {
    e.as_service_error()
        .is_some_and(|s| s.is_conditional_check_failed_exception())
}

/// The expression attribute names an expression uses (DynamoDB rejects unused ones).
fn names(expression: &str) -> HashMap<String, String> {
    [TTL, VERSION, VALUE]
        .into_iter()
        .filter(|attr| expression.contains(&format!("#{attr}")))
        .map(|attr| (format!("#{attr}"), attr.to_owned()))
        .collect()
}

/// Keys per `BatchGetItem` request (DynamoDB's limit).
/// `BatchGetItem` requests in flight at once for one [`Store::get_many`].
const BATCH_PARALLEL: usize = 4;
const BATCH_GET: usize = 100;
/// Requests for one batch's unprocessed keys before giving up (transient).
const BATCH_ROUNDS: usize = 8;

impl DynamoStore {
    /// An item as read, unless its `ttl` has passed.
    /// One `BatchGetItem` of at most [`BATCH_GET`] keys, with its unprocessed keys asked
    /// again: the items found.
    async fn batch_get(&self, chunk: Vec<String>) -> Result<Vec<(String, Item)>> {
        let mut found = Vec::with_capacity(chunk.len());
        let mut todo: Vec<HashMap<String, AttributeValue>> = chunk
            .iter()
            .map(|k| HashMap::from([(PK.to_owned(), AttributeValue::S(k.clone()))]))
            .collect();
        for round in 0..BATCH_ROUNDS {
            if todo.is_empty() {
                break;
            }
            if round > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(50 << round.min(5))).await;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut todo)))
                .consistent_read(true)
                .build()
                .map_err(|e| Error::permanent("store", format!("BatchGetItem: {e}")))?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| port_error("store", &format!("BatchGetItem on {}", self.table), e))?;
            for attrs in out
                .responses()
                .and_then(|r| r.get(&self.table))
                .into_iter()
                .flatten()
            {
                let Some(key) = attrs.get(PK).and_then(|v| v.as_s().ok()) else {
                    continue;
                };
                if let Some(item) = self.live_item(key, attrs)? {
                    found.push((key.clone(), item));
                }
            }
            todo = out
                .unprocessed_keys()
                .and_then(|u| u.get(&self.table))
                .map(|k| k.keys().to_vec())
                .unwrap_or_default();
        }
        if !todo.is_empty() {
            return Err(Error::transient(
                "store",
                format!(
                    "BatchGetItem on {}: {} key(s) left unprocessed",
                    self.table,
                    todo.len()
                ),
            ));
        }
        Ok(found)
    }

    fn live_item(
        &self,
        key: &str,
        attrs: &HashMap<String, AttributeValue>,
    ) -> Result<Option<Item>> {
        let expires_at = attrs.get(TTL).and_then(number_i64);
        if expires_at.is_some_and(|t| t <= self.clock.now_secs()) {
            return Ok(None);
        }
        let value = attrs
            .get(VALUE)
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| {
                Error::permanent("store", format!("item {key}: no string attribute `value`"))
            })?
            .clone();
        let version = attrs.get(VERSION).and_then(number).ok_or_else(|| {
            Error::permanent(
                "store",
                format!("item {key}: no number attribute `version`"),
            )
        })?;
        Ok(Some(Item {
            value,
            version,
            expires_at,
        }))
    }
}

fn number(v: &AttributeValue) -> Option<u64> {
    v.as_n().ok().and_then(|n| n.parse().ok())
}

fn number_i64(v: &AttributeValue) -> Option<i64> {
    v.as_n().ok().and_then(|n| n.parse().ok())
}

#[async_trait]
impl Store for DynamoStore {
    /// A strongly consistent read: locks and leases depend on it.
    async fn get(&self, key: &str) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error("store", &format!("GetItem on {}", self.table), e))?;
        match out.item {
            Some(attrs) => self.live_item(key, &attrs),
            None => Ok(None),
        }
    }

    /// `BatchGetItem`, strongly consistent, 100 keys a request, [`BATCH_PARALLEL`] requests
    /// at a time; keys DynamoDB leaves unprocessed (throttling) are asked again after a short
    /// pause.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Item>>> {
        use futures_util::{StreamExt, TryStreamExt};
        let mut wanted: Vec<&String> = keys.iter().collect();
        wanted.sort();
        wanted.dedup();
        let chunks: Vec<Vec<String>> = wanted
            .chunks(BATCH_GET)
            .map(|c| c.iter().map(|k| (*k).clone()).collect())
            .collect();
        let found: HashMap<String, Item> = futures_util::stream::iter(chunks)
            .map(|chunk| self.batch_get(chunk))
            .buffer_unordered(BATCH_PARALLEL)
            .try_fold(
                HashMap::with_capacity(keys.len()),
                |mut all, some| async move {
                    all.extend(some);
                    Ok(all)
                },
            )
            .await?;
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    /// `TransactWriteItems` of conditional puts: all or none.
    async fn transact(&self, writes: &[Write]) -> Result<Option<Vec<u64>>> {
        Write::check_all(writes)?;
        let mut items = Vec::with_capacity(writes.len());
        let mut versions = Vec::with_capacity(writes.len());
        for w in writes {
            let mut values = HashMap::from([(":now".to_owned(), self.now())]);
            let (condition, version) = match w.condition {
                Condition::Version(v) => {
                    values.insert(":v".to_owned(), AttributeValue::N(v.to_string()));
                    let next = v.checked_add(1).ok_or_else(|| {
                        Error::permanent("store", format!("item {}: version overflow", w.key))
                    })?;
                    (format!("#version = :v AND {LIVE}"), next)
                }
                _ => (ABSENT.to_owned(), 1),
            };
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(DynamoStore::item(
                    &w.key,
                    &w.value,
                    version,
                    w.expires_at,
                )))
                .set_expression_attribute_names(Some(names(&condition)))
                .condition_expression(condition)
                .set_expression_attribute_values(Some(values))
                .build()
                .map_err(|e| Error::permanent("store", format!("TransactWriteItems: {e}")))?;
            items.push(TransactWriteItem::builder().put(put).build());
            versions.push(version);
        }
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match res {
            Ok(_) => Ok(Some(versions)),
            Err(e) => {
                use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
                let what = format!("TransactWriteItems on {}", self.table);
                match e.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                        let codes: Vec<&str> = c
                            .cancellation_reasons()
                            .iter()
                            .filter_map(|r| r.code())
                            .filter(|c| *c != "None")
                            .collect();
                        // A condition failed, or another transaction wrote one of the items
                        // at once (TransactionConflict): nothing was written, and the caller
                        // reads the items again before its next attempt.
                        if codes.contains(&"ConditionalCheckFailed")
                            || (!codes.is_empty()
                                && codes.iter().all(|c| *c == "TransactionConflict"))
                        {
                            Ok(None)
                        } else {
                            // A throttle: nothing was written, worth another attempt later.
                            Err(Error::transient(
                                "store",
                                format!("{what}: cancelled ({})", codes.join(", ")),
                            ))
                        }
                    }
                    _ => Err(port_error("store", &what, e)),
                }
            }
        }
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        expires_at: Option<i64>,
        condition: Condition,
    ) -> Result<Option<u64>> {
        match condition {
            Condition::Absent => {
                let item = DynamoStore::item(key, value, 1, expires_at);
                let ok = self.put_if(item, ABSENT, HashMap::new()).await?;
                Ok(ok.then_some(1))
            }
            Condition::Version(v) => {
                let next = v.checked_add(1).ok_or_else(|| {
                    Error::permanent("store", format!("item {key}: version overflow"))
                })?;
                let item = DynamoStore::item(key, value, next, expires_at);
                let values = HashMap::from([(":v".to_owned(), AttributeValue::N(v.to_string()))]);
                let condition = format!("#version = :v AND {LIVE}");
                let ok = self.put_if(item, &condition, values).await?;
                Ok(ok.then_some(next))
            }
            Condition::Any => {
                // A live item gets version + 1; a missing or expired one starts again at 1.
                // Each step is conditional, so a concurrent writer between them only costs a retry.
                for _ in 0..ANY_ATTEMPTS {
                    if let Some(version) = self.overwrite_live(key, value, expires_at).await? {
                        return Ok(Some(version));
                    }
                    let item = DynamoStore::item(key, value, 1, expires_at);
                    if self.put_if(item, ABSENT, HashMap::new()).await? {
                        return Ok(Some(1));
                    }
                }
                Err(Error::transient(
                    "store",
                    format!("item {key}: too much write contention"),
                ))
            }
        }
    }

    async fn delete(&self, key: &str, version: Option<u64>) -> Result<bool> {
        let mut values = HashMap::from([(":now".to_owned(), self.now())]);
        let condition = match version {
            None => format!("attribute_exists(pk) AND {LIVE}"),
            Some(v) => {
                values.insert(":v".to_owned(), AttributeValue::N(v.to_string()));
                format!("#version = :v AND {LIVE}")
            }
        };
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(key.to_owned()))
            .set_expression_attribute_names(Some(names(&condition)))
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(port_error(
                "store",
                &format!("DeleteItem on {}", self.table),
                e,
            )),
        }
    }
}
