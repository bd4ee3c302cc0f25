//! Where the functions run, decided by the template's network parameters on SAM's own expansion: no VPC by
//! default; your subnets (with endpoints if asked); or a network the stack creates whose NAT gateways give fixed
//! egress addresses. The expansion keeps `Fn::If`, so the conditions and Rules are evaluated for each parameter
//! set by the test kit's [`Deployment`], each resource named as CloudFormation names it.

use serde_json::{Value, json};
use testkit::lambda_environment::{Deployment, StandInResource, generated_resources};

use crate::template::{expand, root};

/// The stack `stack_name` deployed with `given` parameter values (the others take their defaults), each resource
/// named as CloudFormation names it (`stack_deploy` shares it).
pub(crate) fn deployment(
    cloudformation: &Value,
    stack_name: &str,
    given: &[(&str, &str)],
) -> Deployment {
    let resources = generated_resources(cloudformation, stack_name);
    Deployment::new(
        cloudformation.clone(),
        stack_name,
        "eu-west-1",
        "123456789012",
        given,
        resources,
    )
    .unwrap()
}

/// The stack's name as the README deploys it.
const STACK: &str = "gitlab-importer";

fn default_stack(cloudformation: &Value, given: &[(&str, &str)]) -> Deployment {
    deployment(cloudformation, STACK, given)
}

/// What `Ref` gives for the stack's resource `logical_id`.
fn physical_id(logical_id: &str) -> String {
    StandInResource::generated(STACK, logical_id).reference
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
            let vpc_config = &function["Properties"]["VpcConfig"];
            deployment.resolve_value(vpc_config, f).unwrap()
        })
        .collect()
}

fn created_of_type(cloudformation: &Value, deployment: &Deployment, kind: &str) -> Vec<String> {
    cloudformation["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind && deployment.exists(r).unwrap())
        .map(|(name, _)| name.clone())
        .collect()
}

#[test]
fn without_network_parameters_no_function_runs_in_a_vpc_and_no_network_is_made() {
    let cloudformation = expand(&root().join("template.yaml"));
    let deployment = default_stack(&cloudformation, &[]);
    assert_eq!(
        vpc_configs(&cloudformation, &deployment),
        vec![None; FUNCTIONS.len()]
    );
    for resource in cloudformation["Resources"].as_object().unwrap().values() {
        let kind = resource["Type"].as_str().unwrap();
        assert!(
            !kind.starts_with("AWS::EC2::") || !deployment.exists(resource).unwrap(),
            "{kind} is created without network parameters"
        );
    }
    assert!(
        !deployment
            .exists(&cloudformation["Outputs"]["EgressIpAddresses"])
            .unwrap()
    );
    assert_eq!(deployment.broken_rules().unwrap(), Vec::<String>::new());
}

#[test]
fn with_your_subnets_every_function_runs_in_them_and_endpoints_come_when_asked() {
    let cloudformation = expand(&root().join("template.yaml"));
    let own = [
        ("VpcSubnetIds", "subnet-a,subnet-b"),
        ("VpcSecurityGroupIds", "sg-1"),
    ];
    let deployment = default_stack(&cloudformation, &own);
    let expected = json!({"SubnetIds": ["subnet-a", "subnet-b"], "SecurityGroupIds": ["sg-1"]});
    assert_eq!(
        vpc_configs(&cloudformation, &deployment),
        vec![Some(expected); FUNCTIONS.len()]
    );
    assert_eq!(
        created_of_type(&cloudformation, &deployment, "AWS::EC2::VPCEndpoint"),
        Vec::<String>::new()
    );
    assert_eq!(deployment.broken_rules().unwrap(), Vec::<String>::new());

    let with_endpoints = default_stack(
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
    assert_eq!(with_endpoints.broken_rules().unwrap(), Vec::<String>::new());

    // Endpoints without their VPC, and subnets without security groups, are refused before anything is made.
    let incomplete = default_stack(&cloudformation, &[own[0], ("CreateVpcEndpoints", "true")]);
    assert_eq!(
        incomplete.broken_rules().unwrap(),
        ["EndpointsNeedTheirVpc", "SubnetsNeedSecurityGroups"]
    );
}

#[test]
fn the_egress_network_puts_every_function_behind_two_nat_addresses_and_outputs_them() {
    let cloudformation = expand(&root().join("template.yaml"));
    let deployment = default_stack(&cloudformation, &[("CreateEgressNetwork", "true")]);
    let expected = json!({
        "SubnetIds": [physical_id("EgressPrivateSubnetA"), physical_id("EgressPrivateSubnetB")],
        "SecurityGroupIds": [physical_id("EgressFunctionSecurityGroup")],
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
    assert!(deployment.exists(output).unwrap());
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
    assert_eq!(deployment.broken_rules().unwrap(), Vec::<String>::new());
    let both = default_stack(
        &cloudformation,
        &[
            ("CreateEgressNetwork", "true"),
            ("VpcSubnetIds", "subnet-a"),
            ("VpcSecurityGroupIds", "sg-1"),
        ],
    );
    assert_eq!(both.broken_rules().unwrap(), ["OneNetworkPlacement"]);
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
