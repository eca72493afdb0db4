//! The store's key layout: every key the product reads or writes is built here, and nowhere
//! else. One DynamoDB table, partition key `pk`; a key's prefix says what the item is.
//!
//! | key | item | kept |
//! |---|---|---|
//! | `config#installation` | the installation config | until replaced |
//! | `leg#<call_id>` | a leg's events and links | 7 days |
//! | `anchor#leg#<call_id>` | the anchor (stable key) of the leg's conversation | 35 days |
//! | `ledger#<anchor>` | the conversation's ledger record | 35 days |
//! | `ledger#hour#<YYYY-MM-DDTHH>#<shard>` | the rows (anchor → time, scope, outcome, reason, agent, family) of the conversations that started that hour, spread over 128 shards; written with the record when it is opened and when it is decided | 35 days |
//! | `ledger#hour#<YYYY-MM-DDTHH>` | the anchors of the conversations that started that hour (written by earlier releases; read) | 35 days |
//! | `log#<anchor>` | the claim of the conversation's call log | 35 days |
//! | `step#<anchor>#<name>` | the claim of one effect of the call log | 35 days |
//! | `pop#<leg>#<user>` | the claim of one agent's screen pop | 35 days |
//! | `family#create#<e164>` | the claim of creating a caller's family | 24 h once done |
//! | `family#leg#<call_id>` | the family a leg's call was popped on | 24 h |
//! | `family#pin#<anchor>` | the family the conversation's call log is written on | 35 days |
//! | `reconcile#work` | the reconciler's windows still to read, and where the next begins | until replaced |
//! | `reconcile#lease` | the claim of the running reconciliation pass | 35 days |
//! | `reconcile#fed#<call_id>` | a leg the reconciler fed, so that the next pass leaves it to its job | 15 minutes |
//! | `reconcile#high_water` | where the last complete pass ended (written by earlier releases; read once) | until replaced |
//! | `contact#agent#<connection>#<contact id>` | the agent of the contact's last answered call (routing) | 90 days |
//! | `route#<call_id>` | where a call router sent the call, and why | 7 days |
//! | `click#<user>#<e164>` | the claim of a click to call: the call started for it | 60 s once done |
//! | `llbridge#token#<connection>` (`#lease`, `#circuit`) | a CRM connection's token, its renewal lease and its login circuit | the token's life |

/// The installation config.
pub const CONFIG: &str = "config#installation";

/// Where the last complete reconciliation pass ended (epoch ms), as earlier releases kept it.
pub const RECONCILE_HIGH_WATER: &str = "reconcile#high_water";

/// The reconciler's work: the windows still to read.
pub const RECONCILE_WORK: &str = "reconcile#work";

/// The claim of the running reconciliation pass.
pub const RECONCILE_LEASE: &str = "reconcile#lease";

/// A leg the reconciler fed: left to its job by the next passes.
pub fn reconcile_fed(call_id: &str) -> String {
    format!("reconcile#fed#{call_id}")
}

pub fn leg(call_id: &str) -> String {
    format!("leg#{call_id}")
}

pub fn anchor(leg: &str) -> String {
    format!("anchor#leg#{leg}")
}

pub fn ledger(anchor: &str) -> String {
    format!("ledger#{anchor}")
}

/// The whole index of one hour, as written before the index was sharded; still read.
pub fn ledger_hour(hour: &str) -> String {
    format!("ledger#hour#{hour}")
}

/// One shard of an hour's index.
pub fn ledger_hour_shard(hour: &str, shard: u32) -> String {
    format!("ledger#hour#{hour}#{shard}")
}

pub fn log_claim(anchor: &str) -> String {
    format!("log#{anchor}")
}

/// The claim of one effect (`phone_log`, `task`, `event`, `status`...) of a call log.
pub fn step(anchor: &str, name: &str) -> String {
    format!("step#{anchor}#{name}")
}

/// The agent of a contact's last answered call (routing's `prefer_last_agent`).
pub fn last_agent(connection: &str, contact_id: &str) -> String {
    format!("contact#agent#{connection}#{contact_id}")
}

/// Where a call router sent a call, and why (trace reads it).
pub fn route(call_id: &str) -> String {
    format!("route#{call_id}")
}

/// The claim of a click to call: one call per agent and number within the repeat window.
pub fn click(user: &str, e164: &str) -> String {
    format!("click#{user}#{e164}")
}

pub fn pop(leg: &str, user: &str) -> String {
    format!("pop#{leg}#{user}")
}

/// The claim of making `what` for `id` once (LineLeader: `family#create#<e164>`).
pub fn once(what: &str, id: &str) -> String {
    format!("{what}#create#{id}")
}

/// The contact a leg's call was popped on (`family#…`: the name it had when LineLeader was the
/// only CRM, kept so that stored items stay readable).
pub fn contact_of_leg(leg: &str) -> String {
    format!("family#leg#{leg}")
}

/// The contact a conversation's call log was decided on, before its first write.
pub fn contact_pin(anchor: &str) -> String {
    format!("family#pin#{anchor}")
}

/// A CRM connection's token (`id`: the connection's name and a hash of its settings).
pub fn token(id: &str) -> String {
    format!("llbridge#token#{id}")
}
