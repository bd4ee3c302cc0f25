//! The local AWS stand-in, as tests see it: a moto server on loopback (started by `scripts/with-moto`, one per
//! test run) and, per test, private copies of the tables and queues that `template.yaml` declares.
//!
//! Reading the template instead of repeating its key schemas keeps tests and deployment in step: a table or index
//! added to the template is created here too.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_yaml_ng::Value;

/// Errors of the harness: all of them mean the test environment, not the code under test, is broken.
#[derive(Debug, thiserror::Error)]
pub enum StandInError {
    #[error(
        "AWS_ENDPOINT_URL is not set: run the tests through `scripts/test` (it starts the moto server on loopback)"
    )]
    NoEndpoint,
    #[error("AWS_ENDPOINT_URL={0} is not a loopback address: tests never talk to real AWS")]
    NotLoopback(String),
    #[error("template.yaml: {0}")]
    Template(String),
    #[error("creating {resource}: {source}")]
    Create {
        resource: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A table or queue declared in `template.yaml`.
#[derive(Debug, Clone)]
pub struct DeclaredQueue {
    pub url: String,
    pub arn: String,
}

/// What tests read back of a stored commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCommit {
    pub removed_at: Option<String>,
    pub imported_at: String,
}

/// AWS SDK clients pointed at the moto server, plus this test's own copies of the template's resources.
#[derive(Debug)]
pub struct AwsStandIn {
    pub config: SdkConfig,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    tables: BTreeMap<String, String>,
    queues: BTreeMap<String, DeclaredQueue>,
    /// Logical ids of the tables that already existed and were reused ([`AwsStandIn::provision_reusing`]).
    reused_tables: Vec<String>,
}

/// Whether a table that already exists is an error (a test's private copy must be new) or is taken as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Existing {
    Fail,
    Reuse,
}

/// Makes resource names unique per test within one test process; the process id separates test binaries.
static NEXT_STAND_IN: AtomicU32 = AtomicU32::new(0);

/// The loopback endpoint of the moto server, checked.
pub fn endpoint() -> Result<String, StandInError> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").map_err(|_| StandInError::NoEndpoint)?;
    let host = url::Url::parse(&endpoint)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    if host != "127.0.0.1" && host != "localhost" && host != "[::1]" {
        return Err(StandInError::NotLoopback(endpoint));
    }
    Ok(endpoint)
}

/// SDK configuration for the stand-in: the environment that `scripts/with-moto` set (endpoint, dummy keys, region).
pub async fn sdk_config() -> Result<SdkConfig, StandInError> {
    endpoint()?;
    Ok(aws_config::defaults(BehaviorVersion::latest()).load().await)
}

/// The path of the project's `template.yaml`.
pub fn template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml")
}

impl AwsStandIn {
    /// Creates private copies of every DynamoDB table and SQS queue in `template.yaml`.
    pub async fn provision() -> Result<Self, StandInError> {
        let prefix = format!(
            "t{}-{}",
            std::process::id(),
            NEXT_STAND_IN.fetch_add(1, Ordering::Relaxed)
        );
        Self::provision_named(&prefix).await
    }

    /// Creates every DynamoDB table and SQS queue in `template.yaml`, named `<prefix>-<logical id>`.
    pub async fn provision_named(prefix: &str) -> Result<Self, StandInError> {
        Self::provision_all(prefix, Existing::Fail).await
    }

    /// Like [`AwsStandIn::provision_named`], but a table or queue of that name that an earlier process created
    /// (a named local run on a stand-in that outlives it) is reused as it is, items included; a reused table must
    /// have the template's indexes. [`AwsStandIn::reused_tables`] tells which were.
    pub async fn provision_reusing(prefix: &str) -> Result<Self, StandInError> {
        Self::provision_all(prefix, Existing::Reuse).await
    }

    async fn provision_all(prefix: &str, existing: Existing) -> Result<Self, StandInError> {
        let mut stand_in = Self::provision_tables_with(prefix, existing).await?;
        let template = Template::load(&template_path())?;
        // Queues that others redrive into must exist first: create in dependency order.
        let mut pending: Vec<(&str, &Value)> = template.resources_of_type("AWS::SQS::Queue");
        while !pending.is_empty() {
            let before = pending.len();
            let mut still_pending = Vec::new();
            for (logical_id, properties) in pending {
                match template.resolve(properties, &stand_in.queues) {
                    Ok(resolved) => {
                        let name = format!("{prefix}-{logical_id}");
                        let queue = stand_in.create_queue(&name, &resolved).await?;
                        stand_in.queues.insert(logical_id.to_owned(), queue);
                    }
                    Err(Unresolved) => still_pending.push((logical_id, properties)),
                }
            }
            if still_pending.len() == before {
                return Err(StandInError::Template(
                    "queue references that cannot be resolved".into(),
                ));
            }
            pending = still_pending;
        }
        Ok(stand_in)
    }

    /// Creates only the DynamoDB tables of `template.yaml`, named `<prefix>-<logical id>`: for a DynamoDB stand-in
    /// that serves nothing else (the `commits.list` benchmark on dynalite).
    pub async fn provision_tables(prefix: &str) -> Result<Self, StandInError> {
        Self::provision_tables_with(prefix, Existing::Fail).await
    }

    async fn provision_tables_with(prefix: &str, existing: Existing) -> Result<Self, StandInError> {
        let config = sdk_config().await?;
        let template = Template::load(&template_path())?;
        let mut stand_in = AwsStandIn {
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            secrets: aws_sdk_secretsmanager::Client::new(&config),
            config,
            tables: BTreeMap::new(),
            queues: BTreeMap::new(),
            reused_tables: Vec::new(),
        };
        for (logical_id, properties) in template.resources_of_type("AWS::DynamoDB::Table") {
            let name = format!("{prefix}-{logical_id}");
            if stand_in.create_table(&name, properties, existing).await? {
                stand_in.reused_tables.push(logical_id.to_owned());
            }
            stand_in.tables.insert(logical_id.to_owned(), name);
        }
        Ok(stand_in)
    }

    /// Logical ids of the tables an earlier process had created and this one reused.
    pub fn reused_tables(&self) -> &[String] {
        &self.reused_tables
    }

    /// An S3 client for the stand-in: path-style, as the exporter's own off AWS (a server on loopback has no
    /// bucket host names).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// The name of this test's copy of a table, by its logical id in the template.
    pub fn table(&self, logical_id: &str) -> &str {
        self.tables
            .get(logical_id)
            .unwrap_or_else(|| panic!("template.yaml declares no table {logical_id}"))
    }

    /// This test's copy of a queue, by its logical id in the template.
    pub fn queue(&self, logical_id: &str) -> &DeclaredQueue {
        self.queues
            .get(logical_id)
            .unwrap_or_else(|| panic!("template.yaml declares no queue {logical_id}"))
    }

    /// Receives up to ten messages from one of this test's queues and deletes them, as a consumer that handled
    /// them would. An empty result means the queue had nothing visible.
    pub async fn take_messages(&self, logical_id: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let url = &self.queue(logical_id).url;
        let messages = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap_or_else(|e| panic!("ReceiveMessage on {logical_id}: {e:?}"))
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            return messages;
        }
        let deletes = messages
            .iter()
            .enumerate()
            .map(|(i, message)| {
                aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(message.receipt_handle.clone())
                    .build()
                    .expect("id and receipt handle are set")
            })
            .collect();
        let deleted = self
            .sqs
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(deletes))
            .send()
            .await
            .unwrap_or_else(|e| panic!("DeleteMessageBatch on {logical_id}: {e:?}"));
        assert!(deleted.failed().is_empty(), "{:?}", deleted.failed());
        messages
    }

    /// One item of this stand-in's state table (strongly consistent; empty when there is none).
    pub async fn state_item(
        &self,
        pk: &str,
        sk: &str,
    ) -> HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
        use aws_sdk_dynamodb::types::AttributeValue;
        self.dynamodb
            .get_item()
            .table_name(self.table("StateTable"))
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetItem on the state table: {e:?}"))
            .item
            .unwrap_or_default()
    }

    /// Every item of one project in this stand-in's commits table, by sha: what tests and the local run compare
    /// with git.
    pub async fn stored_commits(
        &self,
        key: &shared::kernel::project_key::ProjectKey,
    ) -> BTreeMap<String, StoredCommit> {
        let mut found = BTreeMap::new();
        let mut start = None;
        // Bounded: each page covers up to 1 MB of items.
        for _ in 0..100_000 {
            let page = self
                .dynamodb
                .query()
                .table_name(self.table("CommitsTable"))
                .key_condition_expression("project_key = :p")
                .expression_attribute_values(
                    ":p",
                    aws_sdk_dynamodb::types::AttributeValue::S(key.partition()),
                )
                .projection_expression("sha, removed_at, imported_at")
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap_or_else(|e| panic!("Query of the commits table: {e:?}"));
            for item in page.items() {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
                if let Some(sha) = text("sha") {
                    let commit = StoredCommit {
                        removed_at: text("removed_at"),
                        imported_at: text("imported_at").unwrap_or_default(),
                    };
                    found.insert(sha, commit);
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        found
    }

    /// Logical ids of every table and queue created, for assertions about the template itself.
    pub fn declared(&self) -> (Vec<&str>, Vec<&str>) {
        (
            self.tables.keys().map(String::as_str).collect(),
            self.queues.keys().map(String::as_str).collect(),
        )
    }

    /// Deletes this test's tables and queues, so that moto stays small and fast for the rest of the run.
    pub async fn teardown(self) {
        for name in self.tables.values() {
            let _ = self.dynamodb.delete_table().table_name(name).send().await;
        }
        for queue in self.queues.values() {
            let _ = self.sqs.delete_queue().queue_url(&queue.url).send().await;
        }
    }

    /// Creates the table; true when it already existed and `existing` says to reuse it.
    async fn create_table(
        &self,
        name: &str,
        properties: &Value,
        existing: Existing,
    ) -> Result<bool, StandInError> {
        let create_error =
            |source: Box<dyn std::error::Error + Send + Sync>| StandInError::Create {
                resource: name.to_owned(),
                source,
            };
        let mut request = self
            .dynamodb
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_schema(&properties["KeySchema"])?));
        for definition in seq(&properties["AttributeDefinitions"])? {
            request = request.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(str_of(&definition["AttributeName"])?)
                    .attribute_type(ScalarAttributeType::from(str_of(
                        &definition["AttributeType"],
                    )?))
                    .build()
                    .map_err(|e| create_error(e.into()))?,
            );
        }
        if let Value::Sequence(indexes) = &properties["GlobalSecondaryIndexes"] {
            for index in indexes {
                let projection = Projection::builder()
                    .projection_type(ProjectionType::from(str_of(
                        &index["Projection"]["ProjectionType"],
                    )?))
                    .build();
                request = request.global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name(str_of(&index["IndexName"])?)
                        .set_key_schema(Some(key_schema(&index["KeySchema"])?))
                        .projection(projection)
                        .build()
                        .map_err(|e| create_error(e.into()))?,
                );
            }
        }
        match request.send().await {
            Ok(_) => Ok(false),
            Err(error)
                if existing == Existing::Reuse
                    && error
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                self.check_indexes(name, properties).await?;
                Ok(true)
            }
            Err(error) => Err(create_error(error.into())),
        }
    }

    /// A reused table has the indexes the template declares now (an earlier template's table would fail queries
    /// in ways that look like bugs).
    async fn check_indexes(&self, name: &str, properties: &Value) -> Result<(), StandInError> {
        let mut declared: Vec<&str> = match &properties["GlobalSecondaryIndexes"] {
            Value::Sequence(indexes) => indexes
                .iter()
                .map(|index| str_of(&index["IndexName"]))
                .collect::<Result<_, _>>()?,
            _ => Vec::new(),
        };
        let table = self
            .dynamodb
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| StandInError::Create {
                resource: name.to_owned(),
                source: e.into(),
            })?
            .table;
        let mut found: Vec<&str> = table
            .as_ref()
            .map(|t| t.global_secondary_indexes())
            .unwrap_or_default()
            .iter()
            .filter_map(|index| index.index_name())
            .collect();
        declared.sort_unstable();
        found.sort_unstable();
        if declared != found {
            return Err(StandInError::Template(format!(
                "the existing table {name} has the indexes {found:?}, template.yaml declares {declared:?}: it was \
                 created from an older template; delete it or use another run name"
            )));
        }
        Ok(())
    }

    async fn create_queue(
        &self,
        name: &str,
        properties: &Value,
    ) -> Result<DeclaredQueue, StandInError> {
        let create_error =
            |source: Box<dyn std::error::Error + Send + Sync>| StandInError::Create {
                resource: name.to_owned(),
                source,
            };
        let mut request = self.sqs.create_queue().queue_name(name);
        if let Some(timeout) = scalar(&properties["VisibilityTimeout"]) {
            request = request.attributes(QueueAttributeName::VisibilityTimeout, timeout);
        }
        if let Some(retention) = scalar(&properties["MessageRetentionPeriod"]) {
            request = request.attributes(QueueAttributeName::MessageRetentionPeriod, retention);
        }
        if let Value::Mapping(redrive) = &properties["RedrivePolicy"] {
            let policy = serde_json::json!({
                "deadLetterTargetArn": scalar(&redrive[&Value::from("deadLetterTargetArn")]),
                "maxReceiveCount": scalar(&redrive[&Value::from("maxReceiveCount")]),
            });
            request = request.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
        }
        let url = request
            .send()
            .await
            .map_err(|e| create_error(e.into()))?
            .queue_url
            .ok_or_else(|| create_error("moto returned no queue url".into()))?;
        let arn = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| create_error(e.into()))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| create_error("moto returned no queue arn".into()))?;
        Ok(DeclaredQueue { url, arn })
    }
}

/// The parts of a CloudFormation template the stand-in needs: resources and parameter defaults.
struct Template {
    root: Value,
}

/// A `!GetAtt` names a resource that does not exist yet.
struct Unresolved;

impl Template {
    fn load(path: &Path) -> Result<Self, StandInError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| StandInError::Template(format!("{}: {e}", path.display())))?;
        let root = serde_yaml_ng::from_str(&text)
            .map_err(|e| StandInError::Template(format!("{}: {e}", path.display())))?;
        Ok(Template { root })
    }

    fn resources_of_type(&self, kind: &str) -> Vec<(&str, &Value)> {
        let Value::Mapping(resources) = &self.root["Resources"] else {
            return Vec::new();
        };
        resources
            .iter()
            .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
            .filter_map(|(id, resource)| Some((id.as_str()?, &resource["Properties"])))
            .collect()
    }

    /// Replaces `!Ref Parameter` with the parameter's default and `!GetAtt Queue.Arn` with a created queue's ARN.
    fn resolve(
        &self,
        value: &Value,
        queues: &BTreeMap<String, DeclaredQueue>,
    ) -> Result<Value, Unresolved> {
        Ok(match value {
            Value::Tagged(tagged) if tagged.tag == "Ref" => {
                let name = tagged.value.as_str().unwrap_or_default();
                self.root["Parameters"][name]["Default"].clone()
            }
            Value::Tagged(tagged) if tagged.tag == "GetAtt" => {
                let target = tagged.value.as_str().unwrap_or_default();
                let logical_id = target.strip_suffix(".Arn").unwrap_or(target);
                Value::from(queues.get(logical_id).ok_or(Unresolved)?.arn.clone())
            }
            Value::Mapping(map) => {
                let mut resolved = serde_yaml_ng::Mapping::new();
                for (key, item) in map {
                    resolved.insert(key.clone(), self.resolve(item, queues)?);
                }
                Value::Mapping(resolved)
            }
            other => other.clone(),
        })
    }
}

fn seq(value: &Value) -> Result<&Vec<Value>, StandInError> {
    value
        .as_sequence()
        .ok_or_else(|| StandInError::Template(format!("expected a list, found {value:?}")))
}

fn str_of(value: &Value) -> Result<&str, StandInError> {
    value
        .as_str()
        .ok_or_else(|| StandInError::Template(format!("expected a string, found {value:?}")))
}

/// A scalar as the string the SQS API wants.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn key_schema(value: &Value) -> Result<Vec<KeySchemaElement>, StandInError> {
    seq(value)?
        .iter()
        .map(|element| {
            KeySchemaElement::builder()
                .attribute_name(str_of(&element["AttributeName"])?)
                .key_type(KeyType::from(str_of(&element["KeyType"])?))
                .build()
                .map_err(|e| StandInError::Template(e.to_string()))
        })
        .collect()
}
