//! A CloudFormation stack on moto with a deployed llbridge stack's outputs, for `--stack NAME`.

use llbridge_tests::moto;

/// A stack whose outputs name `table`, the two queues and the secret the functions may read.
pub async fn stack(table: &str, queue_url: &str, dlq_url: &str, secret: &str) -> String {
    let config = moto::shared().sdk_config().await;
    let name = moto::unique("cli-stack");
    let template = serde_json::json!({
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "TableName": {"Value": table},
            "QueueUrl": {"Value": queue_url},
            "DeadLetterQueueUrl": {"Value": dlq_url},
            "ConfigSecretName": {"Value": secret}
        }
    });
    aws_sdk_cloudformation::Client::new(&config)
        .create_stack()
        .stack_name(&name)
        .template_body(template.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("create the stack: {e:?}"));
    name
}
