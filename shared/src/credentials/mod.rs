//! The credentials API's domain: how a GitLab token is verified, stored (token in the secret vault, metadata in
//! the credential store) and shown, and the Lambda handler that maps API Gateway requests onto it.
//!
//! - [`model`]: identifiers, the stored record, the view;
//! - [`ports`]: the [`CredentialStore`] and [`SecretVault`] traits (AWS adapters in `crate::aws`);
//! - [`verify`]: the bounded GitLab verification;
//! - [`service`]: the use cases;
//! - [`request`]: body parsing and field checks;
//! - [`handler`]: routing, authorisation and replies;
//! - [`refusal`]: what GitLab refusing a stored credential's token means (for the scheduler and the worker).

pub mod handler;
pub mod model;
pub mod ports;
pub mod refusal;
pub mod request;
pub mod service;
pub mod verify;

pub use handler::{CredentialsApi, Route, handler};
pub use model::{ConnectionId, CredentialId, CredentialRecord, CredentialStatus};
pub use ports::{CredentialStatusStore, CredentialStore, SecretVault, VaultError};
pub use refusal::{Refusal, TokenCheck};
pub use service::{CreateInput, Credentials, CredentialsError, UpdateInput};
pub use verify::{GitLabVerifier, Verified, Verifier, VerifyError};
