//! TODO

use crate::Args;

pub async fn run(_args: &Args) {}
