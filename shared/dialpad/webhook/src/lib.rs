//! The Dialpad webhook's body: a compact HS256 JWT, or plain JSON where the installation allows
//! unsigned events. Pure code, below the use cases; Dialpad's HTTP API client is an adapter
//! (`llbridge-crm-registry`).

pub mod webhook;
