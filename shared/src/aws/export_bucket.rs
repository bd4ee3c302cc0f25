//! The export's [`ObjectSink`] on S3: one `PutObject` per file, in the stack's export bucket (encrypted by the
//! bucket's default; the name says where it belongs).

use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;

use crate::export::ObjectSink;
use crate::kernel::store::StoreError;

#[derive(Debug, Clone)]
pub struct S3ExportBucket {
    client: Client,
    bucket: String,
}

impl S3ExportBucket {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3ExportBucket {
            client,
            bucket: bucket.into(),
        }
    }
}

impl ObjectSink for S3ExportBucket {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type(key))
            .body(ByteStream::from(body))
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                StoreError::unavailable("PutObject", format!("{key}: {}", DisplayErrorContext(&e)))
            })
    }
}

/// The files are Parquet; the run record is JSON.
fn content_type(key: &str) -> &'static str {
    if key.ends_with(".json") {
        "application/json"
    } else {
        "application/vnd.apache.parquet"
    }
}
