use std::sync::Arc;

use async_trait::async_trait;
use llbridge_domain::config::Enablement;
use llbridge_domain::Installation;
use llbridge_usecases::crm::{Clients, Crm};
use llbridge_usecases::ports::Dialpad;
use llbridge_usecases::Result;

/// The same CRM and Dialpad adapters for every enablement (tests and embedded runs).
pub struct StaticClients {
    pub crm: Arc<dyn Crm>,
    pub dialpad: Arc<dyn Dialpad>,
}

#[async_trait]
impl Clients for StaticClients {
    async fn crm(&self, _inst: &Installation, _enablement: &Enablement) -> Result<Arc<dyn Crm>> {
        Ok(self.crm.clone())
    }

    async fn dialpad(&self, _inst: &Installation) -> Result<Arc<dyn Dialpad>> {
        Ok(self.dialpad.clone())
    }
}
