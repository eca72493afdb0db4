//! The contract suites of the queue, store and secrets ports, written once over the traits.
//! `tests/contracts/ports.rs` runs every case against the embedded adapter and the AWS adapter (on
//! moto). Each case gets a fresh, empty queue or table. Time is real: delays and expiries are
//! about 2 s, so the embedded adapters run on `SystemClock` here.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use llbridge_domain::config::SecretRef;
use llbridge_usecases::ports::{Condition, Queue, Received, Secrets, Store};

const NO_WAIT: Duration = Duration::ZERO;

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

async fn sleep(d: Duration) {
    tokio::time::sleep(d).await;
}

async fn receive(queue: &dyn Queue, max: usize, wait: Duration) -> Vec<Received> {
    match queue.receive(max, wait).await {
        Ok(got) => got,
        Err(e) => panic!("receive failed: {e}"),
    }
}

/// Receives until `n` messages arrived or `within` passed.
async fn receive_n(queue: &dyn Queue, n: usize, within: Duration) -> Vec<Received> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < n && Instant::now() < deadline {
        got.extend(receive(queue, n - got.len(), Duration::from_secs(1)).await);
    }
    got
}

fn bodies(got: &[Received]) -> Vec<&str> {
    let mut b: Vec<&str> = got.iter().map(|m| m.body.as_str()).collect();
    b.sort();
    b
}

macro_rules! ok {
    ($e:expr) => {
        match $e.await {
            Ok(v) => v,
            Err(e) => panic!("{} failed: {e}", stringify!($e)),
        }
    };
}

/// The queue contract.
pub mod queue {
    use super::*;

    pub async fn delayed_message_is_invisible_until_due(q: &dyn Queue) {
        let sent = Instant::now();
        ok!(q.send("later", Duration::from_secs(2)));
        ok!(q.send("now", NO_WAIT));
        let first = receive(q, 10, NO_WAIT).await;
        assert_eq!(
            bodies(&first),
            ["now"],
            "only the undelayed message is visible"
        );
        sleep(Duration::from_millis(1000)).await;
        assert!(
            receive(q, 10, NO_WAIT).await.is_empty(),
            "still hidden 1 s into a 2 s delay"
        );
        let late = receive_n(q, 1, Duration::from_secs(5)).await;
        assert_eq!(bodies(&late), ["later"]);
        assert!(
            sent.elapsed() >= Duration::from_millis(1900),
            "delivered after {:?}, before its 2 s delay",
            sent.elapsed()
        );
        assert_eq!(late[0].receive_count, 1);
    }

    pub async fn a_received_message_is_hidden_and_ack_removes_it(q: &dyn Queue) {
        ok!(q.send("a", NO_WAIT));
        ok!(q.send("b", NO_WAIT));
        let got = receive_n(q, 2, Duration::from_secs(5)).await;
        assert_eq!(bodies(&got), ["a", "b"]);
        assert!(got.iter().all(|m| m.receive_count == 1));
        assert_ne!(got[0].id, got[1].id);
        assert!(
            receive(q, 10, NO_WAIT).await.is_empty(),
            "received messages are in flight, not visible"
        );
        for m in &got {
            if m.body == "a" {
                ok!(q.ack(&m.receipt));
            } else {
                ok!(q.release(&m.receipt, NO_WAIT));
            }
        }
        let again = receive_n(q, 2, Duration::from_secs(3)).await;
        assert_eq!(bodies(&again), ["b"], "the acked message is gone");
    }

    pub async fn release_makes_it_visible_again_and_receive_counts_grow(q: &dyn Queue) {
        ok!(q.send("retry me", NO_WAIT));
        let mut id = None;
        for expected in 1..=3u32 {
            let got = receive_n(q, 1, Duration::from_secs(5)).await;
            assert_eq!(got.len(), 1, "delivery {expected}");
            let m = &got[0];
            assert_eq!(m.body, "retry me");
            assert_eq!(m.receive_count, expected);
            assert_eq!(
                id.get_or_insert_with(|| m.id.clone()),
                &m.id,
                "same message"
            );
            ok!(q.release(&m.receipt, NO_WAIT));
        }
    }

    pub async fn release_with_a_delay_hides_it_until_then(q: &dyn Queue) {
        ok!(q.send("backoff", NO_WAIT));
        let got = receive_n(q, 1, Duration::from_secs(5)).await;
        assert_eq!(got.len(), 1);
        let released = Instant::now();
        ok!(q.release(&got[0].receipt, Duration::from_secs(2)));
        assert!(receive(q, 10, NO_WAIT).await.is_empty());
        let again = receive_n(q, 1, Duration::from_secs(5)).await;
        assert_eq!(bodies(&again), ["backoff"]);
        assert!(released.elapsed() >= Duration::from_millis(1900));
        assert_eq!(again[0].receive_count, 2);
    }

    pub async fn send_batch_sends_every_message(q: &dyn Queue) {
        let batch: Vec<(String, Duration)> =
            (0..12).map(|i| (format!("m{i:02}"), NO_WAIT)).collect();
        ok!(q.send_batch(&batch));
        let got = receive_n(q, 12, Duration::from_secs(10)).await;
        let got: BTreeSet<&str> = got.iter().map(|m| m.body.as_str()).collect();
        let want: BTreeSet<&str> = batch.iter().map(|(b, _)| b.as_str()).collect();
        assert_eq!(got, want);
    }

    pub async fn a_delay_above_fifteen_minutes_is_refused(q: &dyn Queue) {
        let err = q.send("too late", Duration::from_secs(901)).await.err();
        assert!(
            err.as_ref().is_some_and(|e| !e.is_transient()),
            "expected a permanent error, got {err:?}"
        );
        ok!(q.send("just in time", Duration::from_secs(900)));
    }
}

/// The store contract.
pub mod store {
    use super::*;

    pub async fn a_conditional_put_loses_the_second_time(s: &dyn Store) {
        assert_eq!(ok!(s.get("k")), None);
        assert_eq!(ok!(s.put("k", "first", None, Condition::Absent)), Some(1));
        assert_eq!(ok!(s.put("k", "second", None, Condition::Absent)), None);
        let item = ok!(s.get("k"));
        assert_eq!(
            item.map(|i| (i.value, i.version, i.expires_at)),
            Some(("first".to_owned(), 1, None))
        );
    }

    pub async fn versions_count_writes_and_guard_updates(s: &dyn Store) {
        assert_eq!(ok!(s.put("k", "v1", None, Condition::Any)), Some(1));
        assert_eq!(ok!(s.put("k", "v2", None, Condition::Any)), Some(2));
        assert_eq!(ok!(s.put("k", "v3", None, Condition::Version(2))), Some(3));
        assert_eq!(
            ok!(s.put("k", "stale", None, Condition::Version(2))),
            None,
            "a writer holding version 2 loses"
        );
        assert_eq!(ok!(s.put("k", "v4", None, Condition::Version(3))), Some(4));
        let item = ok!(s.get("k"));
        assert_eq!(
            item.map(|i| (i.value, i.version)),
            Some(("v4".to_owned(), 4))
        );
    }

    pub async fn a_version_condition_on_a_missing_item_fails(s: &dyn Store) {
        assert_eq!(ok!(s.put("k", "v", None, Condition::Version(1))), None);
        assert_eq!(ok!(s.get("k")), None);
    }

    pub async fn an_expired_item_reads_as_absent(s: &dyn Store) {
        let past = now_secs() - 60;
        assert_eq!(ok!(s.put("k", "old", Some(past), Condition::Any)), Some(1));
        assert_eq!(ok!(s.get("k")), None, "expired, though not yet deleted");
        assert_eq!(
            ok!(s.put("k", "v", None, Condition::Version(1))),
            None,
            "an expired item has no live version"
        );
        assert!(!ok!(s.delete("k", None)), "nothing live to delete");
        assert_eq!(
            ok!(s.put("k", "new", None, Condition::Any)),
            Some(1),
            "a write over an expired item starts again at version 1"
        );
    }

    pub async fn an_expired_lease_can_be_taken_over(s: &dyn Store) {
        let until = now_secs() + 2;
        assert_eq!(
            ok!(s.put("lease", "owner-a", Some(until), Condition::Absent)),
            Some(1)
        );
        assert_eq!(
            ok!(s.put("lease", "owner-b", Some(until + 30), Condition::Absent)),
            None,
            "the lease is held"
        );
        let held = ok!(s.get("lease"));
        assert_eq!(held.map(|i| i.expires_at), Some(Some(until)));
        // Past the expiry second, with a margin for clock granularity.
        while now_secs() <= until {
            sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(ok!(s.get("lease")), None);
        assert_eq!(
            ok!(s.put("lease", "owner-b", Some(until + 30), Condition::Absent)),
            Some(1),
            "an expired lease is taken over"
        );
        let item = ok!(s.get("lease"));
        assert_eq!(item.map(|i| i.value), Some("owner-b".to_owned()));
    }

    pub async fn delete_honours_the_version(s: &dyn Store) {
        assert!(!ok!(s.delete("k", None)), "nothing to delete");
        assert_eq!(ok!(s.put("k", "v1", None, Condition::Any)), Some(1));
        assert_eq!(ok!(s.put("k", "v2", None, Condition::Any)), Some(2));
        assert!(!ok!(s.delete("k", Some(1))), "wrong version");
        assert_eq!(ok!(s.get("k")).map(|i| i.version), Some(2));
        assert!(ok!(s.delete("k", Some(2))));
        assert_eq!(ok!(s.get("k")), None);
        assert!(!ok!(s.delete("k", Some(2))), "already gone");
        assert_eq!(
            ok!(s.put("k", "again", None, Condition::Absent)),
            Some(1),
            "a deleted key starts again at version 1"
        );
        assert!(ok!(s.delete("k", None)));
        assert_eq!(ok!(s.get("k")), None);
    }

    pub async fn expiry_is_kept_and_cleared(s: &dyn Store) {
        let later = now_secs() + 3600;
        assert_eq!(ok!(s.put("k", "v1", Some(later), Condition::Any)), Some(1));
        assert_eq!(ok!(s.get("k")).and_then(|i| i.expires_at), Some(later));
        assert_eq!(ok!(s.put("k", "v2", None, Condition::Any)), Some(2));
        let item = ok!(s.get("k"));
        assert_eq!(
            item.map(|i| (i.value, i.version, i.expires_at)),
            Some(("v2".to_owned(), 2, None))
        );
        assert_eq!(
            ok!(s.put("k", "v3", Some(later + 1), Condition::Version(2))),
            Some(3)
        );
        assert_eq!(ok!(s.get("k")).and_then(|i| i.expires_at), Some(later + 1));
    }

    /// A batch read answers every key in order: missing and expired ones as `None`, more
    /// keys than one DynamoDB request takes, and a key asked twice.
    pub async fn get_many_answers_each_key_in_order(s: &dyn Store) {
        let past = now_secs() - 60;
        for i in 0..130 {
            ok!(s.put(&format!("k{i}"), &format!("v{i}"), None, Condition::Any));
        }
        ok!(s.put("k7", "v7b", None, Condition::Any));
        ok!(s.put("old", "gone", Some(past), Condition::Any));
        let mut keys: Vec<String> = (0..130).rev().map(|i| format!("k{i}")).collect();
        keys.push("missing".into());
        keys.push("old".into());
        keys.push("k3".into());
        let got = ok!(s.get_many(&keys));
        assert_eq!(got.len(), keys.len());
        for (k, item) in keys.iter().zip(&got) {
            match k.as_str() {
                "missing" | "old" => assert_eq!(item, &None, "{k}"),
                "k7" => assert_eq!(
                    item.as_ref().map(|i| (i.value.as_str(), i.version)),
                    Some(("v7b", 2))
                ),
                _ => assert_eq!(
                    item.as_ref().map(|i| (i.value.clone(), i.version)),
                    Some((format!("v{}", &k[1..]), 1)),
                    "{k}"
                ),
            }
        }
        assert!(ok!(s.get_many(&[])).is_empty());
    }

    /// A transaction writes every item or none: one failing condition leaves every item as
    /// it was.
    pub async fn a_transaction_writes_all_or_nothing(s: &dyn Store) {
        use llbridge_usecases::ports::Write;
        let w = |key: &str, value: &str, condition| Write {
            key: key.to_owned(),
            value: value.to_owned(),
            expires_at: Some(now_secs() + 3600),
            condition,
        };
        assert_eq!(
            ok!(s.transact(&[
                w("a", "a1", Condition::Absent),
                w("b", "b1", Condition::Absent)
            ])),
            Some(vec![1, 1])
        );
        assert_eq!(
            ok!(s.transact(&[
                w("a", "a2", Condition::Version(1)),
                w("b", "b2", Condition::Version(7)),
            ])),
            None,
            "one stale version: nothing written"
        );
        assert_eq!(
            ok!(s.transact(&[
                w("a", "a2", Condition::Version(1)),
                w("c", "c1", Condition::Version(1))
            ])),
            None,
            "a version condition on a missing item fails the whole"
        );
        let values =
            |got: Vec<Option<llbridge_usecases::ports::Item>>| -> Vec<Option<(String, u64)>> {
                got.into_iter()
                    .map(|i| i.map(|i| (i.value, i.version)))
                    .collect()
            };
        let keys = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        assert_eq!(
            values(ok!(s.get_many(&keys))),
            vec![Some(("a1".into(), 1)), Some(("b1".into(), 1)), None]
        );
        assert_eq!(
            ok!(s.transact(&[
                w("a", "a2", Condition::Version(1)),
                w("b", "b2", Condition::Version(1))
            ])),
            Some(vec![2, 2])
        );
        assert_eq!(
            values(ok!(s.get_many(&keys))),
            vec![Some(("a2".into(), 2)), Some(("b2".into(), 2)), None]
        );
        // An expired item is absent to a transaction too.
        ok!(s.put("old", "gone", Some(now_secs() - 60), Condition::Any));
        assert_eq!(
            ok!(s.transact(&[w("old", "new", Condition::Absent)])),
            Some(vec![1])
        );
        assert!(
            s.transact(&[w("a", "x", Condition::Any)]).await.is_err(),
            "a transaction write needs a condition"
        );
    }

    /// Claims over the store: a holder whose lease ran out and was taken over can neither
    /// record, complete nor release the claim; the new holder inherits its intent.
    pub async fn a_stale_claim_holder_can_neither_complete_nor_release(s: &dyn Store) {
        use llbridge_usecases::claim::{acquire, Claim};
        use serde_json::json;
        let clock = llbridge_memory::ManualClock::new(now_secs() * 1000);
        let rec = llbridge_usecases::ports::Records {
            store: s,
            clock: &clock,
        };
        let lease = Duration::from_secs(10);
        let Claim::Acquired(mut first) = ok!(acquire(rec, "claim", lease)) else {
            panic!("the first caller takes the claim");
        };
        ok!(first.intend(rec, json!({"phone_log": "about to be written"})));
        assert!(matches!(ok!(acquire(rec, "claim", lease)), Claim::Busy));
        clock.advance(Duration::from_secs(11));
        let Claim::Acquired(second) = ok!(acquire(rec, "claim", lease)) else {
            panic!("an expired lease is taken over");
        };
        assert_eq!(
            second.pending_intent(),
            Some(&json!({"phone_log": "about to be written"})),
            "the new holder must look the write up first"
        );
        assert_eq!(second.attempts(), 2);
        assert!(first
            .intend(rec, json!({"other": 1}))
            .await
            .is_err_and(|e| e.code == Some("lease_lost")));
        assert!(
            !ok!(first.clone().complete(rec, json!("stale"))),
            "a stale holder cannot complete"
        );
        ok!(first.release(rec, false, "stale"));
        assert!(
            matches!(ok!(acquire(rec, "claim", lease)), Claim::Busy),
            "nor release someone else's lease"
        );
        assert!(ok!(second.complete(rec, json!({"phone_log_id": "9001"}))));
        clock.advance(Duration::from_secs(3600));
        match ok!(acquire(rec, "claim", lease)) {
            Claim::Done(v) => assert_eq!(v, json!({"phone_log_id": "9001"})),
            other => panic!("done for good: {other:?}"),
        }
    }

    /// A leg sent many large recaps (eight parts of 2,000 characters each, again and again)
    /// stays under DynamoDB's item limit, and its hangup, after them, is kept.
    pub async fn a_leg_of_many_large_recaps_stays_under_the_item_limit(s: &dyn Store) {
        use llbridge_domain::CallEvent;
        use serde_json::json;
        let clock = llbridge_memory::SystemClock;
        let rec = llbridge_usecases::ports::Records {
            store: s,
            clock: &clock,
        };
        let part = "y".repeat(2000);
        let items: Vec<String> = (0..8).map(|i| format!("{i}{part}")).collect();
        let leg = 6208917392220170_u64;
        for i in 0..60_i64 {
            let state = ["recap_summary", "recap_action_items", "recap_outcome"][(i % 3) as usize];
            let mut e = json!({"call_id": leg, "state": state, "direction": "inbound",
                "event_timestamp": 1_767_710_000_000_i64 + i,
                "target": {"id": 4716644561813504_u64, "type": "call_center"}});
            e[state] = json!(items);
            let e = CallEvent::from_value(&e).expect("an event");
            ok!(llbridge_usecases::state::merge_event(
                rec,
                &e,
                llbridge_usecases::jobs::Source::Webhook
            ));
        }
        let hangup = json!({"call_id": leg, "state": "hangup", "direction": "inbound",
            "event_timestamp": 1_767_710_100_000_i64, "date_ended": 1_767_710_099_000_i64,
            "external_number": "+16505550199",
            "target": {"id": 4716644561813504_u64, "type": "call_center", "phone": "+14155550100"}});
        let hangup = CallEvent::from_value(&hangup).expect("an event");
        ok!(llbridge_usecases::state::merge_event(
            rec,
            &hangup,
            llbridge_usecases::jobs::Source::Webhook
        ));
        let conv = ok!(llbridge_usecases::state::load(s, &leg.to_string())).expect("loaded");
        assert!(conv.ended, "the hangup after them was kept");
        assert_eq!(conv.action_items.len(), 8, "the latest recap is read");
        let item =
            ok!(s.get(&llbridge_usecases::keys::leg(&leg.to_string()))).expect("the leg's record");
        assert!(
            item.value.len() <= llbridge_usecases::state::MAX_LEG_BYTES,
            "{} bytes",
            item.value.len()
        );
    }

    /// A leg of many large events (transcriptions of 60 KB) still fits one item: its later
    /// events merge, and the conversation loads whole.
    pub async fn a_leg_of_fifty_large_events_fits(s: &dyn Store) {
        use llbridge_domain::CallEvent;
        use serde_json::json;
        let clock = llbridge_memory::SystemClock;
        let rec = llbridge_usecases::ports::Records {
            store: s,
            clock: &clock,
        };
        let big = "x".repeat(60 * 1024);
        let leg = 6208917392220160_u64;
        for i in 0..50_i64 {
            let e = json!({"call_id": leg, "state": "call_transcription", "direction": "inbound",
                "event_timestamp": 1_767_710_000_000_i64 + i, "transcript": big,
                "target": {"id": 4716644561813504_u64, "type": "call_center"}});
            let e = CallEvent::from_value(&e).expect("an event");
            ok!(llbridge_usecases::state::merge_event(
                rec,
                &e,
                llbridge_usecases::jobs::Source::Webhook
            ));
        }
        let hangup = json!({"call_id": leg, "state": "hangup", "direction": "inbound",
            "event_timestamp": 1_767_710_100_000_i64, "date_ended": 1_767_710_099_000_i64,
            "external_number": "+16505550199",
            "target": {"id": 4716644561813504_u64, "type": "call_center", "phone": "+14155550100"}});
        let hangup = CallEvent::from_value(&hangup).expect("an event");
        ok!(llbridge_usecases::state::merge_event(
            rec,
            &hangup,
            llbridge_usecases::jobs::Source::Webhook
        ));
        let conv = ok!(llbridge_usecases::state::load(s, &leg.to_string())).expect("loaded");
        assert_eq!(conv.events, 51);
        assert!(conv.ended, "the hangup after them was kept");
        let item =
            ok!(s.get(&llbridge_usecases::keys::leg(&leg.to_string()))).expect("the leg's record");
        assert!(
            item.value.len() < 100 * 1024,
            "{} bytes for 51 events",
            item.value.len()
        );
    }
}

/// The secrets contract. Each adapter is set up with a secret named `secret` holding
/// [`secrets::DOCUMENT`].
pub mod secrets {
    use super::*;

    /// The SecretString of the test secret.
    pub const DOCUMENT: &str =
        r#"{"ll_username": "llbridge", "ll_password": "s3cret-p4ss", "count": 3}"#;

    fn managed(secret: &str, key: &str) -> SecretRef {
        SecretRef::Managed {
            secret: secret.to_owned(),
            key: key.to_owned(),
        }
    }

    pub async fn a_literal_resolves_to_itself(s: &dyn Secrets, _secret: &str) {
        let got = ok!(s.get(&SecretRef::Literal("local-only".to_owned())));
        assert_eq!(got.expose(), "local-only");
    }

    pub async fn a_managed_reference_reads_its_key(s: &dyn Secrets, secret: &str) {
        let password = ok!(s.get(&managed(secret, "ll_password")));
        assert_eq!(password.expose(), "s3cret-p4ss");
        assert!(!format!("{password:?}").contains("s3cret"), "Debug redacts");
        let username = ok!(s.get(&managed(secret, "ll_username")));
        assert_eq!(username.expose(), "llbridge");
    }

    pub async fn a_missing_key_is_a_permanent_error(s: &dyn Secrets, secret: &str) {
        for key in ["nope", "count"] {
            let err = s.get(&managed(secret, key)).await.err();
            let Some(err) = err else {
                panic!("key {key} of {secret} resolved");
            };
            assert!(!err.is_transient(), "{err}");
            assert!(err.message.contains(key), "{err}");
            assert!(!err.message.contains("s3cret"), "the value leaked: {err}");
        }
    }

    pub async fn a_missing_secret_is_a_permanent_error(s: &dyn Secrets, secret: &str) {
        let missing = format!("{secret}-missing");
        let err = s.get(&managed(&missing, "ll_password")).await.err();
        assert!(
            err.as_ref().is_some_and(|e| !e.is_transient()),
            "expected a permanent error, got {err:?}"
        );
    }
}
