//! The webhook's hot path per event: verify (HS256) + parse + scope.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};

use llbridge_usecases::ingest::prepare;
use serde_json::json;

const EVENT: &str = r#"{"call_id": 5829361047752704, "entry_point_call_id": 6208917392220160, "state": "ringing",
 "direction": "inbound", "event_timestamp": 1767710405123, "date_started": 1767710404987,
 "internal_number": "+14155550100", "external_number": "+16505550199",
 "group_id": "CallCenter:4716644561813504",
 "target": {"id": 5150000000000001, "type": "user", "name": "Ana Agent", "email": "ana@example.com", "phone": "+14155550123"},
 "entry_point_target": {"id": 4716644561813504, "type": "callcenter", "name": "Enrollment", "phone": "+14155550100"},
 "proxy_target": {}, "contact": {"id": 5600392044183552, "type": "local", "phone": "+16505550199"}}"#;

fn bench(c: &mut Criterion) {
    let inst = llbridge_crm_registry::parse_value(&json!({
        "dialpad": {"webhook_secrets": ["an-old-webhook-secret", "bench-webhook-secret"], "api_key": "k"},
        "connections": {"main": {"base_url": "https://ll.example", "username": "u", "password": "p"}},
        "enablements": [
            {"scope": {"level": "call_center", "id": "4716644561813504"}, "connection": "main",
             "screen_pop_base_url": "https://app.example", "default_center_name": "Main", "enable_task_queue": true}
        ]
    }))
    .expect("valid config");
    let claims: serde_json::Value = serde_json::from_str(EVENT).expect("event");
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(b"bench-webhook-secret").expect("key"),
    )
    .expect("token");
    let secrets: [&[u8]; 2] = [b"an-old-webhook-secret", b"bench-webhook-secret"];
    c.bench_function(
        "ingest: verify + parse + scope (second of two secrets)",
        |b| {
            b.iter(|| {
                prepare(
                    black_box(&inst),
                    black_box(&secrets),
                    black_box(token.as_bytes()),
                )
            })
        },
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
