//! Where the functions run, decided by the template's network parameters on SAM's own expansion: no VPC by
//! default; your subnets (with endpoints if asked); or a network the stack creates whose NAT gateways give fixed
//! egress addresses. The expansion keeps `Fn::If`, so the conditions are evaluated here for each parameter set,
//! with the few intrinsics the template uses (`Deployment`, which `stack_names` shares).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::template::{expand, root};

/// Parameter values of one deployment of a stack; unnamed parameters take their defaults.
pub(crate) struct Deployment {
    stack_name: String,
    parameters: BTreeMap<String, Value>,
    conditions: BTreeMap<String, bool>,
}

impl Deployment {
    fn new(cloudformation: &Value, given: &[(&str, &str)]) -> Self {
        Self::of_stack(cloudformation, "gitlab-importer", given)
    }

    /// A deployment as the stack `stack_name`. Parameter values are strings, as `Ref` gives them (numbers too).
    pub(crate) fn of_stack(
        cloudformation: &Value,
        stack_name: &str,
        given: &[(&str, &str)],
    ) -> Self {
        let mut parameters = BTreeMap::new();
        for (name, declared) in cloudformation["Parameters"].as_object().unwrap() {
            let text = given
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| (*v).to_owned())
                .or_else(|| match &declared["Default"] {
                    Value::String(text) => Some(text.clone()),
                    Value::Number(number) => Some(number.to_string()),
                    _ => None,
                })
                .unwrap_or_default();
            let value = if declared["Type"] == "CommaDelimitedList" {
                json!(text.split(',').collect::<Vec<_>>())
            } else {
                json!(text)
            };
            parameters.insert(name.clone(), value);
        }
        let mut deployment = Deployment {
            stack_name: stack_name.to_owned(),
            parameters,
            conditions: BTreeMap::new(),
        };
        // Conditions may name earlier ones: evaluate until every one is known (bounded by their number).
        let declared = cloudformation["Conditions"].as_object().unwrap();
        for _ in 0..declared.len() {
            for (name, expression) in declared {
                if let Some(value) = deployment.try_condition(expression) {
                    deployment.conditions.insert(name.clone(), value);
                }
            }
        }
        assert_eq!(deployment.conditions.len(), declared.len(), "conditions");
        deployment
    }

    /// What `expression` evaluates to in this deployment, as CloudFormation would: a resource's `Ref` is a
    /// physical id made of the stack name, the logical id and a suffix, as CloudFormation generates them.
    pub(crate) fn value(&self, expression: &Value) -> Value {
        if let Some(name) = expression["Ref"].as_str() {
            return (self.parameters.get(name).cloned())
                .unwrap_or_else(|| json!(self.reference(name)));
        }
        let function = |name: &str| expression[name].as_array().map(Vec::as_slice);
        if let Some([separator, list]) = function("Fn::Join") {
            let parts: Vec<String> = self
                .value(list)
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_owned())
                .collect();
            return json!(parts.join(separator.as_str().unwrap()));
        }
        if let Some([separator, source]) = function("Fn::Split") {
            let text = self.value(source);
            return json!(
                text.as_str()
                    .unwrap()
                    .split(separator.as_str().unwrap())
                    .collect::<Vec<_>>()
            );
        }
        if let Some([condition, then, otherwise]) = function("Fn::If") {
            let chosen = if self.conditions[condition.as_str().unwrap()] {
                then
            } else {
                otherwise
            };
            return self.value(chosen);
        }
        if let Some(text) = expression["Fn::Sub"].as_str() {
            return json!(self.substitute(text, &BTreeMap::new()));
        }
        if let Some([text, variables]) = function("Fn::Sub") {
            let variables = variables
                .as_object()
                .unwrap()
                .iter()
                .map(|(name, v)| (name.as_str(), self.value(v).as_str().unwrap().to_owned()))
                .collect();
            return json!(self.substitute(text.as_str().unwrap(), &variables));
        }
        match expression {
            Value::Array(items) => Value::Array(items.iter().map(|v| self.value(v)).collect()),
            Value::Number(number) => json!(number.to_string()),
            other => other.clone(),
        }
    }

    fn reference(&self, name: &str) -> String {
        match name {
            "AWS::StackName" => self.stack_name.clone(),
            "AWS::Region" => "eu-west-1".to_owned(),
            "AWS::AccountId" => "123456789012".to_owned(),
            "AWS::Partition" => "aws".to_owned(),
            "AWS::URLSuffix" => "amazonaws.com".to_owned(),
            parameter if self.parameters.contains_key(parameter) => self.parameters[parameter]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            resource => format!("{}-{resource}-1A2B3C4D5E6F", self.stack_name),
        }
    }

    /// `Fn::Sub`'s text with its `${name}` and `${resource.attribute}` filled in (`${!text}` stays `${text}`).
    fn substitute(&self, text: &str, variables: &BTreeMap<&str, String>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = start + rest[start..].find('}').expect("a closed ${...}");
            let name = &rest[start + 2..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(value) = variables.get(name) {
                out.push_str(value);
            } else if let Some((resource, attribute)) = name.split_once('.') {
                out.push_str(&format!("{}.{attribute}", self.reference(resource)));
            } else {
                out.push_str(&self.reference(name));
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn try_condition(&self, expression: &Value) -> Option<bool> {
        if let Some(name) = expression["Condition"].as_str() {
            return self.conditions.get(name).copied();
        }
        let (function, arguments) = expression.as_object()?.iter().next()?;
        let arguments = arguments.as_array()?;
        match function.as_str() {
            "Fn::Equals" => Some(self.value(&arguments[0]) == self.value(&arguments[1])),
            // Rules only: every member of a list parameter equals the string.
            "Fn::EachMemberEquals" => Some(
                self.value(&arguments[0])
                    .as_array()?
                    .iter()
                    .all(|member| *member == arguments[1]),
            ),
            "Fn::Not" => self.try_condition(&arguments[0]).map(|v| !v),
            "Fn::And" => arguments
                .iter()
                .map(|a| self.try_condition(a))
                .collect::<Option<Vec<_>>>()
                .map(|v| v.iter().all(|b| *b)),
            "Fn::Or" => arguments
                .iter()
                .map(|a| self.try_condition(a))
                .collect::<Option<Vec<_>>>()
                .map(|v| v.iter().any(|b| *b)),
            other => panic!("unexpected condition function {other}"),
        }
    }

    /// `value` with every `Fn::If` decided and parameters filled in; `None` where it is `AWS::NoValue`.
    pub(crate) fn resolve(&self, value: &Value) -> Option<Value> {
        if value["Ref"] == "AWS::NoValue" {
            return None;
        }
        if let Some(parameter) = value["Ref"]
            .as_str()
            .and_then(|name| self.parameters.get(name))
        {
            return Some(parameter.clone());
        }
        if let Some([condition, then, otherwise]) = value["Fn::If"].as_array().map(Vec::as_slice) {
            let chosen = if self.conditions[condition.as_str().unwrap()] {
                then
            } else {
                otherwise
            };
            return self.resolve(chosen);
        }
        match value {
            Value::Object(map) => Some(Value::Object(
                map.iter()
                    .filter_map(|(k, v)| Some((k.clone(), self.resolve(v)?)))
                    .collect(),
            )),
            Value::Array(items) => Some(Value::Array(
                items.iter().filter_map(|v| self.resolve(v)).collect(),
            )),
            other => Some(other.clone()),
        }
    }

    fn created(&self, resource: &Value) -> bool {
        resource["Condition"]
            .as_str()
            .is_none_or(|c| self.conditions[c])
    }

    /// The names of the rules whose assertions fail (CloudFormation refuses the deployment then).
    fn broken_rules(&self, cloudformation: &Value) -> Vec<String> {
        let mut broken = Vec::new();
        for (name, rule) in cloudformation["Rules"].as_object().unwrap() {
            let applies = rule
                .get("RuleCondition")
                .is_none_or(|c| self.try_condition(c).unwrap());
            let holds = rule["Assertions"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| self.try_condition(&a["Assert"]).unwrap());
            if applies && !holds {
                broken.push(name.clone());
            }
        }
        broken
    }
}

const FUNCTIONS: [&str; 5] = [
    "CredentialsApiFunction",
    "SchedulerFunction",
    "SyncWorkerFunction",
    "PushHookFunction",
    "ExporterFunction",
];

fn vpc_configs(cloudformation: &Value, deployment: &Deployment) -> Vec<Option<Value>> {
    FUNCTIONS
        .iter()
        .map(|f| {
            let function = &cloudformation["Resources"][f];
            assert_eq!(function["Type"], "AWS::Lambda::Function", "{f}");
            deployment.resolve(&function["Properties"]["VpcConfig"])
        })
        .collect()
}

fn created_of_type(cloudformation: &Value, deployment: &Deployment, kind: &str) -> Vec<String> {
    cloudformation["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind && deployment.created(r))
        .map(|(name, _)| name.clone())
        .collect()
}

#[test]
fn without_network_parameters_no_function_runs_in_a_vpc_and_no_network_is_made() {
    let cloudformation = expand(&root().join("template.yaml"));
    let deployment = Deployment::new(&cloudformation, &[]);
    assert_eq!(
        vpc_configs(&cloudformation, &deployment),
        vec![None; FUNCTIONS.len()]
    );
    for resource in cloudformation["Resources"].as_object().unwrap().values() {
        let kind = resource["Type"].as_str().unwrap();
        assert!(
            !kind.starts_with("AWS::EC2::") || !deployment.created(resource),
            "{kind} is created without network parameters"
        );
    }
    assert!(!deployment.created(&cloudformation["Outputs"]["EgressIpAddresses"]));
    assert_eq!(
        deployment.broken_rules(&cloudformation),
        Vec::<String>::new()
    );
}

#[test]
fn with_your_subnets_every_function_runs_in_them_and_endpoints_come_when_asked() {
    let cloudformation = expand(&root().join("template.yaml"));
    let own = [
        ("VpcSubnetIds", "subnet-a,subnet-b"),
        ("VpcSecurityGroupIds", "sg-1"),
    ];
    let deployment = Deployment::new(&cloudformation, &own);
    let expected = json!({"SubnetIds": ["subnet-a", "subnet-b"], "SecurityGroupIds": ["sg-1"]});
    assert_eq!(
        vpc_configs(&cloudformation, &deployment),
        vec![Some(expected); FUNCTIONS.len()]
    );
    assert_eq!(
        created_of_type(&cloudformation, &deployment, "AWS::EC2::VPCEndpoint"),
        Vec::<String>::new()
    );
    assert_eq!(
        deployment.broken_rules(&cloudformation),
        Vec::<String>::new()
    );

    let with_endpoints = Deployment::new(
        &cloudformation,
        &[
            own[0],
            own[1],
            ("CreateVpcEndpoints", "true"),
            ("VpcId", "vpc-1"),
            ("VpcRouteTableIds", "rtb-1"),
        ],
    );
    let mut services: Vec<String> =
        created_of_type(&cloudformation, &with_endpoints, "AWS::EC2::VPCEndpoint")
            .iter()
            .map(|name| {
                let service =
                    &cloudformation["Resources"][name]["Properties"]["ServiceName"]["Fn::Sub"];
                service
                    .as_str()
                    .unwrap()
                    .rsplit('.')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect();
    services.sort();
    assert_eq!(
        services,
        ["dynamodb", "s3", "secretsmanager", "sqs", "xray"]
    );
    assert_eq!(
        with_endpoints.broken_rules(&cloudformation),
        Vec::<String>::new()
    );

    // Endpoints without their VPC, and subnets without security groups, are refused before anything is made.
    let incomplete = Deployment::new(&cloudformation, &[own[0], ("CreateVpcEndpoints", "true")]);
    assert_eq!(
        incomplete.broken_rules(&cloudformation),
        ["EndpointsNeedTheirVpc", "SubnetsNeedSecurityGroups"]
    );
}

#[test]
fn the_egress_network_puts_every_function_behind_two_nat_addresses_and_outputs_them() {
    let cloudformation = expand(&root().join("template.yaml"));
    let deployment = Deployment::new(&cloudformation, &[("CreateEgressNetwork", "true")]);
    let expected = json!({
        "SubnetIds": [{"Ref": "EgressPrivateSubnetA"}, {"Ref": "EgressPrivateSubnetB"}],
        "SecurityGroupIds": [{"Ref": "EgressFunctionSecurityGroup"}],
    });
    assert_eq!(
        vpc_configs(&cloudformation, &deployment),
        vec![Some(expected); FUNCTIONS.len()]
    );
    let resources = &cloudformation["Resources"];
    let nat_gateways = created_of_type(&cloudformation, &deployment, "AWS::EC2::NatGateway");
    assert_eq!(nat_gateways.len(), 2);
    // Each private subnet's default route leaves through a NAT gateway, whose address the output lists.
    let output = &cloudformation["Outputs"]["EgressIpAddresses"];
    assert!(deployment.created(output));
    let listed = output["Value"]["Fn::Join"][1].as_array().unwrap();
    for nat in &nat_gateways {
        let address = resources[nat]["Properties"]["AllocationId"]["Fn::GetAtt"][0]
            .as_str()
            .unwrap();
        assert!(
            listed.contains(&json!({"Ref": address})),
            "{address} is not in the output"
        );
    }
    for subnet in ["EgressPrivateSubnetA", "EgressPrivateSubnetB"] {
        let association = created_of_type(
            &cloudformation,
            &deployment,
            "AWS::EC2::SubnetRouteTableAssociation",
        )
        .into_iter()
        .find(|a| resources[a]["Properties"]["SubnetId"]["Ref"] == subnet)
        .unwrap_or_else(|| panic!("{subnet} has no route table"));
        let table = &resources[&association]["Properties"]["RouteTableId"];
        let default_route = created_of_type(&cloudformation, &deployment, "AWS::EC2::Route")
            .into_iter()
            .find(|r| resources[r]["Properties"]["RouteTableId"] == *table)
            .unwrap();
        let via = resources[&default_route]["Properties"]["NatGatewayId"]["Ref"]
            .as_str()
            .unwrap();
        assert!(
            nat_gateways.iter().any(|n| n == via),
            "{subnet} leaves through {via}"
        );
    }
    assert_eq!(
        deployment.broken_rules(&cloudformation),
        Vec::<String>::new()
    );
    let both = Deployment::new(
        &cloudformation,
        &[
            ("CreateEgressNetwork", "true"),
            ("VpcSubnetIds", "subnet-a"),
            ("VpcSecurityGroupIds", "sg-1"),
        ],
    );
    assert_eq!(both.broken_rules(&cloudformation), ["OneNetworkPlacement"]);
}

#[test]
fn the_private_networks_setting_reaches_every_function() {
    let cloudformation = expand(&root().join("template.yaml"));
    for function in FUNCTIONS {
        let variables =
            &cloudformation["Resources"][function]["Properties"]["Environment"]["Variables"];
        assert_eq!(
            variables["GITLAB_PRIVATE_NETWORKS"],
            json!({"Ref": "GitLabPrivateNetworks"}),
            "{function}"
        );
        assert!(
            variables.get("GITLAB_ALLOW_PRIVATE_NETWORK").is_none(),
            "the local-run allowance is off in AWS"
        );
    }
}
