use std::sync::Arc;

use async_trait::async_trait;
use llbridge_app::ports::{Clients, Dialpad, LineLeader};
use llbridge_app::Result;
use llbridge_domain::Installation;

/// The same LineLeader and Dialpad adapters for every connection (tests and embedded runs).
pub struct StaticClients {
    pub lineleader: Arc<dyn LineLeader>,
    pub dialpad: Arc<dyn Dialpad>,
}

#[async_trait]
impl Clients for StaticClients {
    async fn lineleader(
        &self,
        _inst: &Installation,
        _connection: &str,
    ) -> Result<Arc<dyn LineLeader>> {
        Ok(self.lineleader.clone())
    }

    async fn dialpad(&self, _inst: &Installation) -> Result<Arc<dyn Dialpad>> {
        Ok(self.dialpad.clone())
    }
}
