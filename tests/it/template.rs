//! `template.yaml` as deployed: the SAM translator's own expansion (`scripts/expand-template`) must give every
//! function a role holding exactly the actions its code calls, on the stack's own tables, queue, secret prefix and
//! key; the API stage logs and throttles; and every sample event in `events/` must be of the shape its trigger
//! delivers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use shared::aws::project_store::{LEASE_ATTRIBUTES, PUSH_READ_ATTRIBUTES};
use shared::scheduler::SchedulerOptions;
use shared::sync::worker::TimeBudget;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The CloudFormation that SAM deploys for `template`.
pub fn expand(template: &Path) -> Value {
    json_printed_by(
        Command::new(root().join("scripts/expand-template")).arg(template),
        "scripts/expand-template (scripts/bootstrap creates .venv-sam)",
    )
}

/// The JSON `command` prints; `what` names it in a failure.
pub fn json_printed_by(command: &mut Command, what: &str) -> Value {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what} printed no JSON: {e}"))
}

/// AWS managed policies SAM attaches for logs, X-Ray, VPC network interfaces and the SQS event source: none
/// touches tables or secrets.
const MANAGED_POLICIES_ALLOWED: [&str; 4] = [
    "service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess",
    "service-role/AWSLambdaVPCAccessExecutionRole",
    "service-role/AWSLambdaSQSQueueExecutionRole",
];

/// The function roles' names in SAM's expansion.
const ROLES: [&str; 5] = [
    "CredentialsApiFunctionRole",
    "SchedulerFunctionRole",
    "SyncWorkerFunctionRole",
    "PushHookFunctionRole",
    "ExporterFunctionRole",
];

/// What each function calls (the SDK calls of `shared/src/aws`, through the adapters `shared/src/app.rs` wires
/// into it), as IAM actions on the stack's own resources. KMS only when `SecretsKmsKey` names or creates a key, and
/// then only through Secrets Manager.
fn expected_grants() -> BTreeMap<&'static str, BTreeSet<String>> {
    const KEY: &str = "SecretsKey via secretsmanager, if UseSecretsKey";
    let (hook_reads, hook_writes) = (push_hook_reads(), push_hook_writes());
    let grants = |list: &[(&str, &str)]| {
        list.iter()
            .map(|(action, on)| format!("{action} on {on}"))
            .collect::<BTreeSet<_>>()
    };
    BTreeMap::from([
        (
            "CredentialsApiFunctionRole",
            grants(&[
                ("dynamodb:GetItem", "StateTable"),
                ("dynamodb:PutItem", "StateTable"),
                ("dynamodb:UpdateItem", "StateTable"),
                ("dynamodb:Query", "StateTable"),
                ("dynamodb:ConditionCheckItem", "StateTable"),
                ("dynamodb:Query", "CommitsTable index by_committed_at"),
                ("sqs:SendMessage", "SyncQueue"),
                ("sqs:SendMessage", "TurnRequestQueue"),
                ("secretsmanager:CreateSecret", SECRETS),
                ("secretsmanager:TagResource", SECRETS),
                ("secretsmanager:GetSecretValue", SECRETS),
                ("secretsmanager:PutSecretValue", SECRETS),
                ("secretsmanager:DescribeSecret", SECRETS),
                ("secretsmanager:UpdateSecretVersionStage", SECRETS),
                ("secretsmanager:RestoreSecret", SECRETS),
                ("secretsmanager:DeleteSecret", SECRETS),
                ("kms:Decrypt", KEY),
                ("kms:GenerateDataKey", KEY),
            ]),
        ),
        (
            "SchedulerFunctionRole",
            grants(&[
                ("dynamodb:Scan", "StateTable"),
                ("dynamodb:Query", "StateTable"),
                ("dynamodb:PutItem", "StateTable"),
                ("dynamodb:UpdateItem", "StateTable"),
                ("dynamodb:BatchWriteItem", "StateTable"),
                ("sqs:SendMessage", "SyncQueue"),
                ("secretsmanager:GetSecretValue", SECRETS),
                ("kms:Decrypt", KEY),
            ]),
        ),
        (
            "SyncWorkerFunctionRole",
            grants(&[
                ("dynamodb:GetItem", "StateTable"),
                ("dynamodb:UpdateItem", "StateTable"),
                ("dynamodb:BatchWriteItem", "CommitsTable"),
                ("dynamodb:UpdateItem", "CommitsTable"),
                ("dynamodb:Query", "CommitsTable"),
                ("sqs:SendMessage", "SyncQueue"),
                ("secretsmanager:GetSecretValue", SECRETS),
                ("kms:Decrypt", KEY),
            ]),
        ),
        (
            "PushHookFunctionRole",
            grants(&[
                ("dynamodb:GetItem", &hook_reads),
                ("dynamodb:UpdateItem", &hook_writes),
                ("sqs:SendMessage", "SyncQueue"),
                ("secretsmanager:GetSecretValue", HOOK_SECRETS),
                ("kms:Decrypt", KEY),
            ]),
        ),
        // No secret, so no key: the exporter reads tables and writes files.
        (
            "ExporterFunctionRole",
            grants(&[
                ("dynamodb:Scan", "StateTable"),
                ("dynamodb:UpdateItem", WATERMARKS),
                ("dynamodb:Query", CHANGES_INDEX),
                ("s3:PutObject", EXPORT_FILES),
                ("s3:PutObject", EXPORT_RUN_RECORD),
            ]),
        ),
    ])
}

/// The state table, only the export watermark items' attributes (`shared::aws::export_feed`).
const WATERMARKS: &str = "StateTable if {\"ForAllValues:StringEquals\":{\"dynamodb:Attributes\":[\"pk\",\"sk\",\"entity\",\"exported_to\"]}}";
/// The push hook's reads of the state table: the key and the attributes the adapter projects
/// (`PUSH_READ_ATTRIBUTES`; a connection's existence is read as its `pk`), of connections' items only.
fn push_hook_reads() -> String {
    let attributes = [&["pk", "sk"][..], &PUSH_READ_ATTRIBUTES[..]].concat();
    let condition = serde_json::json!({
        "ForAllValues:StringEquals": {"dynamodb:Attributes": attributes},
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["CONN#*"]},
        "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}
    });
    format!("StateTable if {condition}")
}

/// The push hook's writes of the state table: the enqueue lease's attributes only (`LEASE_ATTRIBUTES`), on
/// connections' items only, returning nothing beyond what was written.
fn push_hook_writes() -> String {
    let attributes = [&["pk", "sk"][..], &LEASE_ATTRIBUTES[..]].concat();
    let condition = serde_json::json!({
        "ForAllValues:StringEquals": {"dynamodb:Attributes": attributes},
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["CONN#*"]},
        "StringEqualsIfExists": {"dynamodb:ReturnValues": ["NONE", "UPDATED_OLD", "UPDATED_NEW"]}
    });
    format!("StateTable if {condition}")
}

/// The commits table's change index, and the dataset's objects in the export bucket.
const CHANGES_INDEX: &str = "CommitsTable index by_changed_at";
const EXPORT_FILES: &str = "ExportBucket objects under commits/";
/// The export's record of its last run (`shared::export::RUN_RECORD`).
const EXPORT_RUN_RECORD: &str = "ExportBucket's run record";

/// The stack's secrets, as the grants name them.
const SECRETS: &str = "secrets under the secret name prefix";
/// The connections' push hook secrets only (`shared::kernel::push_hook`), as the grants name them.
const HOOK_SECRETS: &str = "push hook secrets under the secret name prefix";

/// The ARN of the stack's secrets whose names go on with `rest`: under `SecretNamePrefix`, or `<stack>/` when
/// it is empty, as the functions' `SECRET_NAME_PREFIX` says.
fn secrets_arn(rest: &str) -> Value {
    serde_json::json!([
        format!("arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:${{Prefix}}{rest}"),
        {"Prefix": secret_name_prefix()}
    ])
}

/// The secret name prefix as the template derives it.
fn secret_name_prefix() -> Value {
    serde_json::json!({"Fn::If": [
        "DeriveSecretNamePrefix", {"Fn::Sub": "${AWS::StackName}/"}, {"Ref": "SecretNamePrefix"}
    ]})
}

fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// A statement's resource in words: the stack's own tables, queue, secrets and key by name, anything else as
/// written (so `"*"` or another table shows as itself).
fn resource_label(statement: &Value, resource: &Value) -> String {
    let key_arn = serde_json::json!({"Fn::If": [
        "CreateSecretsKey", {"Fn::GetAtt": ["SecretsKey", "Arn"]}, {"Ref": "SecretsKmsKey"}
    ]});
    let via_secrets_manager = serde_json::json!({"StringEquals": {
        "kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}
    }});
    let own = [
        "StateTable",
        "CommitsTable",
        "SyncQueue",
        "TurnRequestQueue",
    ];
    let index = resource["Fn::Sub"]
        .as_str()
        .and_then(|arn| arn.strip_prefix("${"))
        .and_then(|arn| arn.split_once(".Arn}/index/"))
        .filter(|(table, _)| own.contains(table));
    let label = if let Value::Array(parts) = &resource["Fn::GetAtt"]
        && parts[1] == "Arn"
        && own.iter().any(|name| parts[0] == *name)
    {
        parts[0].as_str().unwrap().to_owned()
    } else if let Some((table, index)) = index {
        format!("{table} index {index}")
    } else if resource["Fn::Sub"] == "${ExportBucket.Arn}/commits/*" {
        EXPORT_FILES.to_owned()
    } else if resource["Fn::Sub"] == format!("${{ExportBucket.Arn}}/{}", shared::export::RUN_RECORD)
    {
        EXPORT_RUN_RECORD.to_owned()
    } else if resource["Fn::Sub"] == secrets_arn("*") {
        SECRETS.to_owned()
    } else if resource["Fn::Sub"] == secrets_arn("*/push-hook-??????") {
        HOOK_SECRETS.to_owned()
    } else if *resource == key_arn {
        "SecretsKey".to_owned()
    } else {
        resource.to_string()
    };
    match &statement["Condition"] {
        Value::Null => label,
        condition if *condition == via_secrets_manager => format!("{label} via secretsmanager"),
        condition => format!("{label} if {condition}"),
    }
}

/// Every grant of each function role, as "action on resource": its own policies and the `AWS::IAM::Policy`
/// resources attached to it (", if <condition>" when that resource exists only under a condition); plus what no
/// role may have (a managed policy beyond SAM's basics, a Deny-less wildcard of any kind shows as a grant).
fn role_grants(cloudformation: &Value) -> (BTreeMap<String, BTreeSet<String>>, Vec<String>) {
    let resources = cloudformation["Resources"].as_object().expect("Resources");
    let mut grants: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut findings = Vec::new();
    let mut add = |role: &str, document: &Value, only_if: &Value| {
        for statement in as_list(&document["Statement"]) {
            assert_eq!(statement["Effect"], "Allow", "{role}: {statement}");
            for action in as_list(&statement["Action"]) {
                for resource in as_list(&statement["Resource"]) {
                    let mut grant = format!(
                        "{} on {}",
                        action.as_str().unwrap_or("?"),
                        resource_label(statement, resource)
                    );
                    if let Some(condition) = only_if.as_str() {
                        grant.push_str(&format!(", if {condition}"));
                    }
                    grants.entry(role.to_owned()).or_default().insert(grant);
                }
            }
        }
    };
    for (name, resource) in resources {
        match resource["Type"].as_str() {
            Some("AWS::IAM::Role") if ROLES.contains(&name.as_str()) => {
                for arn in as_list(&resource["Properties"]["ManagedPolicyArns"]) {
                    let text = arn.to_string();
                    if !MANAGED_POLICIES_ALLOWED
                        .iter()
                        .any(|allowed| text.contains(&format!(":policy/{allowed}\"")))
                    {
                        findings.push(format!("{name}: managed policy {text}"));
                    }
                }
                for policy in as_list(&resource["Properties"]["Policies"]) {
                    add(name, &policy["PolicyDocument"], &Value::Null);
                }
            }
            Some("AWS::IAM::Policy") => {
                for role in as_list(&resource["Properties"]["Roles"]) {
                    let role = role["Ref"].as_str().expect("a role of the stack");
                    add(
                        role,
                        &resource["Properties"]["PolicyDocument"],
                        &resource["Condition"],
                    );
                }
            }
            _ => {}
        }
    }
    (grants, findings)
}

#[test]
fn each_function_role_holds_exactly_the_actions_its_code_calls() {
    let cloudformation = expand(&root().join("template.yaml"));
    let (grants, findings) = role_grants(&cloudformation);
    assert_eq!(findings, Vec::<String>::new());
    for (role, expected) in expected_grants() {
        assert_eq!(
            cloudformation["Resources"][role]["Type"], "AWS::IAM::Role",
            "{role}"
        );
        let actual = grants.get(role).cloned().unwrap_or_default();
        assert_eq!(
            actual.difference(&expected).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "{role} is granted more than it calls"
        );
        assert_eq!(
            expected.difference(&actual).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "{role} lacks a grant"
        );
    }
    assert_eq!(
        grants.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut roles = ROLES.to_vec();
            roles.sort_unstable();
            roles
        },
        "no other role of the stack is granted anything"
    );
    // The grants' prefix is the one the functions name their secrets with.
    for (name, resource) in cloudformation["Resources"].as_object().unwrap() {
        if resource["Type"] == "AWS::Lambda::Function" {
            assert_eq!(
                resource["Properties"]["Environment"]["Variables"]["SECRET_NAME_PREFIX"],
                secret_name_prefix(),
                "{name}"
            );
        }
    }
}

/// The AWS operations `shared/src/aws` calls (`client.<operation>(`), as IAM actions: `sqs:SendMessageBatch` is
/// authorised as `sqs:SendMessage`.
fn actions_the_adapters_call() -> BTreeSet<String> {
    let mut actions = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("shared/src/aws")).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let Some(service) = ["dynamodb", "secretsmanager", "sqs", "s3"]
            .into_iter()
            // Each adapter file speaks to one service: the SDK crate it names.
            .find(|service| source.contains(&format!("aws_sdk_{service}::")))
        else {
            continue;
        };
        for after in source.split("client").skip(1) {
            let Some(call) = after.trim_start().strip_prefix('.') else {
                continue;
            };
            let operation: String = call
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !call[operation.len()..].starts_with("()") {
                continue;
            }
            let pascal: String = operation
                .split('_')
                .map(|word| word[..1].to_ascii_uppercase() + &word[1..])
                .collect();
            let action = format!("{service}:{pascal}");
            // A transaction is authorised action by action: ours checks an item and updates another.
            let authorised: &[&str] = match action.as_str() {
                "sqs:SendMessageBatch" => &["sqs:SendMessage"],
                "dynamodb:TransactWriteItems" => {
                    &["dynamodb:ConditionCheckItem", "dynamodb:UpdateItem"]
                }
                _ => &[action.as_str()],
            };
            actions.extend(authorised.iter().map(|a| (*a).to_owned()));
        }
    }
    actions
}

/// Drift both ways: an SDK call no role may make fails in AWS only; an action nothing calls is a grant too many.
#[test]
fn the_roles_grant_what_the_adapters_call_and_nothing_else() {
    let called = actions_the_adapters_call();
    for action in [
        "dynamodb:Scan",
        "dynamodb:BatchWriteItem",
        "secretsmanager:CreateSecret",
        "sqs:SendMessage",
        "s3:PutObject",
    ] {
        assert!(called.contains(action), "{action} not found in {called:?}");
    }
    let granted: BTreeSet<String> = expected_grants()
        .into_values()
        .flatten()
        .map(|grant| grant.split(' ').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        called.difference(&granted).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "called but granted to no role"
    );
    // Granted without a call of their own: tags on CreateSecret need TagResource, and Secrets Manager calls KMS.
    let implied = [
        "secretsmanager:TagResource",
        "kms:Decrypt",
        "kms:GenerateDataKey",
    ];
    let unused: Vec<&String> = granted
        .iter()
        .filter(|action| !called.contains(*action) && !implied.contains(&action.as_str()))
        .collect();
    assert_eq!(unused, Vec::<&String>::new(), "granted but never called");
}

#[test]
fn a_wider_grant_is_caught() {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let wide_open = text.replacen(
        "      Policies:\n",
        "      Policies:\n        - Statement:\n            - Effect: Allow\n              Action: dynamodb:GetItem\n              Resource: \"*\"\n        - Statement:\n            - Effect: Allow\n              Action: secretsmanager:GetSecretValue\n              Resource: !Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*\n        - DynamoDBCrudPolicy:\n            TableName: !Ref CommitsTable\n        - AmazonDynamoDBFullAccess\n",
        1,
    );
    assert_ne!(wide_open, text, "the template has a Policies list to widen");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("template.yaml");
    std::fs::write(&path, wide_open).unwrap();
    let (grants, findings) = role_grants(&expand(&path));
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(
        findings[0].contains("AmazonDynamoDBFullAccess"),
        "{findings:#?}"
    );
    let expected = &expected_grants()["CredentialsApiFunctionRole"];
    let extra: Vec<&String> = grants["CredentialsApiFunctionRole"]
        .difference(expected)
        .collect();
    for wide in [
        "dynamodb:GetItem on \"*\"",
        "secretsmanager:GetSecretValue on {\"Fn::Sub\":\"arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*\"}",
        "dynamodb:Scan on ",
        "dynamodb:DeleteItem on ",
    ] {
        assert!(
            extra.iter().any(|grant| grant.starts_with(wide)),
            "{wide} not caught in {extra:#?}"
        );
    }
}

/// The analytics side of the stack: the saved queries are the `sql/` files (which the DuckDB test runs), the Glue
/// table's columns are the Parquet schema the exporter writes, months are projected, the bucket is private,
/// encrypted, TLS-only and cleans up after itself, and the workgroup enforces its encrypted output in the bucket.
#[test]
fn the_catalog_and_the_saved_queries_are_what_the_export_writes_and_sql_says() {
    let cloudformation = expand(&root().join("template.yaml"));
    let resources = cloudformation["Resources"].as_object().unwrap();
    let mut saved: Vec<String> = Vec::new();
    for resource in resources.values() {
        if resource["Type"] == "AWS::Athena::NamedQuery" {
            let properties = &resource["Properties"];
            assert_eq!(
                properties["Database"],
                serde_json::json!({"Ref": "AnalyticsDatabase"})
            );
            assert_eq!(
                properties["WorkGroup"],
                serde_json::json!({"Ref": "AnalyticsWorkGroup"})
            );
            saved.push(properties["QueryString"].as_str().unwrap().to_owned());
        }
    }
    let mut files: Vec<String> = std::fs::read_dir(root().join("sql"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    saved.sort();
    files.sort();
    assert_eq!(files.len(), 4);
    assert_eq!(
        saved, files,
        "every saved query is a sql/ file, word for word"
    );

    let table = &resources["AnalyticsCommitsTable"]["Properties"]["TableInput"];
    let columns: Vec<String> = as_list(&table["StorageDescriptor"]["Columns"])
        .into_iter()
        .map(|c| {
            format!(
                "{} {}",
                c["Name"].as_str().unwrap(),
                c["Type"].as_str().unwrap()
            )
        })
        .collect();
    let written: Vec<String> = shared::export::columnar::SCHEMA
        .lines()
        .filter(|line| line.contains("REQUIRED") || line.contains("OPTIONAL"))
        .filter_map(|line| {
            let words: Vec<&str> = line.trim().trim_end_matches(';').split(' ').collect();
            let glue = match (words.get(1)?, words.get(3)) {
                (&"BYTE_ARRAY", _) => "string",
                (&"INT64", Some(logical)) if logical.starts_with("(TIMESTAMP") => "timestamp",
                (&"INT64", _) => "bigint",
                (&"INT32", _) => "int",
                (other, _) => panic!("a column type the table does not map: {other}"),
            };
            Some(format!("{} {glue}", words.get(2)?))
        })
        .collect();
    assert_eq!(columns, written);
    let parameters = &table["Parameters"];
    assert_eq!(parameters["projection.enabled"], "true");
    assert_eq!(parameters["projection.commit_month.type"], "date");
    assert_eq!(parameters["projection.commit_month.format"], "yyyy-MM");
    assert_eq!(table["PartitionKeys"][0]["Name"], "commit_month");

    let bucket = &resources["ExportBucket"]["Properties"];
    let block = &bucket["PublicAccessBlockConfiguration"];
    for setting in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[setting], true, "{setting}");
    }
    assert_eq!(
        bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"],
        "BucketOwnerEnforced"
    );
    assert!(bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"].is_string());
    let rules = as_list(&bucket["LifecycleConfiguration"]["Rules"]);
    assert!(
        rules
            .iter()
            .any(|r| r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1)
    );
    assert!(
        rules
            .iter()
            .any(|r| r["NoncurrentVersionExpiration"]["NoncurrentDays"].is_number())
    );
    assert!(
        rules
            .iter()
            .all(|r| r["Prefix"] != "commits/" || r["ExpirationInDays"].is_null()),
        "the dataset never expires"
    );
    let policy = &resources["ExportBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(policy["Effect"], "Deny");
    assert_eq!(policy["Condition"]["Bool"]["aws:SecureTransport"], "false");

    let workgroup = &resources["AnalyticsWorkGroup"]["Properties"]["WorkGroupConfiguration"];
    assert_eq!(workgroup["EnforceWorkGroupConfiguration"], true);
    assert_eq!(
        workgroup["ResultConfiguration"]["OutputLocation"],
        serde_json::json!({"Fn::Sub": "s3://${ExportBucket}/athena-results/"})
    );
    assert!(
        workgroup["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"].is_string()
    );
}

/// The key the stack creates (`SecretsKmsKey: create`): the account administers it but cannot use it; the four
/// roles that read secrets decrypt and the API's role encrypts, each only through Secrets Manager.
#[test]
fn the_created_key_serves_only_the_functions_through_secrets_manager() {
    let cloudformation = expand(&root().join("template.yaml"));
    let resources = &cloudformation["Resources"];
    let key = &resources["SecretsKey"];
    assert_eq!(key["Condition"], "CreateSecretsKey");
    assert_eq!(key["Properties"]["EnableKeyRotation"], true);
    assert_eq!(
        resources["SecretsKeyAlias"]["Condition"],
        "CreateSecretsKey"
    );
    let conditions = &cloudformation["Conditions"];
    assert_eq!(
        conditions["CreateSecretsKey"],
        serde_json::json!({"Fn::Equals": [{"Ref": "SecretsKmsKey"}, "create"]})
    );
    assert_eq!(
        conditions["UseSecretsKey"],
        serde_json::json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "SecretsKmsKey"}, ""]}]})
    );
    let use_actions = [
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:ReEncrypt",
    ];
    let mut users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for statement in as_list(&key["Properties"]["KeyPolicy"]["Statement"]) {
        assert_eq!(statement["Effect"], "Allow");
        let actions: Vec<&str> = as_list(&statement["Action"])
            .into_iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let principals = as_list(&statement["Principal"]["AWS"]);
        let uses = actions.iter().any(|action| {
            *action == "kms:*"
                || use_actions.iter().any(|u| {
                    action.starts_with(u)
                        || (action.ends_with('*') && u.starts_with(&action[..action.len() - 1]))
                })
        });
        if !uses {
            continue;
        }
        assert_eq!(
            resource_label(statement, &Value::String("*".into())),
            "\"*\" via secretsmanager",
            "{statement}"
        );
        for principal in principals {
            let role = principal["Fn::GetAtt"][0]
                .as_str()
                .unwrap_or_else(|| panic!("only the function roles use the key: {principal}"));
            for action in &actions {
                users
                    .entry(role.to_owned())
                    .or_default()
                    .insert((*action).to_owned());
            }
        }
    }
    let set = |actions: &[&str]| {
        actions
            .iter()
            .map(|a| (*a).to_owned())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        users,
        BTreeMap::from([
            (
                "CredentialsApiFunctionRole".to_owned(),
                set(&["kms:Decrypt", "kms:GenerateDataKey"])
            ),
            ("SchedulerFunctionRole".to_owned(), set(&["kms:Decrypt"])),
            ("SyncWorkerFunctionRole".to_owned(), set(&["kms:Decrypt"])),
            ("PushHookFunctionRole".to_owned(), set(&["kms:Decrypt"])),
        ])
    );
    // The API function is told the key, whichever it is, and passes it to CreateSecret.
    let variables = &resources["CredentialsApiFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        variables["SECRETS_KMS_KEY_ID"],
        serde_json::json!({"Fn::If": ["UseSecretsKey", {"Fn::If": [
            "CreateSecretsKey", {"Fn::GetAtt": ["SecretsKey", "Arn"]}, {"Ref": "SecretsKmsKey"}
        ]}, ""]})
    );
}

/// GitLab cannot sign requests: the push hook route (the one the local run serves, `PUSH_HOOK_ROUTE`) is the only
/// route without IAM auth, goes to the push hook function, and has its own throttling.
#[test]
fn the_push_hook_route_is_the_only_public_one_and_is_throttled() {
    let cloudformation = expand(&root().join("template.yaml"));
    let resources = cloudformation["Resources"].as_object().unwrap();
    let (method, path) = testkit::local_run::PUSH_HOOK_ROUTE.split_once(' ').unwrap();
    let api = resources
        .values()
        .find(|r| r["Type"] == "AWS::ApiGatewayV2::Api")
        .expect("the HTTP API");
    let paths = api["Properties"]["Body"]["paths"].as_object().unwrap();
    for (route, item) in paths {
        for (verb, operation) in item.as_object().unwrap() {
            let public = route == path && verb == &method.to_ascii_lowercase();
            let security = &operation["security"];
            if public {
                assert_eq!(
                    security,
                    &serde_json::json!([{"NONE": []}]),
                    "{verb} {route}"
                );
                let uri = operation["x-amazon-apigateway-integration"]["uri"].to_string();
                assert!(uri.contains("PushHookFunction"), "{uri}");
            } else {
                assert_eq!(
                    security,
                    &serde_json::json!([{"AWS_IAM": []}]),
                    "{verb} {route}"
                );
            }
        }
    }
    assert!(paths[path][method.to_ascii_lowercase().as_str()].is_object());
    let stage = resources
        .values()
        .find(|r| r["Type"] == "AWS::ApiGatewayV2::Stage")
        .expect("the HTTP API stage");
    assert_eq!(
        stage["Properties"]["RouteSettings"][testkit::local_run::PUSH_HOOK_ROUTE],
        serde_json::json!({
            "ThrottlingBurstLimit": {"Ref": "PushHookThrottlingBurstLimit"},
            "ThrottlingRateLimit": {"Ref": "PushHookThrottlingRateLimit"}
        })
    );
    let function = &resources["PushHookFunction"]["Properties"];
    assert_eq!(
        function["ReservedConcurrentExecutions"],
        serde_json::json!({"Fn::If": [
            "ReservePushHookConcurrency", {"Ref": "PushHookReservedConcurrency"}, {"Ref": "AWS::NoValue"}
        ]})
    );
    // GitLab waits 10 s for an answer.
    assert!(function["Timeout"].as_u64().unwrap() < 10);
    assert_eq!(
        function["Environment"]["Variables"]["PUSH_COALESCE_SECONDS"],
        serde_json::json!({"Ref": "PushCoalesceSeconds"})
    );
}

/// The API stage logs each access (who, what, outcome) to a log group of its own and throttles; the API function's
/// reserved concurrency is a parameter whose 0 reserves none (Lambda's own 0 would refuse every call), and none by
/// default (`stack_deploy` evaluates it).
#[test]
fn the_api_stage_logs_each_access_and_throttles() {
    let cloudformation = expand(&root().join("template.yaml"));
    let resources = &cloudformation["Resources"];
    let stage = resources
        .as_object()
        .unwrap()
        .values()
        .find(|r| r["Type"] == "AWS::ApiGatewayV2::Stage")
        .expect("the HTTP API stage");
    let access = &stage["Properties"]["AccessLogSettings"];
    assert_eq!(
        access["DestinationArn"],
        serde_json::json!({"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]})
    );
    assert_eq!(
        resources["ApiAccessLogGroup"]["Properties"]["RetentionInDays"],
        serde_json::json!({"Ref": "LogRetentionDays"})
    );
    let format: Value = serde_json::from_str(access["Format"].as_str().unwrap())
        .expect("the access log format is one JSON object");
    for (field, variable) in [
        ("requestId", "$context.requestId"),
        ("userArn", "$context.identity.userArn"),
        ("caller", "$context.identity.caller"),
        ("routeKey", "$context.routeKey"),
        ("path", "$context.path"),
        ("status", "$context.status"),
        ("ip", "$context.identity.sourceIp"),
    ] {
        assert_eq!(format[field], variable, "{field}");
    }
    let settings = &stage["Properties"]["DefaultRouteSettings"];
    let parameters = &cloudformation["Parameters"];
    for (setting, parameter) in [
        ("ThrottlingRateLimit", "ApiThrottlingRateLimit"),
        ("ThrottlingBurstLimit", "ApiThrottlingBurstLimit"),
    ] {
        assert_eq!(settings[setting], serde_json::json!({"Ref": parameter}));
        assert!(parameters[parameter]["Default"].as_u64().unwrap() >= 1);
        assert_eq!(parameters[parameter]["MinValue"], 1, "{parameter}");
    }
    assert_eq!(
        resources["CredentialsApiFunction"]["Properties"]["ReservedConcurrentExecutions"],
        serde_json::json!({"Fn::If": [
            "ReserveApiConcurrency", {"Ref": "ApiReservedConcurrency"}, {"Ref": "AWS::NoValue"}
        ]})
    );
    assert_eq!(
        cloudformation["Conditions"]["ReserveApiConcurrency"],
        serde_json::json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "ApiReservedConcurrency"}, 0]}]})
    );
    assert_eq!(parameters["ApiReservedConcurrency"]["MinValue"], 0);
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

/// `connections.sync`'s requests reach the scheduler one at a time, are not delivered again while a turn runs, and
/// end in a dead-letter queue of their own when they keep failing; the credentials API may send them.
#[test]
fn turn_requests_reach_the_scheduler_one_at_a_time_and_outlast_its_turn() {
    let cloudformation = expand(&root().join("template.yaml"));
    let resources = &cloudformation["Resources"];
    let scheduler_timeout = resources["SchedulerFunction"]["Properties"]["Timeout"]
        .as_u64()
        .unwrap();
    let queue = &resources["TurnRequestQueue"]["Properties"];
    assert!(queue["VisibilityTimeout"].as_u64().unwrap() > scheduler_timeout);
    assert_eq!(
        queue["RedrivePolicy"]["deadLetterTargetArn"],
        serde_json::json!({"Fn::GetAtt": ["TurnRequestDeadLetterQueue", "Arn"]})
    );
    let mapping = resources
        .as_object()
        .unwrap()
        .values()
        .find(|r| {
            r["Type"] == "AWS::Lambda::EventSourceMapping"
                && r["Properties"]["FunctionName"]["Ref"] == "SchedulerFunction"
        })
        .expect("the scheduler's trigger");
    assert_eq!(
        mapping["Properties"]["EventSourceArn"],
        serde_json::json!({"Fn::GetAtt": ["TurnRequestQueue", "Arn"]})
    );
    assert_eq!(mapping["Properties"]["BatchSize"], 1);
    let api = &resources["CredentialsApiFunction"]["Properties"]["Environment"]["Variables"];
    let globals =
        &cloudformation["Resources"]["SchedulerFunction"]["Properties"]["Environment"]["Variables"];
    for variables in [api, globals] {
        assert_eq!(
            variables["TURN_REQUEST_QUEUE_URL"],
            serde_json::json!({"Ref": "TurnRequestQueue"})
        );
    }
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

/// The worker's daily write ceiling is a stack parameter whose default is the code's.
#[test]
fn the_daily_write_ceiling_is_a_parameter_defaulting_to_the_codes() {
    let cloudformation = expand(&root().join("template.yaml"));
    let worker = &cloudformation["Resources"]["SyncWorkerFunction"]["Properties"];
    assert_eq!(
        worker["Environment"]["Variables"]["COMMIT_WRITES_PER_DAY"],
        serde_json::json!({"Ref": "CommitWritesPerDay"})
    );
    let parameter = &cloudformation["Parameters"]["CommitWritesPerDay"];
    assert_eq!(
        parameter["Default"].as_u64(),
        Some(shared::sync::importer::DEFAULT_WRITES_PER_DAY)
    );
    assert_eq!(parameter["MinValue"], 1);
}

/// The exporter's settle time, like the write ceiling: a parameter whose default is the code's.
#[test]
fn the_export_settle_time_is_a_parameter_defaulting_to_the_codes() {
    let cloudformation = expand(&root().join("template.yaml"));
    let exporter = &cloudformation["Resources"]["ExporterFunction"]["Properties"];
    assert_eq!(
        exporter["Environment"]["Variables"]["EXPORT_SETTLE_SECONDS"],
        serde_json::json!({"Ref": "ExportSettleSeconds"})
    );
    let parameter = &cloudformation["Parameters"]["ExportSettleSeconds"];
    assert_eq!(
        parameter["Default"].as_u64(),
        Some(shared::export::service::DEFAULT_SETTLE.as_secs())
    );
    assert_eq!(parameter["MinValue"], 0);
    assert_eq!(parameter["MaxValue"], 3600);
}

/// One level, Lambda's `ApplicationLogLevel` from `LogLevel` (the code reads it as `AWS_LAMBDA_LOG_LEVEL`), no
/// `RUST_LOG` that could disagree, and no TRACE. The credentials API is never quieter than INFO: Lambda drops
/// lines below its level, and the API's audit lines are INFO.
#[test]
fn the_log_level_has_one_source_and_no_trace() {
    let cloudformation = expand(&root().join("template.yaml"));
    let levels = allowed_log_levels();
    assert!(levels.contains(&"INFO".to_owned()), "{levels:?}");
    assert!(!levels.iter().any(|l| l.eq_ignore_ascii_case("trace")));
    let mut quieter_than_info = Vec::new();
    for level in &levels {
        let filter = shared::telemetry::level(|_| Some(level.clone()));
        assert!(filter.is_ok(), "{level}");
        if filter.unwrap() < tracing_subscriber::filter::LevelFilter::INFO {
            quieter_than_info.push(serde_json::json!({"Fn::Equals": [{"Ref": "LogLevel"}, level]}));
        }
    }
    assert_eq!(
        cloudformation["Conditions"]["LogLevelQuieterThanInfo"],
        serde_json::json!({"Fn::Or": quieter_than_info})
    );
    let mut functions = 0;
    for (name, resource) in cloudformation["Resources"].as_object().unwrap() {
        if resource["Type"] != "AWS::Lambda::Function" {
            continue;
        }
        functions += 1;
        let properties = &resource["Properties"];
        let level = if name == "CredentialsApiFunction" {
            serde_json::json!({"Fn::If": ["LogLevelQuieterThanInfo", "INFO", {"Ref": "LogLevel"}]})
        } else {
            serde_json::json!({"Ref": "LogLevel"})
        };
        assert_eq!(
            properties["LoggingConfig"]["ApplicationLogLevel"], level,
            "{name}"
        );
        assert_eq!(properties["LoggingConfig"]["LogFormat"], "JSON");
        assert!(properties["Environment"]["Variables"]["RUST_LOG"].is_null());
    }
    assert_eq!(functions, 5);
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
        .find(|r| {
            r["Type"] == "AWS::Scheduler::Schedule"
                && r["Properties"]["Target"]["Arn"]["Fn::GetAtt"][0] == "SchedulerFunction"
        })
        .expect("the scheduler's schedule");
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
        shared::entrypoints::scheduler::tick_key(&sample).as_deref(),
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
/// The sync worker's trigger on the sync queue.
fn sqs_trigger(resources: &serde_json::Value) -> &serde_json::Value {
    resources
        .as_object()
        .unwrap()
        .values()
        .find(|r| {
            r["Type"] == "AWS::Lambda::EventSourceMapping"
                && r["Properties"]["FunctionName"]["Ref"] == "SyncWorkerFunction"
        })
        .expect("the SQS trigger")
}
