//! The environment each function of `template.yaml` gets when deployed, resolved the way CloudFormation would,
//! with the stand-in's resources in place of the stack's.
//!
//! It starts from what SAM deploys (`scripts/expand-template`: the CloudFormation JSON after SAM's transform,
//! Globals merged into each `AWS::Lambda::Function`), takes parameters as `sam deploy --parameter-overrides` gives
//! them (defaults, overrides, CloudFormation's checks of the allowed values), evaluates the template's
//! Conditions, and resolves the intrinsics in each function's `Environment.Variables`: `Ref`, `Fn::GetAtt`,
//! `Fn::Sub`, `Fn::Join`, `Fn::If`, `Fn::Select`, `Fn::Split`, `Fn::FindInMap`, the pseudo parameters and
//! `AWS::NoValue`. Anything else (another intrinsic, a resource the stand-in has no counterpart of) is an
//! error, so a template change this does not understand fails loudly instead of running half-configured.
//! [`FunctionSpec::lambda_environment`] adds what Lambda itself sets, and the stand-in's endpoint.
//!
//! Without a stand-in, [`generated_resources`] gives each resource the physical id CloudFormation would, and
//! [`Deployment::broken_rules`] tells which of the template's Rules refuse the parameters.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

/// Why the environment cannot be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("scripts/expand-template: {0}")]
    Expand(String),
    #[error("parameter {name}: {reason}")]
    Parameter { name: String, reason: String },
    #[error("{at}: {reason}")]
    Unresolvable { at: String, reason: String },
}

/// A resource of the stack as the stand-in provides it: what `Ref` gives and the attributes `Fn::GetAtt` reads.
#[derive(Debug, Clone)]
pub struct StandInResource {
    pub reference: String,
    pub attributes: BTreeMap<String, String>,
}

impl StandInResource {
    pub fn new(reference: &str, attributes: &[(&str, &str)]) -> Self {
        StandInResource {
            reference: reference.to_owned(),
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// The resource as CloudFormation creates it with nothing standing in: `Ref` gives the physical id it generates
    /// from the stack name and the logical id; no attributes.
    pub fn generated(stack_name: &str, logical_id: &str) -> Self {
        StandInResource::new(&format!("{stack_name}-{logical_id}-1A2B3C4D5E6F"), &[])
    }
}

/// [`StandInResource::generated`] for every resource of `template` (expanded), by logical id.
pub fn generated_resources(
    template: &Value,
    stack_name: &str,
) -> BTreeMap<String, StandInResource> {
    let resources = template["Resources"].as_object().into_iter().flatten();
    resources
        .map(|(id, _)| (id.clone(), StandInResource::generated(stack_name, id)))
        .collect()
}

/// The stack being "deployed": its name, where, its parameters and conditions, and the stand-in's resources.
#[derive(Debug)]
pub struct Deployment {
    template: Value,
    pub stack_name: String,
    pub region: String,
    pub account_id: String,
    parameters: BTreeMap<String, Value>,
    conditions: BTreeMap<String, bool>,
    resources: BTreeMap<String, StandInResource>,
}

/// One `AWS::Lambda::Function` of the deployed stack.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub logical_id: String,
    pub function_name: String,
    pub function_arn: String,
    /// `Environment.Variables`, resolved.
    pub variables: BTreeMap<String, String>,
    pub memory_mib: u64,
    pub timeout_seconds: u64,
    pub handler: String,
    pub architectures: Vec<String>,
    /// `LoggingConfig`: `LogFormat`, `ApplicationLogLevel`, `LogGroup`, resolved.
    pub log_format: Option<String>,
    pub application_log_level: Option<String>,
    pub log_group: Option<String>,
}

/// The CloudFormation JSON that SAM deploys for `template` (`scripts/expand-template`).
pub fn expand_template(template: &Path) -> Result<Value, ResolveError> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/expand-template");
    let out = std::process::Command::new(&script)
        .arg(template)
        .output()
        .map_err(|e| ResolveError::Expand(format!("{}: {e}", script.display())))?;
    if !out.status.success() {
        return Err(ResolveError::Expand(
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| ResolveError::Expand(e.to_string()))
}

/// `AWS::NoValue`: the property is left out.
const NO_VALUE: &str = "AWS::NoValue";

impl Deployment {
    /// The stack `stack_name` of `template` (expanded) in `region` of `account_id`, with `overrides` as
    /// `--parameter-overrides` gives them and `resources` standing in for the stack's.
    pub fn new(
        template: Value,
        stack_name: &str,
        region: &str,
        account_id: &str,
        overrides: &[(&str, &str)],
        resources: BTreeMap<String, StandInResource>,
    ) -> Result<Self, ResolveError> {
        let declared = template["Parameters"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if let Some((name, _)) = overrides.iter().find(|(n, _)| !declared.contains_key(*n)) {
            return Err(ResolveError::Parameter {
                name: (*name).to_owned(),
                reason: "overridden but not declared in the template".into(),
            });
        }
        let mut parameters = BTreeMap::new();
        for (name, declaration) in &declared {
            let given = overrides.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
            parameters.insert(name.clone(), parameter_value(name, declaration, given)?);
        }
        let mut deployment = Deployment {
            template,
            stack_name: stack_name.to_owned(),
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            parameters,
            conditions: BTreeMap::new(),
            resources,
        };
        let names: Vec<String> = deployment.template["Conditions"]
            .as_object()
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        for name in names {
            let value = deployment.condition(&name, 0)?;
            deployment.conditions.insert(name, value);
        }
        Ok(deployment)
    }

    /// Every `AWS::Lambda::Function` the stack creates (its Condition true), by logical id.
    pub fn functions(&self) -> Result<BTreeMap<String, FunctionSpec>, ResolveError> {
        let mut functions = BTreeMap::new();
        for (logical_id, resource) in self.template["Resources"].as_object().into_iter().flatten() {
            if resource["Type"] != "AWS::Lambda::Function" || !self.exists(resource)? {
                continue;
            }
            functions.insert(logical_id.clone(), self.function(logical_id, resource)?);
        }
        Ok(functions)
    }

    fn function(&self, logical_id: &str, resource: &Value) -> Result<FunctionSpec, ResolveError> {
        let at = |field: &str| format!("{logical_id}.Properties.{field}");
        let properties = &resource["Properties"];
        let text = |field: &str| -> Result<Option<String>, ResolveError> {
            self.resolve_value(&properties[field], &at(field))?
                .map(|v| scalar_text(&v, &at(field)))
                .transpose()
        };
        let stand_in = self.resources.get(logical_id).ok_or_else(|| {
            unresolvable(
                &at("FunctionName"),
                "the stand-in has no name and ARN for this function",
            )
        })?;
        let function_name = text("FunctionName")?.unwrap_or_else(|| stand_in.reference.clone());
        let mut variables = BTreeMap::new();
        let declared = properties["Environment"]["Variables"].as_object().cloned();
        for (name, value) in declared.into_iter().flatten() {
            let field = format!("Environment.Variables.{name}");
            if let Some(value) = self.resolve_value(&value, &at(&field))? {
                variables.insert(name, scalar_text(&value, &at(&field))?);
            }
        }
        let logging = |field: &str| -> Result<Option<String>, ResolveError> {
            let path = at(&format!("LoggingConfig.{field}"));
            self.resolve_value(&properties["LoggingConfig"][field], &path)?
                .map(|v| scalar_text(&v, &path))
                .transpose()
        };
        let number = |field: &str, default: u64| -> Result<u64, ResolveError> {
            match text(field)? {
                None => Ok(default),
                Some(n) => n
                    .parse()
                    .map_err(|_| unresolvable(&at(field), &format!("{n:?} is no number"))),
            }
        };
        let architectures =
            match self.resolve_value(&properties["Architectures"], &at("Architectures"))? {
                Some(Value::Array(list)) => list
                    .iter()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect(),
                _ => vec!["x86_64".to_owned()],
            };
        Ok(FunctionSpec {
            logical_id: logical_id.to_owned(),
            function_arn: stand_in.attributes.get("Arn").cloned().unwrap_or_default(),
            function_name,
            variables,
            // Lambda's defaults.
            memory_mib: number("MemorySize", 128)?,
            timeout_seconds: number("Timeout", 3)?,
            handler: text("Handler")?.unwrap_or_default(),
            architectures,
            log_format: logging("LogFormat")?,
            application_log_level: logging("ApplicationLogLevel")?,
            log_group: logging("LogGroup")?,
        })
    }

    /// Whether a resource (or an output) is created: no Condition, or a true one.
    pub fn exists(&self, resource: &Value) -> Result<bool, ResolveError> {
        match resource["Condition"].as_str() {
            None => Ok(true),
            Some(name) => self.conditions.get(name).copied().ok_or_else(|| {
                unresolvable(&format!("Condition {name}"), "not declared in Conditions")
            }),
        }
    }

    /// The names of the template's Rules whose assertions fail: CloudFormation refuses the deployment then.
    pub fn broken_rules(&self) -> Result<Vec<String>, ResolveError> {
        let mut broken = Vec::new();
        for (name, rule) in self.template["Rules"].as_object().into_iter().flatten() {
            let at = format!("Rules.{name}");
            let applies = match rule.get("RuleCondition") {
                None => true,
                Some(condition) => self.truth(condition, &at, 0)?,
            };
            let assertions = rule["Assertions"]
                .as_array()
                .ok_or_else(|| unresolvable(&at, "a rule takes a list of Assertions"))?;
            let mut holds = true;
            for assertion in assertions {
                holds &= self.truth(&assertion["Assert"], &at, 0)?;
            }
            if applies && !holds {
                broken.push(name.clone());
            }
        }
        Ok(broken)
    }

    /// A condition's value (conditions may name earlier ones; `depth` stops a cycle).
    fn condition(&self, name: &str, depth: usize) -> Result<bool, ResolveError> {
        if let Some(value) = self.conditions.get(name) {
            return Ok(*value);
        }
        let at = format!("Conditions.{name}");
        if depth > 32 {
            return Err(unresolvable(
                &at,
                "conditions refer to each other in a cycle",
            ));
        }
        let expression = self.template["Conditions"]
            .get(name)
            .ok_or_else(|| unresolvable(&at, "not declared"))?;
        self.truth(expression, &at, depth)
    }

    fn truth(&self, expression: &Value, at: &str, depth: usize) -> Result<bool, ResolveError> {
        let (function, arguments) = single_key(expression).ok_or_else(|| {
            unresolvable(at, &format!("{expression} is not a condition function"))
        })?;
        let list = || {
            arguments
                .as_array()
                .ok_or_else(|| unresolvable(at, &format!("{function} takes a list")))
        };
        match function {
            "Condition" => {
                let name = arguments
                    .as_str()
                    .ok_or_else(|| unresolvable(at, "Condition takes a name"))?;
                self.condition(name, depth + 1)
            }
            "Fn::Equals" => match list()?.as_slice() {
                // CloudFormation compares the text: `!Equals [!Ref ANumber, 0]` holds for the parameter "0".
                [a, b] => {
                    let (a, b) = (self.resolve_value(a, at)?, self.resolve_value(b, at)?);
                    let text = |v: &Option<Value>| v.as_ref().and_then(|v| scalar_text(v, at).ok());
                    Ok(match (text(&a), text(&b)) {
                        (Some(a), Some(b)) => a == b,
                        _ => a == b,
                    })
                }
                _ => Err(unresolvable(at, "Fn::Equals takes two values")),
            },
            // A rule function (Rules only): every member of the list equals the text.
            "Fn::EachMemberEquals" => match list()?.as_slice() {
                [members, expected] => {
                    let expected = scalar_text(expected, at)?;
                    let members = self.resolve_value(members, at)?.unwrap_or(Value::Null);
                    let members = members
                        .as_array()
                        .ok_or_else(|| unresolvable(at, "Fn::EachMemberEquals takes a list"))?;
                    members.iter().try_fold(true, |all, member| {
                        Ok(all & (scalar_text(member, at)? == expected))
                    })
                }
                _ => Err(unresolvable(at, "Fn::EachMemberEquals takes [list, value]")),
            },
            "Fn::Not" => match list()?.as_slice() {
                [a] => Ok(!self.truth(a, at, depth + 1)?),
                _ => Err(unresolvable(at, "Fn::Not takes one condition")),
            },
            "Fn::And" => list()?
                .iter()
                .try_fold(true, |all, c| Ok(all & self.truth(c, at, depth + 1)?)),
            "Fn::Or" => list()?
                .iter()
                .try_fold(false, |any, c| Ok(any | self.truth(c, at, depth + 1)?)),
            other => Err(unresolvable(
                at,
                &format!("unknown condition function {other}"),
            )),
        }
    }

    /// Resolves every intrinsic in `value`; `None` for `AWS::NoValue` and an absent property.
    pub fn resolve_value(&self, value: &Value, at: &str) -> Result<Option<Value>, ResolveError> {
        match value {
            // An absent property.
            Value::Null => Ok(None),
            Value::Array(items) => {
                let mut resolved = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    resolved.extend(self.resolve_value(item, &format!("{at}[{i}]"))?);
                }
                Ok(Some(Value::Array(resolved)))
            }
            Value::Object(map) => match single_key(value) {
                Some((function, arguments)) if is_intrinsic(function) => {
                    self.intrinsic(function, arguments, &format!("{at}.{function}"))
                }
                _ => {
                    let mut resolved = Map::new();
                    for (key, item) in map {
                        if let Some(item) = self.resolve_value(item, &format!("{at}.{key}"))? {
                            resolved.insert(key.clone(), item);
                        }
                    }
                    Ok(Some(Value::Object(resolved)))
                }
            },
            other => Ok(Some(other.clone())),
        }
    }

    fn intrinsic(
        &self,
        function: &str,
        arguments: &Value,
        at: &str,
    ) -> Result<Option<Value>, ResolveError> {
        let text = |value: &Value| -> Result<String, ResolveError> {
            let resolved = self.resolve_value(value, at)?.unwrap_or(Value::Null);
            scalar_text(&resolved, at)
        };
        let list = || {
            arguments
                .as_array()
                .ok_or_else(|| unresolvable(at, "takes a list"))
        };
        match function {
            "Ref" => {
                let name = arguments
                    .as_str()
                    .ok_or_else(|| unresolvable(at, "Ref takes a name"))?;
                if name == NO_VALUE {
                    return Ok(None);
                }
                self.reference(name, at).map(Some)
            }
            "Fn::GetAtt" => {
                let (resource, attribute) = match arguments {
                    Value::String(dotted) => dotted
                        .split_once('.')
                        .map(|(r, a)| (r.to_owned(), a.to_owned()))
                        .ok_or_else(|| unresolvable(at, "Fn::GetAtt takes Resource.Attribute"))?,
                    Value::Array(pair) if pair.len() == 2 => (text(&pair[0])?, text(&pair[1])?),
                    _ => return Err(unresolvable(at, "Fn::GetAtt takes [Resource, Attribute]")),
                };
                self.attribute(&resource, &attribute, at)
                    .map(|v| Some(json!(v)))
            }
            "Fn::Sub" => {
                let (template, variables) = match arguments {
                    Value::String(s) => (s.clone(), Map::new()),
                    Value::Array(pair) if pair.len() == 2 => (
                        text(&pair[0])?,
                        pair[1].as_object().cloned().unwrap_or_default(),
                    ),
                    _ => {
                        return Err(unresolvable(
                            at,
                            "Fn::Sub takes a string or [string, variables]",
                        ));
                    }
                };
                self.substitute(&template, &variables, at)
                    .map(|s| Some(json!(s)))
            }
            "Fn::Join" => match list()?.as_slice() {
                [separator, items] => {
                    let separator = text(separator)?;
                    let items = self.resolve_value(items, at)?.unwrap_or(Value::Null);
                    let parts = items
                        .as_array()
                        .ok_or_else(|| unresolvable(at, "Fn::Join joins a list"))?
                        .iter()
                        .map(|item| scalar_text(item, at))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(Some(json!(parts.join(&separator))))
                }
                _ => Err(unresolvable(at, "Fn::Join takes [separator, list]")),
            },
            "Fn::If" => match list()?.as_slice() {
                [condition, then, otherwise] => {
                    let name = condition
                        .as_str()
                        .ok_or_else(|| unresolvable(at, "Fn::If names a condition"))?;
                    let chosen = if self.condition(name, 0)? {
                        then
                    } else {
                        otherwise
                    };
                    self.resolve_value(chosen, at)
                }
                _ => Err(unresolvable(at, "Fn::If takes [condition, then, else]")),
            },
            "Fn::Select" => match list()?.as_slice() {
                [index, items] => {
                    let index: usize = text(index)?
                        .parse()
                        .map_err(|_| unresolvable(at, "Fn::Select takes a number"))?;
                    let items = self.resolve_value(items, at)?.unwrap_or(Value::Null);
                    let item = items.as_array().and_then(|list| list.get(index)).cloned();
                    item.map(Some)
                        .ok_or_else(|| unresolvable(at, "Fn::Select index out of range"))
                }
                _ => Err(unresolvable(at, "Fn::Select takes [index, list]")),
            },
            "Fn::Split" => match list()?.as_slice() {
                [separator, source] => {
                    let separator = text(separator)?;
                    let parts: Vec<String> =
                        text(source)?.split(&separator).map(str::to_owned).collect();
                    Ok(Some(json!(parts)))
                }
                _ => Err(unresolvable(at, "Fn::Split takes [separator, string]")),
            },
            "Fn::FindInMap" => match list()?.as_slice() {
                [map, top, second] => {
                    let (map, top, second) = (text(map)?, text(top)?, text(second)?);
                    let found = self.template["Mappings"][&map][&top][&second].clone();
                    if found.is_null() {
                        return Err(unresolvable(
                            at,
                            &format!("no {map}.{top}.{second} in Mappings"),
                        ));
                    }
                    Ok(Some(found))
                }
                _ => Err(unresolvable(at, "Fn::FindInMap takes [map, key, key]")),
            },
            other => Err(unresolvable(
                at,
                &format!("the intrinsic {other} is not understood here"),
            )),
        }
    }

    /// `Ref`: a parameter, a pseudo parameter or a resource.
    fn reference(&self, name: &str, at: &str) -> Result<Value, ResolveError> {
        if let Some(value) = self.parameters.get(name) {
            return Ok(value.clone());
        }
        let pseudo = match name {
            "AWS::StackName" => Some(self.stack_name.clone()),
            "AWS::Region" => Some(self.region.clone()),
            "AWS::AccountId" => Some(self.account_id.clone()),
            "AWS::Partition" => Some("aws".to_owned()),
            "AWS::URLSuffix" => Some("amazonaws.com".to_owned()),
            "AWS::StackId" => Some(format!(
                "arn:aws:cloudformation:{}:{}:stack/{}/00000000-0000-4000-8000-000000000000",
                self.region, self.account_id, self.stack_name
            )),
            _ => None,
        };
        if let Some(value) = pseudo {
            return Ok(json!(value));
        }
        self.stand_in(name, at).map(|r| json!(r.reference))
    }

    fn attribute(&self, resource: &str, attribute: &str, at: &str) -> Result<String, ResolveError> {
        self.stand_in(resource, at)?
            .attributes
            .get(attribute)
            .cloned()
            .ok_or_else(|| {
                unresolvable(
                    at,
                    &format!("the stand-in of {resource} has no attribute {attribute}"),
                )
            })
    }

    fn stand_in(&self, resource: &str, at: &str) -> Result<&StandInResource, ResolveError> {
        self.resources.get(resource).ok_or_else(|| {
            let kind = self.template["Resources"][resource]["Type"]
                .as_str()
                .unwrap_or("not a resource or parameter of the template");
            unresolvable(
                at,
                &format!("the stand-in has no counterpart of {resource} ({kind})"),
            )
        })
    }

    /// `Fn::Sub`: `${Name}`, `${Resource.Attribute}` and `${!Literal}`.
    fn substitute(
        &self,
        template: &str,
        variables: &Map<String, Value>,
        at: &str,
    ) -> Result<String, ResolveError> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| unresolvable(at, "an unclosed ${ in Fn::Sub"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = variables.get(name) {
                let value = self.resolve_value(value, at)?.unwrap_or(Value::Null);
                out.push_str(&scalar_text(&value, at)?);
            } else if let Some((resource, attribute)) = name.split_once('.') {
                out.push_str(&self.attribute(resource, attribute, at)?);
            } else {
                out.push_str(&scalar_text(&self.reference(name, at)?, at)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

impl FunctionSpec {
    /// The whole environment of the function's process but `AWS_LAMBDA_RUNTIME_API` (its own runtime API's
    /// address): the template's variables, what Lambda sets for every function of the `provided.al2023` runtime
    /// (AWS's "Defined runtime environment variables"), the stand-in's endpoint and its dummy credentials, and
    /// nothing else.
    pub fn lambda_environment(
        &self,
        region: &str,
        endpoint: &str,
        task_root: &Path,
    ) -> BTreeMap<String, String> {
        let mut environment = self.variables.clone();
        let today = time::OffsetDateTime::now_utc().date();
        let stream = format!(
            "{:04}/{:02}/{:02}/[$LATEST]{:032x}",
            today.year(),
            u8::from(today.month()),
            today.day(),
            rand::random::<u128>()
        );
        let lambda = [
            ("_HANDLER", self.handler.clone()),
            ("AWS_REGION", region.to_owned()),
            ("AWS_DEFAULT_REGION", region.to_owned()),
            ("AWS_LAMBDA_FUNCTION_NAME", self.function_name.clone()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                self.memory_mib.to_string(),
            ),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                self.log_group
                    .clone()
                    .unwrap_or_else(|| format!("/aws/lambda/{}", self.function_name)),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", stream),
            ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
            ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_owned()),
            ("TZ", ":UTC".to_owned()),
            ("LANG", "en_US.UTF-8".to_owned()),
            ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".to_owned()),
            // The role's session; the stand-in takes any key.
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_SESSION_TOKEN", "testing".to_owned()),
            // Not Lambda's: where the stand-in answers for every AWS service.
            ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ];
        environment.extend(lambda.into_iter().map(|(k, v)| (k.to_owned(), v)));
        // With JSON logs, Lambda passes the application log level to the code.
        if let Some(format) = &self.log_format {
            environment.insert("AWS_LAMBDA_LOG_FORMAT".into(), format.clone());
            if let (true, Some(level)) = (format == "JSON", &self.application_log_level) {
                environment.insert("AWS_LAMBDA_LOG_LEVEL".into(), level.clone());
            }
        }
        environment
    }
}

/// A parameter's value as CloudFormation takes it: the override or the default, checked against the declaration.
fn parameter_value(
    name: &str,
    declaration: &Value,
    given: Option<&str>,
) -> Result<Value, ResolveError> {
    let refused = |reason: String| ResolveError::Parameter {
        name: name.to_owned(),
        reason,
    };
    let text = match (given, &declaration["Default"]) {
        (Some(value), _) => value.to_owned(),
        (None, Value::Null) => return Err(refused("no default and no override".into())),
        (None, default) => scalar_text(default, name).map_err(|e| refused(e.to_string()))?,
    };
    let kind = declaration["Type"].as_str().unwrap_or("String");
    if let Some(allowed) = declaration["AllowedValues"].as_array() {
        let allowed: Vec<String> = allowed
            .iter()
            .filter_map(|v| scalar_text(v, name).ok())
            .collect();
        if !allowed.contains(&text) {
            return Err(refused(format!("{text:?} is not one of {allowed:?}")));
        }
    }
    if kind == "Number" {
        let number: f64 = text
            .parse()
            .map_err(|_| refused(format!("{text:?} is not a number")))?;
        let bound = |field: &str| {
            declaration[field]
                .as_f64()
                .or_else(|| declaration[field].as_str()?.parse().ok())
        };
        if bound("MinValue").is_some_and(|min| number < min)
            || bound("MaxValue").is_some_and(|max| number > max)
        {
            return Err(refused(format!("{text} is outside MinValue..MaxValue")));
        }
    }
    Ok(
        if kind == "CommaDelimitedList" || kind.starts_with("List<") {
            json!(text.split(',').map(str::trim).collect::<Vec<_>>())
        } else {
            json!(text)
        },
    )
}

/// The single `{"Fn::X": args}` key of an intrinsic or condition function.
fn single_key(value: &Value) -> Option<(&str, &Value)> {
    let map = value.as_object()?;
    if map.len() != 1 {
        return None;
    }
    map.iter().next().map(|(k, v)| (k.as_str(), v))
}

fn is_intrinsic(key: &str) -> bool {
    key == "Ref" || key == "Condition" || key.starts_with("Fn::")
}

/// A scalar as the string CloudFormation passes (numbers and booleans become their text).
fn scalar_text(value: &Value, at: &str) -> Result<String, ResolveError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(unresolvable(at, &format!("{other} is not a string"))),
    }
}

fn unresolvable(at: &str, reason: &str) -> ResolveError {
    ResolveError::Unresolvable {
        at: at.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests;
