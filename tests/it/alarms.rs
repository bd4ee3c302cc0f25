//! What tells an operator that the stack is unwell, on SAM's own expansion with the test kit's CloudFormation
//! evaluator: each alarm watches the metric it names with its threshold, notifies the topic given or made (and
//! nothing without one), the schedules retry and dead-letter what they cannot deliver, and the dashboard graphs
//! exactly the metrics the functions emit (`shared::metrics::CATALOGUE`) in the namespace they are told.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};
use shared::metrics::{CATALOGUE, OUTCOME, RESULT};
use testkit::lambda_environment::{Deployment, StandInResource, generated_resources};

use crate::template::{expand, root};

const STACK: &str = "gitlab-importer";
const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";

const FUNCTIONS: [&str; 5] = [
    "CredentialsApiFunction",
    "PushHookFunction",
    "SchedulerFunction",
    "SyncWorkerFunction",
    "ExporterFunction",
];

/// The stack `STACK` deployed with `given`: each resource named as CloudFormation names it, and each queue with
/// the ARN and name `Fn::GetAtt` reads.
fn deployment(cloudformation: &Value, given: &[(&str, &str)]) -> Deployment {
    deployment_named(cloudformation, STACK, given)
}

fn deployment_named(cloudformation: &Value, stack: &str, given: &[(&str, &str)]) -> Deployment {
    let mut resources = generated_resources(cloudformation, stack);
    for (id, resource) in cloudformation["Resources"].as_object().unwrap() {
        if resource["Type"] == "AWS::SQS::Queue" {
            let name = generated(stack, id);
            let arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}");
            let url = format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}");
            let attributes = [("Arn", arn.as_str()), ("QueueName", name.as_str())];
            resources.insert(id.clone(), StandInResource::new(&url, &attributes));
        }
    }
    Deployment::new(
        cloudformation.clone(),
        stack,
        REGION,
        ACCOUNT,
        given,
        resources,
    )
    .unwrap()
}

/// The name CloudFormation gives resource `id` of `stack` (a function's, a queue's).
fn generated(stack: &str, id: &str) -> String {
    StandInResource::generated(stack, id).reference
}

fn resolved(deployment: &Deployment, value: &Value, at: &str) -> Option<Value> {
    deployment
        .resolve_value(value, at)
        .unwrap_or_else(|e| panic!("{at}: {e}"))
}

/// Numbers as CloudFormation passes them to the service: their text, so a parameter's value and a literal compare.
fn as_text(value: &Value) -> Value {
    match value {
        Value::Number(n) => Value::String(n.to_string()),
        Value::Array(items) => Value::Array(items.iter().map(as_text).collect()),
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), as_text(v))).collect(),
        other => other.clone(),
    }
}

fn alarms(cloudformation: &Value) -> BTreeMap<String, Value> {
    cloudformation["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(id, r)| (id.clone(), r.clone()))
        .collect()
}

/// One alarm's watch as deployed with the defaults: metric, dimension, statistic, periods, threshold, comparison
/// and missing data.
#[allow(clippy::too_many_arguments)]
fn watch(
    namespace: &str,
    metric: &str,
    dimension: (&str, &str),
    statistic: &str,
    period: u64,
    periods: u64,
    threshold: u64,
    comparison: &str,
    missing: &str,
) -> Value {
    let mut watch = json!({
        "Namespace": namespace,
        "MetricName": metric,
        "Dimensions": [{"Name": dimension.0, "Value": dimension.1}],
        "Statistic": statistic,
        "Period": period,
        "EvaluationPeriods": periods,
        "Threshold": threshold,
        "ComparisonOperator": comparison,
        "TreatMissingData": missing,
    });
    // An alarm over several periods alarms only when all of them breach: none of those hours saw a run.
    if periods > 1 {
        watch["DatapointsToAlarm"] = json!(periods);
    }
    as_text(&watch)
}

/// Every alarm of the stack and what it watches, with the template's defaults.
fn expected_alarms() -> BTreeMap<String, Value> {
    let queue = |id: &str| generated(STACK, id);
    let dead_letters = |id: &str| {
        watch(
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            ("QueueName", &queue(id)),
            "Maximum",
            300,
            1,
            0,
            "GreaterThanThreshold",
            "notBreaching",
        )
    };
    let missed = |function: &str, hours: u64| {
        watch(
            "AWS/Lambda",
            "Invocations",
            ("FunctionName", &generated(STACK, function)),
            "Sum",
            3600,
            hours,
            1,
            "LessThanThreshold",
            "breaching",
        )
    };
    let mut expected = BTreeMap::from([
        (
            "SyncDeadLetterAlarm".to_owned(),
            dead_letters("SyncDeadLetterQueue"),
        ),
        (
            "ScheduleDeadLetterAlarm".to_owned(),
            dead_letters("ScheduleDeadLetterQueue"),
        ),
        (
            "TurnRequestDeadLetterAlarm".to_owned(),
            dead_letters("TurnRequestDeadLetterQueue"),
        ),
        (
            "SyncQueueAgeAlarm".to_owned(),
            watch(
                "AWS/SQS",
                "ApproximateAgeOfOldestMessage",
                ("QueueName", &queue("SyncQueue")),
                "Maximum",
                300,
                1,
                21_600,
                "GreaterThanThreshold",
                "notBreaching",
            ),
        ),
        ("MissedTickAlarm".to_owned(), missed("SchedulerFunction", 2)),
        (
            "MissedExportAlarm".to_owned(),
            missed("ExporterFunction", 26),
        ),
    ]);
    for function in FUNCTIONS {
        let name = generated(STACK, function);
        let short = function.strip_suffix("Function").unwrap();
        for metric in ["Errors", "Throttles"] {
            expected.insert(
                format!("{short}{metric}Alarm"),
                watch(
                    "AWS/Lambda",
                    metric,
                    ("FunctionName", &name),
                    "Sum",
                    300,
                    1,
                    0,
                    "GreaterThanThreshold",
                    "notBreaching",
                ),
            );
        }
    }
    expected
}

/// Each alarm's metric, dimension, statistic, threshold and comparison, and no alarm besides these.
#[test]
fn every_alarm_watches_its_metric_with_its_threshold() {
    let cloudformation = expand(&root().join("template.yaml"));
    let deployment = deployment(&cloudformation, &[]);
    let mut actual = BTreeMap::new();
    for (id, alarm) in alarms(&cloudformation) {
        assert!(deployment.exists(&alarm).unwrap(), "{id} is always made");
        let mut properties = resolved(&deployment, &alarm["Properties"], &id).unwrap();
        let description = properties["AlarmDescription"].as_str().unwrap_or_default();
        assert!(
            description.contains("docs/operations.md#alarms"),
            "{id}: {description:?} points to what to do"
        );
        let properties = properties.as_object_mut().unwrap();
        for notification in ["AlarmDescription", "AlarmActions", "OKActions"] {
            properties.remove(notification);
        }
        actual.insert(id, as_text(&Value::Object(properties.clone())));
    }
    let expected = expected_alarms();
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (id, watch) in &expected {
        assert_eq!(&actual[id], watch, "{id}");
    }

    // Every function of the stack has its errors and throttles watched.
    let functions: Vec<&String> = cloudformation["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Lambda::Function")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(functions.len(), FUNCTIONS.len());
    for function in functions {
        let short = function.strip_suffix("Function").unwrap();
        for metric in ["Errors", "Throttles"] {
            assert!(
                expected.contains_key(&format!("{short}{metric}Alarm")),
                "{function} {metric}"
            );
        }
    }
}

/// The seconds of a `rate(N unit)` schedule expression.
fn rate_seconds(expression: &str) -> u64 {
    let inner = expression
        .strip_prefix("rate(")
        .and_then(|e| e.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{expression} is no rate"));
    let (count, unit) = inner.split_once(' ').unwrap();
    let count: u64 = count.parse().unwrap();
    count
        * match unit.trim_end_matches('s') {
            "minute" => 60,
            "hour" => 3600,
            "day" => 86_400,
            other => panic!("unit {other}"),
        }
}

/// The thresholds are parameters whose defaults fit the schedules and the queue: a missed run alarms only after
/// more than one schedule period, and the age alarm is past the visibility timeout a deferred record waits by
/// design. CloudWatch evaluates hourly periods over at most a week.
#[test]
fn the_thresholds_outlast_what_happens_by_design() {
    let cloudformation = expand(&root().join("template.yaml"));
    let parameters = &cloudformation["Parameters"];
    let default = |name: &str| -> u64 {
        let value = &parameters[name]["Default"];
        value
            .as_u64()
            .or_else(|| value.as_str()?.parse().ok())
            .unwrap_or_else(|| panic!("{name} has a default"))
    };
    let schedule = |name: &str| rate_seconds(parameters[name]["Default"].as_str().unwrap());
    assert!(default("MissedTickAlarmHours") * 3600 > schedule("ScheduleExpression"));
    assert!(default("MissedExportAlarmHours") * 3600 > schedule("ExportScheduleExpression"));
    for name in ["MissedTickAlarmHours", "MissedExportAlarmHours"] {
        assert!(parameters[name]["MaxValue"].as_u64().unwrap() * 3600 <= 7 * 86_400);
        assert!(parameters[name]["MinValue"].as_u64().unwrap() >= 2);
    }
    let visibility = cloudformation["Resources"]["SyncQueue"]["Properties"]["VisibilityTimeout"]
        .as_u64()
        .unwrap();
    let age = &parameters["SyncQueueAgeAlarmSeconds"];
    assert!(default("SyncQueueAgeAlarmSeconds") > visibility);
    let retention =
        cloudformation["Resources"]["SyncQueue"]["Properties"]["MessageRetentionPeriod"]
            .as_u64()
            .unwrap();
    assert!(age["MaxValue"].as_u64().unwrap() <= retention);
}

/// The alarms' actions, resolved, as JSON (`null`: none), each alarm's the same when it goes off and when it is over.
fn actions(cloudformation: &Value, given: &[(&str, &str)]) -> BTreeSet<String> {
    let deployment = deployment(cloudformation, given);
    assert_eq!(
        deployment.broken_rules().unwrap(),
        Vec::<String>::new(),
        "{given:?}"
    );
    let mut seen = BTreeSet::new();
    for (id, alarm) in alarms(cloudformation) {
        let alarm_actions = resolved(&deployment, &alarm["Properties"]["AlarmActions"], &id);
        let ok_actions = resolved(&deployment, &alarm["Properties"]["OKActions"], &id);
        assert_eq!(alarm_actions, ok_actions, "{id}: told when it ends too");
        seen.insert(json!(alarm_actions).to_string());
    }
    seen
}

/// The created topic with `AlarmEmail`, the given one with `AlarmTopicArn`, none without either; both at once
/// break a rule.
#[test]
fn alarms_notify_the_topic_given_or_made_and_nothing_without_one() {
    let cloudformation = expand(&root().join("template.yaml"));
    let topic = &cloudformation["Resources"]["AlarmTopic"];
    let output = &cloudformation["Outputs"]["AlarmNotificationTopicArn"];

    let none = deployment(&cloudformation, &[]);
    assert!(!none.exists(topic).unwrap());
    assert!(!none.exists(output).unwrap());
    assert_eq!(
        actions(&cloudformation, &[]),
        BTreeSet::from(["null".to_owned()])
    );

    let email = [("AlarmEmail", "ops@example.com")];
    let made = deployment(&cloudformation, &email);
    assert!(made.exists(topic).unwrap());
    assert_eq!(
        resolved(&made, &topic["Properties"], "AlarmTopic"),
        Some(json!({"Subscription": [{"Protocol": "email", "Endpoint": "ops@example.com"}]}))
    );
    let made_arn = generated(STACK, "AlarmTopic");
    assert_eq!(
        actions(&cloudformation, &email),
        BTreeSet::from([json!([made_arn]).to_string()])
    );
    assert_eq!(
        resolved(&made, &output["Value"], "output"),
        Some(json!(made_arn))
    );

    let arn = "arn:aws:sns:eu-west-1:123456789012:operations";
    let own = [("AlarmTopicArn", arn)];
    let given = deployment(&cloudformation, &own);
    assert!(!given.exists(topic).unwrap());
    assert!(given.exists(output).unwrap());
    assert_eq!(
        actions(&cloudformation, &own),
        BTreeSet::from([json!([arn]).to_string()])
    );

    let both = deployment(&cloudformation, &[email[0], own[0]]);
    assert_eq!(both.broken_rules().unwrap(), ["OneAlarmTopic"]);
}

/// Both schedules retry what Lambda refuses for a while shorter than their period, then leave it in a
/// dead-letter queue that SAM lets their roles write to and an alarm watches.
#[test]
fn the_schedules_retry_then_dead_letter_to_a_watched_queue() {
    let cloudformation = expand(&root().join("template.yaml"));
    let resources = cloudformation["Resources"].as_object().unwrap();
    let parameters = &cloudformation["Parameters"];
    let expected = BTreeMap::from([
        ("SchedulerFunction", (5, 1800, "ScheduleExpression")),
        ("ExporterFunction", (10, 21_600, "ExportScheduleExpression")),
    ]);
    let mut seen = BTreeSet::new();
    for (id, schedule) in resources {
        if schedule["Type"] != "AWS::Scheduler::Schedule" {
            continue;
        }
        let target = &schedule["Properties"]["Target"];
        let function = target["Arn"]["Fn::GetAtt"][0].as_str().unwrap();
        let (retries, age, expression) = expected[function];
        assert_eq!(
            target["RetryPolicy"],
            json!({"MaximumRetryAttempts": retries, "MaximumEventAgeInSeconds": age}),
            "{id}"
        );
        // EventBridge Scheduler's bounds, and no older than one period: the next run does better.
        assert!((60..=86_400).contains(&age) && retries <= 185);
        let period = rate_seconds(parameters[expression]["Default"].as_str().unwrap());
        assert!(age < period, "{id}: {age} s >= {period} s");
        let dead_letters = json!({"Fn::GetAtt": ["ScheduleDeadLetterQueue", "Arn"]});
        assert_eq!(target["DeadLetterConfig"], json!({"Arn": dead_letters}));
        // SAM grants the schedule's role what it needs to leave the event there, and nothing else but the
        // invocation of its function.
        let role = target["RoleArn"]["Fn::GetAtt"][0].as_str().unwrap();
        let grants: BTreeSet<String> = resources[role]["Properties"]["Policies"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap())
            .map(|statement| {
                assert_eq!(statement["Effect"], "Allow");
                format!("{} on {}", statement["Action"], statement["Resource"])
            })
            .collect();
        let own_function = json!({"Fn::GetAtt": [function, "Arn"]});
        assert_eq!(
            grants,
            BTreeSet::from([
                format!("\"lambda:InvokeFunction\" on {own_function}"),
                format!("\"sqs:SendMessage\" on {dead_letters}"),
            ]),
            "{role}"
        );
        seen.insert(function);
    }
    assert_eq!(seen, expected.keys().copied().collect());
    let queue = &resources["ScheduleDeadLetterQueue"]["Properties"];
    assert_eq!(queue["MessageRetentionPeriod"], 1_209_600);
    assert_eq!(
        resources["ScheduleDeadLetterAlarm"]["Properties"]["Dimensions"][0]["Value"],
        json!({"Fn::GetAtt": ["ScheduleDeadLetterQueue", "QueueName"]})
    );
}

/// A metric a dashboard widget reads: its namespace, its name, and its dimensions by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Graphed {
    namespace: String,
    metric: String,
    dimensions: BTreeMap<String, String>,
}

/// Every metric the dashboard reads: `[namespace, name, dimension, value, ..., {options}]` entries, and
/// `SEARCH('{namespace,Dimension} MetricName="name"', ...)` expressions (their dimension's value `*`).
fn graphed(body: &Value) -> Vec<Graphed> {
    let mut found = Vec::new();
    for widget in body["widgets"].as_array().unwrap() {
        if widget["type"] != "metric" {
            continue;
        }
        assert_eq!(widget["properties"]["region"], REGION, "{widget}");
        for entry in widget["properties"]["metrics"].as_array().unwrap() {
            let entry = entry.as_array().unwrap();
            if let Some(expression) = entry[0]["expression"].as_str() {
                found.push(searched(expression));
                continue;
            }
            let words: Vec<&str> = entry.iter().filter_map(Value::as_str).collect();
            let dimensions = words[2..]
                .chunks(2)
                .map(|pair| (pair[0].to_owned(), pair[1].to_owned()))
                .collect();
            found.push(Graphed {
                namespace: words[0].to_owned(),
                metric: words[1].to_owned(),
                dimensions,
            });
        }
    }
    found
}

fn searched(expression: &str) -> Graphed {
    let schema = expression
        .split_once("SEARCH('{")
        .and_then(|(_, rest)| rest.split_once('}'))
        .map(|(schema, _)| schema)
        .unwrap_or_else(|| panic!("{expression}"));
    let mut parts = schema.split(',');
    let namespace = parts.next().unwrap().to_owned();
    let dimensions = parts.map(|d| (d.to_owned(), "*".to_owned())).collect();
    let metric = expression
        .split_once("MetricName=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(name, _)| name.to_owned())
        .unwrap_or_else(|| panic!("{expression}"));
    Graphed {
        namespace,
        metric,
        dimensions,
    }
}

/// The dashboard's body as deployed.
fn dashboard(cloudformation: &Value, deployment: &Deployment) -> Value {
    let body = &cloudformation["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"];
    let text = resolved(deployment, body, "DashboardBody").unwrap();
    serde_json::from_str(text.as_str().unwrap()).expect("the dashboard body is JSON")
}

/// How the dashboard's metrics of the functions' namespace differ from the catalogue: (graphed but emitted by
/// no function, emitted but not graphed).
fn catalogue_drift(graphed: &[Graphed], namespace: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let emitted: BTreeSet<String> = CATALOGUE
        .iter()
        .flat_map(|(_, metrics)| metrics.iter().map(|m| m.name.to_owned()))
        .collect();
    let ours: BTreeSet<String> = graphed
        .iter()
        .filter(|g| g.namespace == namespace)
        .map(|g| g.metric.clone())
        .collect();
    (
        ours.difference(&emitted).cloned().collect(),
        emitted.difference(&ours).cloned().collect(),
    )
}

/// The dashboard reads every metric the functions emit and nothing they do not, in the namespace every function
/// is told; the queues; and each function's errors, throttles and time.
#[test]
fn the_dashboard_graphs_what_the_functions_emit_in_their_namespace() {
    let cloudformation = expand(&root().join("template.yaml"));
    let deployment = deployment(&cloudformation, &[]);
    let namespace = format!("GitLabCommitImporter/{STACK}");
    let functions = deployment.functions().unwrap();
    assert_eq!(functions.len(), FUNCTIONS.len());
    for (id, function) in &functions {
        assert_eq!(
            function.variables.get("METRICS_NAMESPACE"),
            Some(&namespace),
            "{id}"
        );
    }
    assert_eq!(
        resolved(
            &deployment,
            &cloudformation["Outputs"]["MetricsNamespace"]["Value"],
            "output"
        ),
        Some(json!(namespace))
    );

    let graphed = graphed(&dashboard(&cloudformation, &deployment));
    assert_eq!(
        catalogue_drift(&graphed, &namespace),
        (BTreeSet::new(), BTreeSet::new())
    );
    let namespaces: BTreeSet<&str> = graphed.iter().map(|g| g.namespace.as_str()).collect();
    assert_eq!(
        namespaces,
        BTreeSet::from(["AWS/Lambda", "AWS/SQS", namespace.as_str()])
    );
    // The functions' metrics as the lines record them: stack-wide totals, and two searches by their dimension.
    for g in graphed.iter().filter(|g| g.namespace == namespace) {
        let expected: BTreeMap<String, String> = match g.metric.as_str() {
            "Syncs" => BTreeMap::from([(RESULT.to_owned(), "*".to_owned())]),
            "HookDeliveries" => BTreeMap::from([(OUTCOME.to_owned(), "*".to_owned())]),
            _ => BTreeMap::new(),
        };
        assert_eq!(g.dimensions, expected, "{g:?}");
    }

    let names: BTreeSet<String> = functions
        .values()
        .map(|f| f.function_name.clone())
        .collect();
    for metric in ["Errors", "Throttles", "Duration"] {
        let graphed_for: BTreeSet<String> = graphed
            .iter()
            .filter(|g| g.namespace == "AWS/Lambda" && g.metric == metric)
            .map(|g| g.dimensions["FunctionName"].clone())
            .collect();
        assert_eq!(graphed_for, names, "{metric}");
    }
    let queues: BTreeSet<(String, String)> = graphed
        .iter()
        .filter(|g| g.namespace == "AWS/SQS")
        .map(|g| (g.metric.clone(), g.dimensions["QueueName"].clone()))
        .collect();
    for (metric, queue) in [
        ("ApproximateNumberOfMessagesVisible", "SyncQueue"),
        ("ApproximateAgeOfOldestMessage", "SyncQueue"),
        ("ApproximateNumberOfMessagesVisible", "SyncDeadLetterQueue"),
        (
            "ApproximateNumberOfMessagesVisible",
            "ScheduleDeadLetterQueue",
        ),
    ] {
        assert!(
            queues.contains(&(metric.to_owned(), generated(STACK, queue))),
            "{metric} of {queue} in {queues:?}"
        );
    }
}

/// The catalogue's functions are the template's: each emitting package is a function's `CodeUri`.
#[test]
fn the_catalogues_functions_are_the_templates() {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let template: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let code: BTreeSet<String> = template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .filter_map(|r| r["Properties"]["CodeUri"].as_str().map(str::to_owned))
        .collect();
    for (function, metrics) in CATALOGUE {
        assert!(
            code.contains(&format!("functions/{function}")),
            "{function} in {code:?}"
        );
        assert!(!metrics.is_empty());
    }
    // The longest stack name still makes a namespace CloudWatch takes.
    let cloudformation = expand(&root().join("template.yaml"));
    let longest = format!("a{}", "-b".repeat(63)) + "c";
    assert_eq!(longest.len(), 128);
    let deployment = deployment_named(&cloudformation, &longest, &[]);
    for function in deployment.functions().unwrap().values() {
        let namespace = &function.variables["METRICS_NAMESPACE"];
        assert_eq!(shared::metrics::check_namespace(namespace), Ok(()));
    }
}

/// The drift check sees a dashboard that graphs a name no function emits (and so misses the one it meant).
#[test]
fn a_dashboard_metric_no_function_emits_is_caught() {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let misspelt = text.replacen("\"CommitsImported\"", "\"CommitImported\"", 1);
    assert_ne!(misspelt, text, "the dashboard graphs CommitsImported");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("template.yaml");
    std::fs::write(&path, misspelt).unwrap();
    let cloudformation = expand(Path::new(&path));
    let deployment = deployment(&cloudformation, &[]);
    let graphed = graphed(&dashboard(&cloudformation, &deployment));
    let (unknown, missing) = catalogue_drift(&graphed, &format!("GitLabCommitImporter/{STACK}"));
    assert_eq!(unknown, BTreeSet::from(["CommitImported".to_owned()]));
    assert_eq!(missing, BTreeSet::from(["CommitsImported".to_owned()]));
}

/// `docs/operations.md`'s Alarms section names every alarm of the template (the per-function pair as
/// `<Function>ErrorsAlarm` and `<Function>ThrottlesAlarm`, with each function's short name), and no other.
#[test]
fn the_operations_page_explains_every_alarm() {
    let page = std::fs::read_to_string(root().join("docs/operations.md")).unwrap();
    let section = page
        .split("\n## Alarms\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("docs/operations.md has an Alarms section");
    let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("| `")).collect();
    let named: BTreeSet<String> = rows
        .iter()
        .filter_map(|row| row.split('`').nth(1))
        .map(str::to_owned)
        .collect();
    let cloudformation = expand(&root().join("template.yaml"));
    let mut expected = BTreeSet::new();
    for id in alarms(&cloudformation).keys() {
        let per_function = ["Errors", "Throttles"].into_iter().find_map(|metric| {
            let short = id.strip_suffix(&format!("{metric}Alarm"))?;
            FUNCTIONS
                .contains(&format!("{short}Function").as_str())
                .then_some((metric, short))
        });
        match per_function {
            Some((metric, short)) => {
                expected.insert(format!("<Function>{metric}Alarm"));
                let row = rows
                    .iter()
                    .find(|row| row.contains(&format!("`<Function>{metric}Alarm`")))
                    .unwrap();
                assert!(row.contains(&format!("`{short}`")), "{short} in {row}");
            }
            None => {
                expected.insert(id.clone());
            }
        }
    }
    assert_eq!(named, expected);
    assert!(section.contains("aws sqs start-message-move-task"));
}
