//! The resolver against small templates: each intrinsic, conditions, parameters, and what it refuses.

use super::*;

fn deployment(template: Value, overrides: &[(&str, &str)]) -> Result<Deployment, ResolveError> {
    let resources = BTreeMap::from([
        (
            "Queue".to_owned(),
            StandInResource::new("http://q/url", &[("Arn", "arn:aws:sqs:us-east-1:1:q")]),
        ),
        (
            "Fn".to_owned(),
            StandInResource::new(
                "stack-Fn-X",
                &[("Arn", "arn:aws:lambda:us-east-1:1:function:stack-Fn-X")],
            ),
        ),
    ]);
    Deployment::new(
        template,
        "stack",
        "us-east-1",
        "123456789012",
        overrides,
        resources,
    )
}

fn template(variables: &Value) -> Value {
    json!({
        "Parameters": {
            "Name": {"Type": "String", "Default": "n"},
            "Size": {"Type": "Number", "Default": 5, "MinValue": 1, "MaxValue": 9},
            "Nets": {"Type": "CommaDelimitedList", "Default": ""},
        },
        "Conditions": {
            "Big": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Size"}, 5]}]},
            "BigOrNamed": {"Fn::Or": [{"Condition": "Big"}, {"Fn::Equals": [{"Ref": "Name"}, "x"]}]},
        },
        "Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
                "MemorySize": 256,
                "Environment": {"Variables": variables.clone()},
            }},
            "Other": {"Type": "AWS::Glue::Database", "Properties": {}},
        },
    })
}

fn variables(deployment: &Deployment) -> BTreeMap<String, String> {
    deployment.functions().unwrap()["Fn"].variables.clone()
}

#[test]
fn resolves_the_intrinsics_a_template_uses() {
    let vars = json!({
        "QUEUE": {"Ref": "Queue"},
        "ARN": {"Fn::GetAtt": ["Queue", "Arn"]},
        "PREFIX": {"Fn::Sub": "app/${AWS::StackName}/${AWS::Region}/${AWS::AccountId}/${Name}/${!Kept}"},
        "SUB_VARS": {"Fn::Sub": ["${Q}-${Queue.Arn}", {"Q": {"Ref": "Queue"}}]},
        "JOINED": {"Fn::Join": [",", {"Ref": "Nets"}]},
        "IF": {"Fn::If": ["BigOrNamed", "big", {"Ref": "Name"}]},
        "GONE": {"Fn::If": ["Big", "x", {"Ref": "AWS::NoValue"}]},
        "NUMBER": {"Ref": "Size"},
        "LITERAL": 7,
    });
    let resolved = variables(&deployment(template(&vars), &[]).unwrap());
    assert_eq!(resolved["QUEUE"], "http://q/url");
    assert_eq!(resolved["ARN"], "arn:aws:sqs:us-east-1:1:q");
    assert_eq!(
        resolved["PREFIX"],
        "app/stack/us-east-1/123456789012/n/${Kept}"
    );
    assert_eq!(
        resolved["SUB_VARS"],
        "http://q/url-arn:aws:sqs:us-east-1:1:q"
    );
    assert_eq!(resolved["JOINED"], "");
    assert_eq!(resolved["IF"], "n");
    assert!(!resolved.contains_key("GONE"));
    assert_eq!(resolved["NUMBER"], "5");
    assert_eq!(resolved["LITERAL"], "7");
    let overridden =
        variables(&deployment(template(&vars), &[("Size", "7"), ("Nets", "a, b")]).unwrap());
    assert_eq!(overridden["IF"], "big");
    assert_eq!(overridden["GONE"], "x");
    assert_eq!(overridden["JOINED"], "a,b");
}

#[test]
fn what_it_does_not_understand_is_an_error() {
    let functions_error = |variables: Value| {
        deployment(template(&variables), &[])
            .unwrap()
            .functions()
            .unwrap_err()
            .to_string()
    };
    let deployment_error = |parameters: &[(&str, &str)]| {
        deployment(template(&json!({})), parameters)
            .unwrap_err()
            .to_string()
    };
    for (error, expected) in [
        (
            functions_error(json!({"X": {"Fn::ImportValue": "shared-thing"}})),
            "Fn::ImportValue is not understood",
        ),
        (
            functions_error(json!({"X": {"Ref": "Other"}})),
            "no counterpart of Other (AWS::Glue::Database)",
        ),
        (deployment_error(&[("Nope", "1")]), "Nope"),
        (deployment_error(&[("Size", "10")]), "MinValue..MaxValue"),
    ] {
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn lambda_adds_its_own_variables_and_the_log_level_only_with_json_logs() {
    let mut spec = deployment(template(&json!({"A": "1"})), &[])
        .unwrap()
        .functions()
        .unwrap()["Fn"]
        .clone();
    spec.log_format = Some("JSON".into());
    spec.application_log_level = Some("WARN".into());
    let environment =
        spec.lambda_environment("eu-west-1", "http://127.0.0.1:1", Path::new("/task"));
    assert_eq!(environment["A"], "1");
    assert_eq!(environment["AWS_LAMBDA_FUNCTION_NAME"], "stack-Fn-X");
    assert_eq!(environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(environment["AWS_REGION"], "eu-west-1");
    assert_eq!(environment["AWS_LAMBDA_LOG_LEVEL"], "WARN");
    spec.log_format = Some("Text".into());
    let text = spec.lambda_environment("eu-west-1", "http://127.0.0.1:1", Path::new("/task"));
    assert!(!text.contains_key("AWS_LAMBDA_LOG_LEVEL"));
}

#[test]
fn rules_refuse_parameters_and_generated_ids_name_every_resource_after_the_stack() {
    let mut rules = template(&json!({}));
    rules["Rules"] = json!({
        "NetsNeedAName": {
            "RuleCondition": {"Fn::Not": [{"Fn::EachMemberEquals": [{"Ref": "Nets"}, ""]}]},
            "Assertions": [{"Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Name"}, ""]}]}}],
        },
    });
    let broken = |overrides: &[(&str, &str)]| {
        let resources = generated_resources(&rules, "stack");
        let deployment = Deployment::new(rules.clone(), "stack", "r", "1", overrides, resources);
        deployment.unwrap().broken_rules().unwrap()
    };
    assert_eq!(broken(&[]), Vec::<String>::new());
    assert_eq!(
        broken(&[("Nets", "a,b"), ("Name", "x")]),
        Vec::<String>::new()
    );
    assert_eq!(broken(&[("Nets", "a,b"), ("Name", "")]), ["NetsNeedAName"]);

    let resources = generated_resources(&rules, "stack");
    let names: Vec<&str> = resources.values().map(|r| r.reference.as_str()).collect();
    assert_eq!(names, ["stack-Fn-1A2B3C4D5E6F", "stack-Other-1A2B3C4D5E6F"]);
}
