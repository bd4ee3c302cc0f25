//! `template.yaml` as deployed: the SAM translator's own expansion (`scripts/expand-template`) must give every
//! function a role whose DynamoDB and Secrets Manager permissions name the stack's own tables and secret prefix,
//! never `*`; and every sample event in `events/` must be of the shape its trigger delivers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use shared::scheduler::SchedulerOptions;
use shared::sync::worker::TimeBudget;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The CloudFormation that SAM deploys for `template`.
pub fn expand(template: &Path) -> Value {
    let out = Command::new(root().join("scripts/expand-template"))
        .arg(template)
        .output()
        .expect("run scripts/expand-template (scripts/bootstrap creates .venv-sam)");
    assert!(
        out.status.success(),
        "expand-template: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("expanded template JSON")
}

/// AWS managed policies SAM attaches for logs, X-Ray, VPC network interfaces and the SQS event source: none
/// touches tables or secrets.
const MANAGED_POLICIES_ALLOWED: [&str; 4] = [
    "service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess",
    "service-role/AWSLambdaVPCAccessExecutionRole",
    "service-role/AWSLambdaSQSQueueExecutionRole",
];

fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// What each role may do to tables and secrets that it should not, plus how many statements were checked.
fn policy_findings(cloudformation: &Value) -> (Vec<String>, usize) {
    let mut findings = Vec::new();
    let mut checked = 0;
    let resources = cloudformation["Resources"].as_object().expect("Resources");
    for (role, resource) in resources {
        if resource["Type"] != "AWS::IAM::Role" {
            continue;
        }
        for arn in as_list(&resource["Properties"]["ManagedPolicyArns"]) {
            let text = arn.to_string();
            if !MANAGED_POLICIES_ALLOWED
                .iter()
                .any(|allowed| text.contains(&format!(":policy/{allowed}\"")))
            {
                findings.push(format!("{role}: managed policy {text}"));
            }
        }
        for policy in as_list(&resource["Properties"]["Policies"]) {
            for statement in as_list(&policy["PolicyDocument"]["Statement"]) {
                checked += 1;
                let actions: Vec<&str> = as_list(&statement["Action"])
                    .into_iter()
                    .filter_map(Value::as_str)
                    .collect();
                let data_plane = |service: &str| {
                    actions
                        .iter()
                        .any(|a| *a == "*" || a.starts_with(&format!("{service}:")))
                };
                let (tables, secrets) = (data_plane("dynamodb"), data_plane("secretsmanager"));
                if !tables && !secrets {
                    continue;
                }
                for target in as_list(&statement["Resource"]) {
                    let text = target.to_string();
                    let own_table = text.contains(r#"{"Ref":"StateTable"}"#)
                        || text.contains(r#"{"Ref":"CommitsTable"}"#);
                    let own_secrets = text.contains(":secret:${SecretNamePrefix}");
                    let fine = match (tables, secrets) {
                        (true, false) => own_table,
                        (false, true) => own_secrets,
                        _ => false,
                    };
                    if target == "*" || !fine {
                        findings.push(format!("{role}: {actions:?} on {text}"));
                    }
                }
            }
        }
    }
    (findings, checked)
}

#[test]
fn no_role_may_touch_tables_or_secrets_beyond_the_stacks_own() {
    let cloudformation = expand(&root().join("template.yaml"));
    let (findings, checked) = policy_findings(&cloudformation);
    assert_eq!(findings, Vec::<String>::new());
    // Each function's role is there and was read: tables and secrets for all three, the queue for two.
    for role in [
        "CredentialsApiFunctionRole",
        "SchedulerFunctionRole",
        "SyncWorkerFunctionRole",
    ] {
        assert_eq!(cloudformation["Resources"][role]["Type"], "AWS::IAM::Role");
    }
    assert!(checked >= 9, "only {checked} statements checked");
}

#[test]
fn a_wildcard_on_a_table_or_a_secret_is_caught() {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let wide_open = text.replacen(
        "      Policies:\n",
        "      Policies:\n        - Statement:\n            - Effect: Allow\n              Action: dynamodb:GetItem\n              Resource: \"*\"\n        - Statement:\n            - Effect: Allow\n              Action: secretsmanager:GetSecretValue\n              Resource: !Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*\n        - AmazonDynamoDBFullAccess\n",
        1,
    );
    assert_ne!(wide_open, text, "the template has a Policies list to widen");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("template.yaml");
    std::fs::write(&path, wide_open).unwrap();
    let (findings, _) = policy_findings(&expand(&path));
    assert_eq!(findings.len(), 3, "{findings:#?}");
    assert!(
        findings.iter().any(|f| f.contains("\"*\"")),
        "{findings:#?}"
    );
    assert!(
        findings.iter().any(|f| f.contains("secret:*")),
        "{findings:#?}"
    );
    assert!(
        findings
            .iter()
            .any(|f| f.contains("AmazonDynamoDBFullAccess")),
        "{findings:#?}"
    );
}

#[test]
fn the_queue_waits_six_worker_timeouts_and_reports_partial_failures() {
    let cloudformation = expand(&root().join("template.yaml"));
    let resources = &cloudformation["Resources"];
    let worker_timeout = resources["SyncWorkerFunction"]["Properties"]["Timeout"]
        .as_u64()
        .unwrap();
    let visibility = resources["SyncQueue"]["Properties"]["VisibilityTimeout"]
        .as_u64()
        .unwrap();
    assert!(
        visibility >= 6 * worker_timeout,
        "{visibility} < 6 x {worker_timeout}"
    );
    let mapping = sqs_trigger(resources);
    assert_eq!(
        mapping["Properties"]["FunctionResponseTypes"],
        serde_json::json!(["ReportBatchItemFailures"])
    );
    assert!(mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"].is_object());
}

/// The worker starts a record only with `min_record_time` left before its margin: a batch's records must all fit
/// their minimum within the timeout, or the last ones would be handed back to SQS (each waiting out the
/// visibility timeout and counting towards the dead-letter queue) even when every record keeps to its share.
#[test]
fn every_record_of_a_full_batch_fits_its_minimum_time_within_the_worker_timeout() {
    let cloudformation = expand(&root().join("template.yaml"));
    let resources = &cloudformation["Resources"];
    let timeout = Duration::from_secs(
        resources["SyncWorkerFunction"]["Properties"]["Timeout"]
            .as_u64()
            .unwrap(),
    );
    let mapping = sqs_trigger(resources);
    let batch = mapping["Properties"]["BatchSize"].as_u64().unwrap();
    assert!((1..=10).contains(&batch), "BatchSize {batch}");
    assert_eq!(
        batch,
        testkit::local_run::BATCH_SIZE as u64,
        "the local run drains as the trigger delivers"
    );
    // A batching window only delays a burst the scheduler sends all at once.
    assert_eq!(mapping["Properties"]["MaximumBatchingWindowInSeconds"], 0);
    let budget = TimeBudget::default();
    let usable = timeout - budget.margin;
    assert!(
        budget.min_record_time * batch as u32 <= usable,
        "{batch} records x {:?} > {usable:?}",
        budget.min_record_time
    );
    // The abandoned record's answer goes out before Lambda ends the invocation, after its windows stopped.
    assert!(budget.abort_margin < budget.margin && !budget.abort_margin.is_zero());
}

/// The scheduler's tick fits its function: discovery ends `tick_margin` before the timeout, a connection's
/// window is at most half of what is left (so the default is not cut down), and the tick's lease outlasts it.
#[test]
fn the_scheduler_options_fit_its_timeout() {
    let cloudformation = expand(&root().join("template.yaml"));
    let timeout = Duration::from_secs(
        cloudformation["Resources"]["SchedulerFunction"]["Properties"]["Timeout"]
            .as_u64()
            .unwrap(),
    );
    let options = SchedulerOptions::default();
    let discovery = timeout - options.tick_margin;
    assert!(options.discovery_timeout <= discovery / 2);
    assert!(options.tick_lease >= timeout);
}

/// One level, Lambda's `ApplicationLogLevel` from `LogLevel` (the code reads it as `AWS_LAMBDA_LOG_LEVEL`), no
/// `RUST_LOG` that could disagree, and no TRACE.
#[test]
fn the_log_level_has_one_source_and_no_trace() {
    let cloudformation = expand(&root().join("template.yaml"));
    let levels = allowed_log_levels();
    assert!(levels.contains(&"INFO".to_owned()), "{levels:?}");
    assert!(!levels.iter().any(|l| l.eq_ignore_ascii_case("trace")));
    for level in &levels {
        assert!(
            shared::telemetry::level(|_| Some(level.clone())).is_ok(),
            "{level}"
        );
    }
    let mut functions = 0;
    for resource in cloudformation["Resources"].as_object().unwrap().values() {
        if resource["Type"] != "AWS::Lambda::Function" {
            continue;
        }
        functions += 1;
        let properties = &resource["Properties"];
        assert_eq!(
            properties["LoggingConfig"]["ApplicationLogLevel"],
            serde_json::json!({"Ref": "LogLevel"})
        );
        assert_eq!(properties["LoggingConfig"]["LogFormat"], "JSON");
        assert!(properties["Environment"]["Variables"]["RUST_LOG"].is_null());
    }
    assert_eq!(functions, 3);
}

/// The `LogLevel` values `template.yaml` allows.
pub fn allowed_log_levels() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let template: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    template["Parameters"]["LogLevel"]["AllowedValues"]
        .as_sequence()
        .expect("LogLevel lists its values")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// The schedule's `Input` with EventBridge Scheduler's placeholders filled in, as the scheduler receives it.
#[test]
fn the_schedule_sample_is_what_the_schedule_delivers() {
    let cloudformation = expand(&root().join("template.yaml"));
    let schedule = cloudformation["Resources"]
        .as_object()
        .unwrap()
        .values()
        .find(|r| r["Type"] == "AWS::Scheduler::Schedule")
        .expect("the schedule");
    let input = schedule["Properties"]["Target"]["Input"].as_str().unwrap();
    let delivered: Value = serde_json::from_str(
        &input
            .replace("<aws.scheduler.scheduled-time>", "2026-11-24T22:00:00Z")
            .replace("<aws.scheduler.execution-id>", "3c8d2f4e"),
    )
    .unwrap();
    let sample: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/eventbridge-schedule.json")).unwrap(),
    )
    .unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&delivered), keys(&sample));
    assert_eq!(
        shared::scheduler::tick_key(&sample).as_deref(),
        Some("time:2026-11-24T22:00:00Z")
    );
}

/// Every sample event parses as its trigger's event type (the handler tests then run each one).
#[test]
fn every_sample_event_has_its_triggers_shape() {
    let mut seen = 0;
    for entry in std::fs::read_dir(root().join("events")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        if name.starts_with("apigw-") {
            lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        } else if name.starts_with("sqs-") {
            serde_json::from_str::<aws_lambda_events::event::sqs::SqsEvent>(&text)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        } else if name.starts_with("eventbridge-") {
            serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        } else {
            panic!("{name}: no trigger known for this sample");
        }
        seen += 1;
    }
    assert!(seen >= 7, "{seen} samples");
}

/// The worker's SQS trigger in SAM's expansion.
fn sqs_trigger(resources: &serde_json::Value) -> &serde_json::Value {
    resources
        .as_object()
        .unwrap()
        .values()
        .find(|r| r["Type"] == "AWS::Lambda::EventSourceMapping")
        .expect("the SQS trigger")
}
