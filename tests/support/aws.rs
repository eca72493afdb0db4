//! The local host on the AWS adapters, against moto: a fresh table, a queue with its
//! dead-letter queue, and Secrets Manager, per scenario.

use llbridge_local_host::aws::{use_aws, AwsTarget};
use llbridge_local_host::Options;

use crate::moto;

/// Points the host's store, queue and secrets at fresh resources on the shared moto server.
pub async fn use_aws_adapters(opts: &mut Options) {
    let target = AwsTarget {
        endpoint: Some(moto::shared().endpoint().to_owned()),
        table: moto::unique("e2e"),
        queue: moto::unique("e2e-jobs"),
    };
    if let Err(e) = use_aws(opts, &target).await {
        panic!("AWS resources on moto: {e}");
    }
}
