//! LineLeader's rules, pure and tested here: which family a caller is, which center, what Phone
//! Log and Event mode write, which follow-up tasks a call gives, and the records and paths of
//! LineLeader's API they speak in.

pub mod center;
pub mod event_mode;
pub mod family;
pub mod follow_up;
pub mod paths;
pub mod phone_log;
pub mod records;
pub mod text;
