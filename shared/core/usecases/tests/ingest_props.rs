//! The webhook never panics and always answers 2xx or 4xx with a JSON body, whatever the bytes.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};

use llbridge_memory::{MemoryQueue, MemorySecrets, SystemClock};
use llbridge_usecases::ingest::Ingest;
use llbridge_usecases::ports::StaticConfig;
use proptest::prelude::*;
use serde_json::{json, Value};

const SECRET: &str = "prop-webhook-secret";

fn ingest(allow_unsigned: bool) -> Ingest {
    let inst = llbridge_crm_registry::parse_value(&json!({
        "dialpad": {"webhook_secrets": [SECRET], "allow_unsigned": allow_unsigned, "api_key": "k"},
        "connections": {"main": {"base_url": "https://ll.example", "username": "u", "password": "p"}},
        "enablements": [{"scope": {"level": "company"}, "connection": "main",
            "screen_pop_base_url": "https://app.example", "default_center_name": "Main", "enable_task_queue": true}]
    }))
    .unwrap();
    let clock = Arc::new(SystemClock);
    Ingest {
        config: Arc::new(StaticConfig(Arc::new(inst))),
        secrets: Arc::new(MemorySecrets::new()),
        queue: Arc::new(MemoryQueue::new(clock.clone())),
        store: Arc::new(llbridge_memory::MemoryStore::new(clock.clone())),
        clock,
        log_delay: Duration::from_secs(180),
    }
}

fn check(resp: &llbridge_usecases::ingest::Response) -> Result<(), TestCaseError> {
    prop_assert!(
        (200..300).contains(&resp.status) || (400..500).contains(&resp.status),
        "status {}",
        resp.status
    );
    prop_assert!(resp.body.is_object());
    prop_assert!(resp.body["status"].is_string());
    Ok(())
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|i| json!(i)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-z_ ~–-]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("hangup"),
            Just("ringing"),
            Just("dispositions"),
            Just("callcenter"),
            Just("user"),
            Just("null"),
            Just("0"),
            Just("CallCenter:7")
        ]
        .prop_map(|s| json!(s)),
    ];
    let keys = prop_oneof![
        Just("call_id".to_string()),
        Just("state".to_string()),
        Just("target".to_string()),
        Just("type".to_string()),
        Just("id".to_string()),
        Just("entry_point_target".to_string()),
        Just("group_id".to_string()),
        Just("direction".to_string()),
        Just("call_dispositions".to_string()),
        Just("recording_details".to_string()),
        Just("duration".to_string()),
        "[a-z_]{1,10}",
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(keys.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048), unsigned in any::<bool>()) {
        let resp = rt().block_on(ingest(unsigned).handle("POST", &bytes));
        check(&resp)?;
    }

    #[test]
    fn arbitrary_json_signed_and_unsigned(v in arb_json()) {
        let ing = ingest(true);
        let rt = rt();
        let resp = rt.block_on(ing.handle("POST", v.to_string().as_bytes()));
        check(&resp)?;
        let token = encode(&Header::new(Algorithm::HS256), &v, &EncodingKey::from_secret(SECRET.as_bytes()).unwrap());
        if let Ok(token) = token {
            let resp = rt.block_on(ing.handle("POST", token.as_bytes()));
            check(&resp)?;
        }
    }
}
