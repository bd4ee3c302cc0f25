//! The credentials API's domain: how a GitLab token is verified, stored (token in the secret vault, metadata in
//! the credential store) and shown. The Lambda handler that maps API Gateway requests onto it is
//! `crate::entrypoints::credentials_api`.
//!
//! - [`model`]: identifiers, the stored record, the view;
//! - [`ports`]: the [`CredentialStore`] and [`SecretVault`] traits (AWS adapters in `crate::aws`);
//! - [`verify`]: the bounded GitLab verification;
//! - [`service`]: the use cases;
//! - [`refusal`]: what GitLab refusing a stored credential's token means (for the scheduler and the worker).

pub mod model;
pub mod ports;
pub mod refusal;
pub mod service;
pub mod verify;

pub use model::{CredentialRecord, CredentialStatus};
pub use ports::{CredentialStatusStore, CredentialStore};
pub use refusal::{Refusal, TokenCheck};
pub use service::{CreateInput, Credentials, CredentialsError, UpdateInput};
pub use verify::{GitLabVerifier, Verified, Verifier, VerifyError};
