//! What a new user's deploy meets: two stacks in one account and region share no name, the defaults deploy on a
//! fresh account (whose Lambda concurrency quota may leave nothing to reserve), and `sam deploy --guided` asks
//! for the parameters in the groups the template declares, the few that matter first.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;
use testkit::lambda_environment::Deployment;

use crate::network_placement::deployment;
use crate::template::{expand, json_printed_by, root};

/// `*Name` properties whose value lives inside a resource of the stack, or names an AWS service: they may
/// repeat across stacks.
const SCOPED_NAMES: [(&str, &str); 5] = [
    // A metric's name within its namespace (the stack's own, or AWS's with the stack's resources as dimensions).
    ("AWS::CloudWatch::Alarm", "MetricName"),
    // Within the stack's own workgroup.
    ("AWS::Athena::NamedQuery", "Name"),
    // Within the stack's own roles.
    ("AWS::IAM::Policy", "PolicyName"),
    // Within the stack's own API.
    ("AWS::ApiGatewayV2::Stage", "StageName"),
    // The AWS service's name.
    ("AWS::EC2::VPCEndpoint", "ServiceName"),
];

/// Every name the stack gives a resource of the account, by `<logical id>.<property>`: each resource's `*Name`
/// properties (a resource's `Ref` counts as the name CloudFormation generates from the stack name) and the Glue
/// database's name, whatever conditions say about the resource, plus the secret name prefix the functions use.
fn account_names(cloudformation: &Value, deployment: &Deployment) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for (id, resource) in cloudformation["Resources"].as_object().unwrap() {
        let kind = resource["Type"].as_str().unwrap();
        let properties = resource["Properties"].as_object().into_iter().flatten();
        for (property, value) in properties {
            if property.ends_with("Name") && !SCOPED_NAMES.contains(&(kind, property.as_str())) {
                let at = format!("{id}.{property}");
                names.insert(at.clone(), text(deployment, &at, value));
            }
        }
        if kind == "AWS::Glue::Database" {
            let name = &resource["Properties"]["DatabaseInput"]["Name"];
            let at = format!("{id}.DatabaseInput.Name");
            names.insert(at.clone(), text(deployment, &at, name));
        }
        let prefix = &resource["Properties"]["Environment"]["Variables"]["SECRET_NAME_PREFIX"];
        if !prefix.is_null() {
            let at = format!("{id}.SECRET_NAME_PREFIX");
            names.insert(at.clone(), text(deployment, &at, prefix));
        }
    }
    names
}

fn text(deployment: &Deployment, at: &str, expression: &Value) -> String {
    let value = deployment.resolve_value(expression, at).unwrap();
    value
        .as_ref()
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{at} = {expression} is no text: {value:?}"))
        .to_owned()
}

/// Stack names where one is the start of the other, in capitals: Glue folds names to lowercase, and IAM grants
/// the secrets as `<prefix>*`.
#[test]
fn two_stacks_in_one_account_share_no_name() {
    let cloudformation = expand(&root().join("template.yaml"));
    let first = account_names(
        &cloudformation,
        &deployment(&cloudformation, "Importer", &[]),
    );
    let second = account_names(
        &cloudformation,
        &deployment(&cloudformation, "Importer-2", &[]),
    );
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        second.keys().collect::<Vec<_>>()
    );
    for expected in [
        "AnalyticsDatabase.DatabaseInput.Name",
        "AnalyticsWorkGroup.Name",
        "SecretsKeyAlias.AliasName",
        "SchedulerLogGroup.LogGroupName",
        "SchedulerFunction.SECRET_NAME_PREFIX",
    ] {
        assert!(first.contains_key(expected), "{expected} in {first:#?}");
    }
    for (name, value) in &first {
        let folded = value.to_lowercase();
        let shared: Vec<&String> = second
            .iter()
            .filter(|(_, other)| other.to_lowercase() == folded)
            .map(|(other_name, _)| other_name)
            .collect();
        assert_eq!(
            shared,
            Vec::<&String>::new(),
            "{name} = {value} in both stacks"
        );
    }

    // Athena reads lowercase letters, digits and underscores; Glue stores the name in lowercase.
    for names in [&first, &second] {
        let database = names["AnalyticsDatabase.DatabaseInput.Name"].to_lowercase();
        assert!(
            database
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{database}"
        );
    }
    // The secrets' grants end in `*`: neither stack's prefix may lie under the other's.
    let prefix =
        |names: &BTreeMap<String, String>| names["SchedulerFunction.SECRET_NAME_PREFIX"].clone();
    let (a, b) = (prefix(&first), prefix(&second));
    assert!(!a.starts_with(&b) && !b.starts_with(&a), "{a} and {b}");
    assert_eq!(a, "Importer/");
    for names in [&first, &second] {
        let prefixes: Vec<&String> = names
            .iter()
            .filter(|(name, _)| name.ends_with(".SECRET_NAME_PREFIX"))
            .map(|(_, value)| value)
            .collect();
        assert_eq!(prefixes.len(), 5, "every function is told the prefix");
        assert!(prefixes.iter().all(|p| **p == prefix(names)));
    }

    // A stack that names its own keeps them: an upgrade from the old fixed defaults passes them.
    let kept = account_names(
        &cloudformation,
        &deployment(
            &cloudformation,
            "Importer",
            &[
                ("SecretNamePrefix", "gitlab-importer/"),
                ("AnalyticsDatabaseName", "gitlab_commits"),
            ],
        ),
    );
    assert_eq!(
        kept["SyncWorkerFunction.SECRET_NAME_PREFIX"],
        "gitlab-importer/"
    );
    assert_eq!(
        kept["AnalyticsDatabase.DatabaseInput.Name"],
        "gitlab_commits"
    );
}

/// A new account's concurrency quota can be 10, and Lambda refuses a reservation that leaves fewer than 10
/// unreserved: by default no function reserves any; a parameter turns the reservation on.
#[test]
fn the_defaults_reserve_no_concurrency_and_a_parameter_reserves_it() {
    let cloudformation = expand(&root().join("template.yaml"));
    let resources = &cloudformation["Resources"];
    let reserved = |deployment: &Deployment| -> Vec<Option<Value>> {
        resources
            .as_object()
            .unwrap()
            .values()
            .filter(|r| r["Type"] == "AWS::Lambda::Function")
            .map(|r| {
                let reservation = &r["Properties"]["ReservedConcurrentExecutions"];
                deployment
                    .resolve_value(reservation, "reservation")
                    .unwrap()
            })
            .filter(|reservation| !matches!(reservation, None | Some(Value::Null)))
            .collect()
    };
    let defaults = deployment(&cloudformation, "Importer", &[]);
    assert_eq!(reserved(&defaults), Vec::<Option<Value>>::new());
    let raised = deployment(
        &cloudformation,
        "Importer",
        &[
            ("ApiReservedConcurrency", "10"),
            ("PushHookReservedConcurrency", "5"),
        ],
    );
    let mut turned_on = reserved(&raised);
    turned_on.sort_by_key(|r| r.as_ref().map(Value::to_string));
    assert_eq!(
        turned_on,
        vec![Some(Value::from("10")), Some(Value::from("5"))]
    );
}

/// The parameters' names in the order SAM CLI's guided deploy prompts them: its own reading of the template
/// (`get_template_parameters`, whose order `prompt_parameters` walks), not the console's groups.
fn guided_prompt_order() -> Vec<String> {
    let order = json_printed_by(
        Command::new(root().join(".venv-sam/bin/python"))
            .arg("-c")
            .arg(
                "import json, sys\n\
                 from samcli.commands._utils.template import get_template_parameters\n\
                 print(json.dumps(list(get_template_parameters(sys.argv[1]))))",
            )
            .arg(root().join("template.yaml")),
        "the SAM CLI's python (scripts/bootstrap creates .venv-sam)",
    );
    serde_json::from_value(order).unwrap()
}

/// The console shows `AWS::CloudFormation::Interface`'s groups; `sam deploy --guided` ignores them and asks in
/// the declared order. Both must be the same order, each parameter in one group with a label, GitLab first.
#[test]
fn guided_deploy_asks_the_parameters_in_their_groups_gitlab_first() {
    let cloudformation = expand(&root().join("template.yaml"));
    let interface = &cloudformation["Metadata"]["AWS::CloudFormation::Interface"];
    let grouped: Vec<String> = interface["ParameterGroups"]
        .as_array()
        .expect("ParameterGroups")
        .iter()
        .flat_map(|group| {
            assert!(group["Label"]["default"].is_string(), "{group}");
            group["Parameters"].as_array().unwrap().iter()
        })
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    let prompted = guided_prompt_order();
    assert_eq!(prompted, grouped, "the guided order is the groups' order");
    let mut declared: Vec<&String> = cloudformation["Parameters"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    declared.sort();
    let mut sorted: Vec<&String> = grouped.iter().collect();
    sorted.sort();
    assert_eq!(sorted, declared, "every parameter in exactly one group");
    for parameter in &grouped {
        assert!(
            interface["ParameterLabels"][parameter]["default"].is_string(),
            "{parameter} has no label"
        );
        assert!(
            cloudformation["Parameters"][parameter]["Description"].is_string(),
            "{parameter} has no description"
        );
    }
    assert_eq!(
        grouped[..2],
        ["DefaultGitLabBaseUrl", "ScheduleExpression"],
        "the questions that matter come first"
    );
}

/// The key policy statements `docs/security.md` gives for a key of your own grant each role what the template grants
/// it on a chosen key (`SecretsKeyReadPolicy`, `SecretsKeyWritePolicy`), no more and no less, through Secrets
/// Manager only. The page names the roles by their outputs: `PUSH_HOOK_ROLE_ARN` is the output `PushHookRoleArn`.
#[test]
fn the_documented_key_policy_grants_the_roles_what_the_template_grants_them() {
    let cloudformation = expand(&root().join("template.yaml"));
    let mut granted: BTreeSet<(String, String)> = BTreeSet::new();
    for resource in cloudformation["Resources"].as_object().unwrap().values() {
        if resource["Type"] != "AWS::IAM::Policy" || resource["Condition"] != "UseSecretsKey" {
            continue;
        }
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
        {
            for role in resource["Properties"]["Roles"].as_array().unwrap() {
                let role = role["Ref"].as_str().unwrap().to_owned();
                granted.insert((role, statement["Action"].as_str().unwrap().to_owned()));
            }
        }
    }
    let placeholders: BTreeMap<String, String> = cloudformation["Outputs"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(output, declared)| {
            let role = declared["Value"]["Fn::GetAtt"][0].as_str()?;
            let mut placeholder = String::new();
            for c in output.strip_suffix("Arn")?.chars() {
                if c.is_ascii_uppercase() && !placeholder.is_empty() {
                    placeholder.push('_');
                }
                placeholder.push(c.to_ascii_uppercase());
            }
            Some((format!("{placeholder}_ARN"), role.to_owned()))
        })
        .collect();

    let security = std::fs::read_to_string(root().join("docs/security.md")).unwrap();
    let section = security
        .split("## The secrets' KMS key")
        .nth(1)
        .expect("the security page's KMS key section");
    let example = section
        .split("```json\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("its key policy example");
    let statements: Vec<Value> = serde_json::from_str(example).expect("the example is JSON");
    let mut documented: BTreeSet<(String, String)> = BTreeSet::new();
    for statement in &statements {
        assert_eq!(
            statement["Condition"]["StringEquals"]["kms:ViaService"],
            "secretsmanager.REGION.amazonaws.com",
            "{statement}"
        );
        let principals = match &statement["Principal"]["AWS"] {
            Value::Array(list) => list.clone(),
            one => vec![one.clone()],
        };
        for principal in principals {
            let principal = principal.as_str().unwrap();
            let role = placeholders
                .get(principal)
                .unwrap_or_else(|| panic!("{principal} is no role output: {placeholders:?}"));
            documented.insert((
                role.clone(),
                statement["Action"].as_str().unwrap().to_owned(),
            ));
        }
    }
    assert_eq!(documented, granted);
    assert!(
        granted.contains(&("PushHookFunctionRole".to_owned(), "kms:Decrypt".to_owned())),
        "{granted:?}"
    );
}
